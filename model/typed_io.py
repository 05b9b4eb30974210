"""Shared by the typed fixtures (libs/scoring/tests/fixtures/typed/): rows as JSON
objects with nulls for missing values, onnxruntime's outputs as the expected
answers, and the checks against the training library's own predictions.

One fixture = `<name>.onnx` + `<name>.json`:

    {"name", "description", "kind": "regressor"|"classifier", "zipmap" (classifiers),
     "layout": "per_feature"|"matrix", "features": [{"name", "type"}], "ops",
     "handles_missing", "rows": [{feature: value|null}], "expected": {...}}

Numbers in `rows` are exact float32 values for float features (so parsing the
JSON number to f32 gives the value onnxruntime saw), float64 for double
features, integers for int64. Feeding: null number -> NaN, null string -> "".
"""

import json

import numpy as np
import onnx
import pandas as pd

from fixture_io import OUT, TEST_ROWS, session

TYPED = OUT / "typed"
INDEX = []
TYPED_REFUSALS = []

NP_TYPES = {"float": np.float32, "double": np.float64, "int64": np.int64}


def op_types_sorted(model):
    return sorted({n.op_type for n in model.graph.node})


def ops_with_domains(model):
    return sorted({(n.domain or "ai.onnx", n.op_type) for n in model.graph.node})


def feature_types(df, int_cols=(), double=False):
    """[{name, type}] for a DataFrame: object columns are strings."""
    out = []
    for c in df.columns:
        if df[c].dtype == object:
            t = "string"
        elif c in int_cols:
            t = "int64"
        else:
            t = "double" if double else "float"
        out.append({"name": c, "type": t})
    return out


def json_value(v, t):
    if t == "string":
        return None if v == "" or v is None else str(v)
    if t == "int64":
        return int(v)
    if v is None or np.isnan(v):
        return None
    return float(NP_TYPES[t](v))


def rows_json(df, features):
    cols = [(f["name"], f["type"]) for f in features]
    return [{n: json_value(r[n], t) for n, t in cols} for r in df.to_dict("records")]


def feeds(model, features, rows, layout):
    """onnxruntime inputs from the JSON rows (the same path the Rust side takes)."""
    inputs = [i.name for i in model.graph.input]
    if layout == "matrix":
        (t,) = {f["type"] for f in features}
        x = np.array(
            [[np.nan if r[f["name"]] is None else r[f["name"]] for f in features] for r in rows],
            dtype=NP_TYPES[t],
        )
        return {inputs[0]: x}
    assert inputs == [f["name"] for f in features], (inputs, features)
    out = {}
    for f in features:
        col = [r[f["name"]] for r in rows]
        if f["type"] == "string":
            arr = np.array(["" if v is None else v for v in col], dtype=object)
        elif f["type"] == "int64":
            arr = np.array(col, dtype=np.int64)
        else:
            arr = np.array([np.nan if v is None else v for v in col], dtype=NP_TYPES[f["type"]])
        out[f["name"]] = arr.reshape(-1, 1)
    return out


def frame_from_rows(features, rows):
    """The rows as the DataFrame the library saw (NaN / "" for missing)."""
    data = {}
    for f in features:
        col = [r[f["name"]] for r in rows]
        if f["type"] == "string":
            data[f["name"]] = np.array(["" if v is None else v for v in col], dtype=object)
        elif f["type"] == "int64":
            data[f["name"]] = np.array(col, dtype=np.int64)
        else:
            data[f["name"]] = np.array([np.nan if v is None else v for v in col], dtype=NP_TYPES[f["type"]])
    return pd.DataFrame(data)


def py(v):
    return v.item() if isinstance(v, np.generic) else v


def run_classifier(model, fd, classes):
    outs = session(model).run(None, fd)
    labels, proba = outs[0], outs[1]
    if isinstance(proba, list):  # ZipMap: a list of {class: p}
        assert all(set(d) == set(classes) for d in proba), (list(proba[0]), classes)
        proba = np.array([[d[c] for c in classes] for d in proba], dtype=np.float32)
    return np.asarray(labels).ravel(), np.asarray(proba)


def agreement(name, d, tol, max_off):
    """Rows whose output differs from the library's by more than tol: at most
    max_off of them (float32 thresholds vs float64 ones), and said in the description."""
    off = int((d > tol).sum())
    print(f"{name:<28} max |ort - lib| = {d.max():.2e}; rows over {tol:g}: {off}")
    assert off <= max_off * TEST_ROWS, f"{name}: {off} rows differ from the library by > {tol}"
    if off == 0:
        return f" onnxruntime matches the library within {tol:g} on every row."
    return (
        f" onnxruntime matches the library within {tol:g} on {TEST_ROWS - off} of {TEST_ROWS} rows; "
        f"the rest (max diff {d.max():.3g}) cross a split or threshold in float32."
    )


def canonical(model, name):
    """Byte-stable across runs: the converters list opset imports in set order (string
    hashing is salted per process) and onnxmltools names the graph with a uuid."""
    imports = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(imports)
    model.graph.name = name
    return model


def write_typed(
    name,
    model,
    description,
    kind,
    features,
    rows,
    layout,
    handles_missing=(),
    classes=None,
    zipmap=None,
    reference=None,
    tol=1e-4,
    max_off=0.01,
):
    """Runs onnxruntime on the rows, checks it against `reference` (the library's
    own predictions: scores, or (labels, probabilities)), writes the pair."""
    assert len(rows) == TEST_ROWS, (name, len(rows))
    model = canonical(model, name)
    onnx.checker.check_model(model, full_check=True)
    fd = feeds(model, features, rows, layout)
    doc = {
        "name": name,
        "description": description,
        "kind": kind,
    }
    if kind == "classifier":
        # From the graph: onnxmltools' XGBoost converter has no ZipMap by default.
        has_zipmap = any(n.op_type == "ZipMap" for n in model.graph.node)
        assert zipmap is None or zipmap == has_zipmap, (name, zipmap, has_zipmap)
        doc["zipmap"] = has_zipmap
    doc.update(
        layout=layout,
        features=features,
        ops=op_types_sorted(model),
        handles_missing=list(handles_missing),
        rows=rows,
    )
    if kind == "regressor":
        (y,) = session(model).run(None, fd)
        y = np.asarray(y).reshape(TEST_ROWS, -1)
        assert y.shape[1] == 1 and np.isfinite(y).all(), name
        if reference is not None:
            d = np.abs(y.ravel() - np.asarray(reference, dtype=np.float64).ravel())
            doc["description"] += agreement(name, d, tol, max_off)
        doc["expected"] = {"scores": [float(v) for v in y.ravel()]}
    else:
        classes = [py(c) for c in classes]
        labels, proba = run_classifier(model, fd, classes)
        assert proba.shape == (TEST_ROWS, len(classes)), (name, proba.shape)
        assert np.isfinite(proba).all(), name
        labels = [py(v) for v in labels]
        assert all(type(v) is type(classes[0]) for v in labels), name
        if reference is not None:
            ref_labels, ref_proba = reference
            mism = sum(a != py(b) for a, b in zip(labels, ref_labels))
            print(f"{name:<28} label mismatches {mism}/{TEST_ROWS}")
            assert mism <= max_off * TEST_ROWS, f"{name}: {mism} label mismatches"
            doc["description"] += agreement(name, np.abs(proba - ref_proba).max(1), tol, max_off)
        doc["expected"] = {
            "classes": classes,
            "labels": labels,
            "probabilities": [[float(p) for p in r] for r in proba],
        }
    TYPED.mkdir(parents=True, exist_ok=True)
    onnx.save(model, TYPED / f"{name}.onnx")
    (TYPED / f"{name}.json").write_text(dump(doc))
    INDEX.append({"name": name, "description": description.split(". ")[0].rstrip(".") + "."})
    return doc


def dump(doc):
    """Pretty at the top, one line per row / per probability vector (small diffs, greppable)."""
    lines = ["{"]
    items = list(doc.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if k == "rows":
            body = ",\n".join("  " + json.dumps(r) for r in v)
            lines.append(f'"rows": [\n{body}\n]{comma}')
        elif k == "expected":
            parts = []
            for ek, ev in v.items():
                if ek == "probabilities":
                    inner = ",\n".join("  " + json.dumps(p) for p in ev)
                    parts.append(f'"{ek}": [\n{inner}\n]')
                else:
                    parts.append(f'"{ek}": {json.dumps(ev)}')
            lines.append('"expected": {\n' + ",\n".join(parts) + "\n}" + comma)
        else:
            lines.append(f"{json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    out = "\n".join(lines) + "\n"
    assert json.loads(out) == doc
    return out


def write_typed_refusal(name, model, must_mention, why):
    model = canonical(model, name)
    TYPED.mkdir(parents=True, exist_ok=True)
    onnx.save(model, TYPED / f"{name}.onnx")
    TYPED_REFUSALS.append({"name": name, "onnx": f"{name}.onnx", "must_mention": must_mention, "why": why})


def write_index():
    (TYPED / "index.json").write_text(json.dumps(INDEX, indent=2) + "\n")
    (TYPED / "refusals.json").write_text(json.dumps(TYPED_REFUSALS, indent=2) + "\n")
