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

For explanations the card also holds, when the model has such ops (both computed from the
training rows given, run through the model with onnxruntime):

    "covers": {"<tree-ensemble node name>": [rows reaching each node, ...]}
        TreeEnsembleRegressor/Classifier: one per `nodes_nodeids` entry, same order;
        TreeEnsemble (ai.onnx.ml 5): one per internal node, then one per leaf.
    "input_means": {"<LinearRegressor/LinearClassifier node name>": [mean per input column]}

Path-dependent TreeSHAP weighs each branch by its cover; ONNX files do not carry them.
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


def model_card(features, scores=None, labels=None, bins=BINS, model=None, feeds=None):
    """The card for numeric `features` ({name: training values}), a regressor's training
    `scores`, or a classifier's predicted training `labels`. Given the ONNX `model` and
    the training rows as its `feeds` ({graph input: array}), also the covers of its tree
    nodes and the means of its linear ops' inputs (see `explanation_stats`); a model with
    such ops given no rows gets a card without them, and a warning saying so."""
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
    if model is not None:
        try:
            card.update(explanation_stats(model, feeds))
        except ValueError as e:
            if feeds is not None and min((len(v) for v in feeds.values()), default=0):
                raise
            print(f"warning: no covers in the card, it cannot explain: {e}", file=sys.stderr)
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


# --------------------------------------------------------------------------
# Node covers and linear input means: what path-dependent TreeSHAP and the linear
# explanation need beyond the ONNX file (contract: the card's "covers" and "input_means").

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier", "TreeEnsemble")
LINEAR_OPS = ("LinearRegressor", "LinearClassifier")
ML_DOMAIN = "ai.onnx.ml"
# Opset 1-3 mode strings and opset 5 mode codes, as one code each (opset 5's numbering).
_MODE_CODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3,
               "BRANCH_EQ": 4, "BRANCH_NEQ": 5, "BRANCH_MEMBER": 6, "LEAF": -1}


def _explained_nodes(onx):
    """The main graph's tree-ensemble and linear nodes; fails on a name the card cannot key by."""
    nodes = [n for n in onx.graph.node if n.domain == ML_DOMAIN and n.op_type in TREE_OPS + LINEAR_OPS]
    names = [n.name for n in onx.graph.node]  # unique among all nodes: the runtime looks them up
    for n in nodes:
        if not n.name:
            raise ValueError(f"a {n.op_type} node has no name: covers are keyed by node name")
        if names.count(n.name) > 1:
            raise ValueError(f"node name `{n.name}` is used by {names.count(n.name)} nodes: "
                             "covers are keyed by node name")
    return nodes


def _attrs(node):
    import onnx

    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, onnx.TensorProto):
            v = onnx.numpy_helper.to_array(v)
        out[a.name] = v
    return out


class _Routing:
    """One tree ensemble as flat arrays, leaves included, in the card's cover order:
    feature, threshold (float32), mode code (-1 = leaf), true/false child index, NaN goes
    true, membership sets; `roots` the index of each tree's root."""

    def __init__(self, node):
        a = _attrs(node)
        if node.op_type == "TreeEnsemble":
            self._opset5(a)
        else:
            self._opset1(a)

    def _opset1(self, a):
        ids = list(a["nodes_nodeids"])
        trees = list(a["nodes_treeids"])
        n = len(ids)
        index = {(t, i): k for k, (t, i) in enumerate(zip(trees, ids))}
        if len(index) != n:
            raise ValueError("duplicate (tree id, node id) pairs")
        values = a.get("nodes_values_as_tensor", a.get("nodes_values"))
        self.threshold = np.asarray(values, dtype=np.float64).astype(np.float32)
        self.feature = np.asarray(a["nodes_featureids"], dtype=np.int64)
        modes = [m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]]
        self.mode = np.array([_MODE_CODES[m] for m in modes], dtype=np.int64)
        mtt = a.get("nodes_missing_value_tracks_true")
        self.nan_true = np.zeros(n, bool) if mtt is None or len(mtt) == 0 else np.asarray(mtt) != 0
        self.true = np.zeros(n, np.int64)
        self.false = np.zeros(n, np.int64)
        child = np.zeros(n, bool)
        for k in range(n):
            if self.mode[k] >= 0:
                self.true[k] = index[(trees[k], a["nodes_truenodeids"][k])]
                self.false[k] = index[(trees[k], a["nodes_falsenodeids"][k])]
                child[self.true[k]] = child[self.false[k]] = True
        # A tree's root: the one node of its tree that is no node's child.
        roots = {}
        for k in np.flatnonzero(~child):
            if trees[k] in roots:
                raise ValueError(f"tree {trees[k]} has several roots")
            roots[trees[k]] = k
        self.roots = np.array([roots[t] for t in dict.fromkeys(trees)], dtype=np.int64)
        self.members = {}

    def _opset5(self, a):
        n_nodes = len(a["nodes_featureids"])
        n_leaves = len(a["leaf_targetids"])
        n = n_nodes + n_leaves
        self.threshold = np.zeros(n, np.float32)
        self.threshold[:n_nodes] = np.asarray(a["nodes_splits"], dtype=np.float64).astype(np.float32)
        self.feature = np.zeros(n, np.int64)
        self.feature[:n_nodes] = a["nodes_featureids"]
        self.mode = np.full(n, -1, np.int64)
        self.mode[:n_nodes] = np.asarray(a["nodes_modes"], dtype=np.int64)
        self.nan_true = np.zeros(n, bool)
        mtt = a.get("nodes_missing_value_tracks_true")
        if mtt is not None and len(mtt):
            self.nan_true[:n_nodes] = np.asarray(mtt) != 0
        # A child that is a leaf is an index into the leaves, stored after the nodes.
        self.true = np.zeros(n, np.int64)
        self.false = np.zeros(n, np.int64)
        self.true[:n_nodes] = np.asarray(a["nodes_truenodeids"]) + n_nodes * (np.asarray(a["nodes_trueleafs"]) != 0)
        self.false[:n_nodes] = np.asarray(a["nodes_falsenodeids"]) + n_nodes * (np.asarray(a["nodes_falseleafs"]) != 0)
        self.roots = np.asarray(a["tree_roots"], dtype=np.int64)
        # membership_values: one NaN-terminated set per BRANCH_MEMBER node, in node order.
        self.members = {}
        member_nodes = np.flatnonzero(self.mode == 6)
        if len(member_nodes):
            values = np.asarray(a["membership_values"], dtype=np.float64).astype(np.float32)
            cuts = np.flatnonzero(np.isnan(values))
            start = 0
            for k, end in zip(member_nodes, list(cuts) + [len(values)]):
                self.members[k] = values[start:end]
                start = end + 1

    def route(self, x):
        """How many rows of `x` (float32, [rows, columns]) reach each node, as the ONNX
        runtime routes them: all the trees at once, one tree level per step."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        rows = x.shape[0]
        used = self.feature[self.mode >= 0]
        if used.size and used.max() >= x.shape[1]:
            raise ValueError(f"a tree reads column {used.max()} of a {x.shape[1]}-column input")
        counts = np.zeros(len(self.mode), np.int64)
        pos = np.tile(self.roots, rows)          # (row, tree) pairs, flattened
        row = np.repeat(np.arange(rows), len(self.roots))
        while pos.size:
            counts += np.bincount(pos, minlength=len(counts))
            branch = self.mode[pos] >= 0
            pos, row = pos[branch], row[branch]
            if not pos.size:
                break
            pos = self.step(pos, x[row, self.feature[pos]])
        return counts

    def step(self, pos, v):
        """The children the branches `pos` send the float32 values `v` to."""
        t = self.threshold[pos]
        m = self.mode[pos]
        # C comparisons on float32: NaN compares false except under NEQ, as in onnxruntime.
        with np.errstate(invalid="ignore"):
            go = np.select([m == 0, m == 1, m == 2, m == 3, m == 4, m == 5],
                           [v <= t, v < t, v >= t, v > t, v == t, v != t], False)
        for k, members in self.members.items():
            at = pos == k
            go[at] = np.isin(v[at], members)
        go |= self.nan_true[pos] & np.isnan(v)
        return np.where(go, self.true[pos], self.false[pos])


def _intermediates(onx, feeds, names):
    """The tensors `names` of `onx` computed on `feeds`, by onnxruntime on a copy of the
    model that lists them as outputs."""
    import onnx
    import onnxruntime as ort

    have = {n: np.asarray(v) for n, v in feeds.items() if n in names}
    wanted = [n for n in dict.fromkeys(names) if n not in have]
    if wanted:
        m = onnx.ModelProto()
        m.CopyFrom(onx)
        outputs = {o.name for o in m.graph.output}
        for n in wanted:
            if n not in outputs:
                # No type: onnxruntime infers it.
                m.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        have.update(zip(wanted, sess.run(wanted, feeds)))
    return have


def tree_covers(onx, feeds):
    """{tree-ensemble node name: [cover per node, in the card's order]} for the training
    rows `feeds` ({graph input name: array}, as onnxruntime takes them)."""
    trees = [n for n in _explained_nodes(onx) if n.op_type in TREE_OPS]
    tensors = _intermediates(onx, feeds, [n.input[0] for n in trees])
    covers = {}
    for node in trees:
        counts = _Routing(node).route(tensors[node.input[0]])
        covers[node.name] = [int(c) for c in counts]
    return covers


def input_means(onx, feeds):
    """{linear node name: [mean of each column of its input over the rows `feeds`]}."""
    linear = [n for n in _explained_nodes(onx) if n.op_type in LINEAR_OPS]
    tensors = _intermediates(onx, feeds, [n.input[0] for n in linear])
    out = {}
    for node in linear:
        x = np.asarray(tensors[node.input[0]], dtype=np.float64)
        x = x.reshape(x.shape[0], -1) if x.ndim != 1 else x.reshape(-1, 1)
        out[node.name] = [float(v) for v in x.mean(axis=0)]
    return out


def explanation_stats(onx, feeds):
    """The card's "covers" and "input_means" for `onx` (only the keys the model needs), or
    {} if it has neither op. `feeds` None or without rows: a ValueError that says why."""
    nodes = _explained_nodes(onx)
    if not nodes:
        return {}
    rows = None if feeds is None else min((len(v) for v in feeds.values()), default=0)
    if not rows:
        kinds = sorted({n.op_type for n in nodes})
        raise ValueError(f"the model has {', '.join(kinds)} nodes: their covers / input means "
                         "need the training rows, and none were given")
    out = {}
    if any(n.op_type in TREE_OPS for n in nodes):
        out["covers"] = tree_covers(onx, feeds)
    if any(n.op_type in LINEAR_OPS for n in nodes):
        out["input_means"] = input_means(onx, feeds)
    return out


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
        card = model_card(cols, scores=first.astype(np.float32), model=onx, feeds=feeds)
    else:
        card = model_card(cols, labels=first.ravel(), model=onx, feeds=feeds)
    write_model_card(onx, card)
    out = args.out or args.model
    onnx.save(onx, out)
    extra = "".join(f", {k} for {len(card[k])} nodes" for k in ("covers", "input_means") if k in card)
    print(f"wrote the model card ({len(card['features'])} feature profiles{extra}) into {out}")


if __name__ == "__main__":
    main()
