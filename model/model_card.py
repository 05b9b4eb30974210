"""The model card: what the serving functions need to watch a model, stored in the ONNX
file as the metadata entry `model_card` (one JSON value).

    {"features": {"<numeric feature>": PROFILE, ...},
     "score": PROFILE,                       # a regressor's training predictions
     "labels": {"<label>": share, ...}}      # a classifier's training predicted labels
    PROFILE = {"min": m, "max": M, "edges": [e1 < e2 < ...], "shares": [s0, s1, ...]}

`edges` are the training deciles (duplicates dropped), so `k` edges make `k + 1` bins; a
value equal to an edge falls in the bin above it; `shares` are the training rows' shares
per bin. Every part is optional; categorical features have no profile.

From your own training code:

    from model_card import model_card, write_model_card
    card = model_card({"age": x_train["age"], ...}, scores=onnx_scores_on_x_train)
    write_model_card(onnx_model, card)   # then onnx.save(onnx_model, path)

Or for a model already exported, from the training rows as CSV (one column per feature,
named as the model's features; the model scores the rows with onnxruntime for the
answers' distribution):

    .venv/bin/python model/model_card.py model.onnx train.csv [-o out.onnx]
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

KEY = "model_card"
BINS = 10


def profile(values, bins=BINS):
    """A variable's range, decile edges and training shares; None if it has no value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
    # The bin of the runtime: an edge belongs to the bin above it.
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    shares = counts / v.size
    return {
        "min": float(v.min()),
        "max": float(v.max()),
        "edges": [float(e) for e in edges],
        "shares": [float(s) for s in shares],
    }


def model_card(features, scores=None, labels=None, bins=BINS):
    """The card for numeric `features` ({name: training values}), a regressor's training
    `scores`, or a classifier's predicted training `labels`."""
    card = {"features": {}}
    for name, values in features.items():
        p = profile(values, bins)
        if p is not None:
            card["features"][name] = p
    if scores is not None:
        card["score"] = profile(scores, bins)
    if labels is not None:
        names, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
        card["labels"] = {str(n): float(c / counts.sum()) for n, c in zip(names, counts)}
    return card


def write_model_card(onx, card):
    """Stores `card` in the ONNX model `onx` (replacing an older card; other metadata
    is kept)."""
    kept = [p for p in onx.metadata_props if p.key != KEY]
    del onx.metadata_props[:]
    onx.metadata_props.extend(kept)
    entry = onx.metadata_props.add()
    entry.key = KEY
    entry.value = json.dumps(card, separators=(",", ":"))


def _inputs(onx):
    """The model's features: (names, one matrix input or None, element types by name)."""
    import onnx

    meta = {p.key: p.value for p in onx.metadata_props}
    graph_inputs = [i for i in onx.graph.input if i.name not in {t.name for t in onx.graph.initializer}]
    dtype = lambda i: onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
    if len(graph_inputs) == 1 and "feature_names" in meta:
        names = json.loads(meta["feature_names"])
        return names, graph_inputs[0].name, {n: dtype(graph_inputs[0]) for n in names}
    return [i.name for i in graph_inputs], None, {i.name: dtype(i) for i in graph_inputs}


def main():
    import onnx
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description="Write a model card into an ONNX model.")
    parser.add_argument("model", type=Path)
    parser.add_argument("training_csv", type=Path)
    parser.add_argument("-o", "--out", type=Path, help="default: overwrite the model")
    args = parser.parse_args()

    onx = onnx.load(args.model)
    names, matrix, types = _inputs(onx)
    with args.training_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [n for n in names if rows and n not in rows[0]]
    if not rows or missing:
        sys.exit(f"{args.training_csv}: no rows, or no column for {missing}")
    numeric = [n for n in names if np.issubdtype(types[n], np.number)]
    cols = {n: np.array([float(r[n]) if r[n] != "" else np.nan for r in rows]) for n in numeric}

    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    if matrix is not None:
        feeds = {matrix: np.stack([cols[n] for n in names], axis=1).astype(types[names[0]])}
    else:
        feeds = {
            n: (cols[n].astype(types[n]) if n in cols else np.array([r[n] for r in rows], dtype=object)).reshape(-1, 1)
            for n in names
        }
    first = sess.run(None, feeds)[0]
    if first.dtype.kind in "fc":
        card = model_card(cols, scores=first.astype(np.float32))
    else:
        card = model_card(cols, labels=first.ravel())
    write_model_card(onx, card)
    out = args.out or args.model
    onnx.save(onx, out)
    print(f"wrote the model card ({len(card['features'])} feature profiles) into {out}")


if __name__ == "__main__":
    main()
