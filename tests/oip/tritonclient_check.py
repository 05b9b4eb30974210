"""The predict function's Open Inference Protocol routes, called by a real OIP client:
tritonclient.http (NVIDIA's KServe v2 REST client), pinned in requirements.txt.

Run by functions/predict/tests/it/oip_client.rs, which serves the real predict binary behind
an HTTP front on loopback. Argument: a JSON list of
    {"url": "127.0.0.1:PORT", "model": "<MODEL_NAME>", "rows": [{"<feature>": value, ...}]}
For each model: liveness, readiness, server and model metadata, then inferences with one
InferInput per feature (FP32 for numbers, BYTES for strings), compared with POST /predict
on the same rows through the same front (within 1e-6; the labels must be equal): in JSON,
with the client's defaults (binary tensor data both ways), and through the versioned
routes. Where the metadata lists `contributions` (the model explains), inferences with
"parameters": {"explain": true}, in JSON and in binary: the tensor's shape is the
metadata's, its values are POST /predict's explanations (with "explain": true) and they add
up with the base values to the answer in their space. Prints one JSON line per model; exits
non-zero on the first mismatch.
"""

import json
import sys
import urllib.request

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

TOLERANCE = 1e-6


def fail(message):
    raise SystemExit(f"tritonclient check failed: {message}")


def post_predict(url, rows, explain=False):
    body = {"instances": rows, "explain": True} if explain else {"instances": rows}
    request = urllib.request.Request(
        f"http://{url}/predict",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def plain(array):
    """`array` with its bytes items decoded to str."""
    return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(
        array
    )


def features(metadata):
    """(name, datatype) of every feature: the model's inputs, or a matrix input's columns."""
    inputs = metadata["inputs"]
    columns = inputs[0].get("parameters", {}).get("feature_names") if len(inputs) == 1 else None
    if columns:
        return [(name, inputs[0]["datatype"]) for name in columns]
    return [(t["name"], t["datatype"]) for t in inputs]


def inputs_for(metadata, rows, binary_data=False):
    """One [N] InferInput per feature."""
    inputs = []
    for name, datatype in features(metadata):
        values = [row[name] for row in rows]
        if datatype == "BYTES":
            array = np.array(values, dtype=np.object_)
            datatype = "BYTES"
        else:
            # What a client holding numbers sends: FP32, whatever the feature's own type.
            array = np.array(values, dtype=np.float32)
            datatype = "FP32"
        one = httpclient.InferInput(name, [len(rows)], datatype)
        one.set_data_from_numpy(array, binary_data=binary_data)
        inputs.append(one)
    return inputs


def check(url, model, rows):
    client = httpclient.InferenceServerClient(url=url, network_timeout=30.0)
    if not client.is_server_live():
        fail("is_server_live is False")
    if not client.is_server_ready():
        fail("is_server_ready is False")
    server = client.get_server_metadata()
    if server.get("name") != "predict" or server.get("extensions") != ["binary_tensor_data"]:
        fail(f"server metadata {server}")
    if not client.is_model_ready(model):
        fail(f"is_model_ready({model!r}) is False")
    if client.is_model_ready(model + "-absent"):
        fail("an absent model is ready")

    metadata = client.get_model_metadata(model)
    if metadata["name"] != model or metadata["platform"] != "onnx":
        fail(f"model metadata {metadata}")
    names = {name for name, _ in features(metadata)}
    if names != set(rows[0]):
        fail(f"features {sorted(names)} are not the rows' features {sorted(rows[0])}")
    # `contributions` is answered only when asked for: checked on its own below.
    outputs = [o["name"] for o in metadata["outputs"] if o["name"] != "contributions"]
    explained = next((o for o in metadata["outputs"] if o["name"] == "contributions"), None)

    requested = [httpclient.InferRequestedOutput(o, binary_data=False) for o in outputs]
    result = client.infer(
        model, inputs_for(metadata, rows), outputs=requested, request_id="tritonclient-1"
    )
    response = result.get_response()
    if response.get("id") != "tritonclient-1" or response.get("model_name") != model:
        fail(f"response {response}")
    expected = post_predict(url, rows)
    if response.get("model_version") != expected["model_version"]:
        fail(f"model_version {response.get('model_version')} != {expected['model_version']}")
    predictions = expected["predictions"]
    predict = result.as_numpy("predict")
    forms = ["one tensor per feature"]
    matrix = metadata["inputs"][0] if len(metadata["inputs"]) == 1 else None
    if matrix and matrix["shape"][1] > 1:
        # The model's own [N, F] input, as the metadata describes it: the same answer.
        columns = matrix["parameters"]["feature_names"]
        array = np.array([[row[c] for c in columns] for row in rows], dtype=np.float32)
        whole = httpclient.InferInput(matrix["name"], list(array.shape), matrix["datatype"])
        whole.set_data_from_numpy(array, binary_data=False)
        again = client.infer(model, [whole], outputs=requested).as_numpy("predict")
        if not np.array_equal(again, predict):
            fail("the [N, F] matrix and the per-feature tensors answer differently")
        forms.append(f"the [N, {array.shape[1]}] matrix `{matrix['name']}`")
    if predict.shape != (len(rows), 1):
        fail(f"predict has shape {predict.shape}")

    if outputs == ["predict"]:
        got = predict[:, 0].astype(np.float64)
        want = np.array(predictions, dtype=np.float64)
        worst = float(np.max(np.abs(got - want)))
        if worst > TOLERANCE:
            fail(f"scores differ from POST /predict by up to {worst}")
    else:
        classes = next(o for o in metadata["outputs"] if o["name"] == "predict_proba")[
            "parameters"
        ]["classes"]
        proba = result.as_numpy("predict_proba")
        if proba.shape != (len(rows), len(classes)):
            fail(f"predict_proba has shape {proba.shape}")
        worst = 0.0
        for i, answer in enumerate(predictions):
            label = predict[i, 0]
            label = label.decode() if isinstance(label, bytes) else label
            if label != answer["label"]:
                fail(f"row {i}: label {label!r} != {answer['label']!r}")
            for c, cls in enumerate(classes):
                diff = abs(float(proba[i, c]) - answer["probabilities"][str(cls)])
                worst = max(worst, diff)
                if diff > TOLERANCE:
                    fail(f"row {i}: P({cls}) differs from POST /predict by {diff}")

    # The client's defaults: binary input tensors, and (no outputs named) every output in
    # binary. The same answers as JSON.
    forms.append("binary tensor data")
    binary = client.infer(model, inputs_for(metadata, rows, binary_data=True))
    for name in outputs:
        # tritonclient gives BYTES items as str from JSON and as bytes from binary data.
        if not np.array_equal(plain(binary.as_numpy(name)), plain(result.as_numpy(name))):
            fail(f"{name} in binary differs from {name} in JSON")
    if binary.get_output("predict").get("parameters", {}).get("binary_data_size") is None:
        fail(f"predict did not come back as binary: {binary.get_response()}")

    if explained is not None:
        forms.append("explained")
        check_contributions(client, url, model, metadata, explained, rows)

    # The versioned routes, with the version the function reports.
    version = response["model_version"]
    if client.get_model_metadata(model, model_version=version) != metadata:
        fail("the versioned metadata differs")
    if not client.is_model_ready(model, model_version=version):
        fail(f"version {version} is not ready")
    versioned = client.infer(model, inputs_for(metadata, rows), model_version=version)
    if not np.array_equal(plain(versioned.as_numpy("predict")), plain(predict)):
        fail("the versioned infer answers differently")
    try:
        client.infer(model, inputs_for(metadata, rows), model_version="no-such-version")
        fail("an unknown version was answered")
    except InferenceServerException as e:
        if "not found" not in str(e):
            fail(f"unexpected error for an unknown version: {e}")
    # An unknown model is the server's error, with its message.
    try:
        client.get_model_metadata(model + "-absent")
        fail("metadata of an absent model was answered")
    except InferenceServerException as e:
        if "not found" not in str(e):
            fail(f"unexpected error for an absent model: {e}")

    client.close()
    return {
        "model": model,
        "rows": len(rows),
        "inputs": forms,
        "outputs": outputs,
        "explained": explained is not None,
        "max_abs_diff": worst,
    }


def check_contributions(client, url, model, metadata, explained, rows):
    """`contributions` in JSON and in binary: the metadata's shape, POST /predict's values,
    and base + sum = the answer in the explanation's space."""
    layout = explained["parameters"]
    features, base = layout["feature_names"], layout["base_values"]
    classes = layout.get("classes")
    shape = (len(rows),) + tuple(explained["shape"][1:])
    answers = {}
    for binary_data in (False, True):
        asked = [
            httpclient.InferRequestedOutput(name, binary_data=binary_data)
            for name in ("predict", "predict_proba", "contributions")
            if any(o["name"] == name for o in metadata["outputs"])
        ]
        result = client.infer(
            model, inputs_for(metadata, rows), outputs=asked, parameters={"explain": True}
        )
        got = result.as_numpy("contributions")
        if got is None or got.dtype != np.float64 or got.shape != shape:
            fail(f"contributions: {None if got is None else (got.dtype, got.shape)}, not {shape}")
        answers[binary_data] = (got, result)
    got, result = answers[False]
    if not np.array_equal(got, answers[True][0]):
        fail("contributions in binary differ from contributions in JSON")
    by_target = got.reshape(len(rows), len(base), len(features))
    explanations = [p["explanation"] for p in post_predict(url, rows, explain=True)["predictions"]]
    for i, explanation in enumerate(explanations):
        if explanation["space"] != layout["space"]:
            fail(f"row {i}: space {explanation['space']} != {layout['space']}")
        per_target = (
            [explanation["contributions"]]
            if classes is None
            else [explanation["contributions"][str(c)] for c in classes]
        )
        for t, contributions in enumerate(per_target):
            want = np.array([contributions[f] for f in features])
            if not np.array_equal(by_target[i, t], want):
                fail(f"row {i}, target {t}: the tensor differs from POST /predict's explanation")
    # Local accuracy, in the explanation's space.
    totals = by_target.sum(axis=2) + np.array(base)
    if classes is None:
        answer = result.as_numpy("predict")[:, :1].astype(np.float64)
    else:
        order = next(o for o in metadata["outputs"] if o["name"] == "predict_proba")
        columns = [order["parameters"]["classes"].index(c) for c in classes]
        answer = result.as_numpy("predict_proba")[:, columns].astype(np.float64)
        if layout["space"] == "margin" and len(order["parameters"]["classes"]) == 2:
            totals = 1.0 / (1.0 + np.exp(-totals))
        elif layout["space"] == "margin":
            exp = np.exp(totals - totals.max(axis=1, keepdims=True))
            totals = exp / exp.sum(axis=1, keepdims=True)
    worst = float(np.max(np.abs(totals - answer) / np.maximum(1.0, np.abs(answer))))
    if worst > 1e-5:
        fail(f"base + contributions differ from the answer by up to {worst} (relative)")


def main():
    for target in json.loads(sys.argv[1]):
        print(json.dumps(check(target["url"], target["model"], target["rows"])), flush=True)


if __name__ == "__main__":
    main()
