"""ai.onnx.ml opset 5 `TreeEnsemble` fixtures: the hand-built opset 1/3 tree ensembles of
fixtures_trees.py (all six branch modes, NaN inputs and nodes_missing_value_tracks_true,
AVERAGE/MIN/MAX, two targets) rewritten in the opset 5 encoding, with some BRANCH_EQ and
BRANCH_NEQ nodes turned into BRANCH_MEMBER nodes (sets of 1-3 values, -0.0 included),
interior nodes and leaves listed in a shuffled order, a one-leaf tree written as the spec
says (a node whose two branches are the same leaf), nodes_hitrates set (ignored), and the
old base_values as a standard Add after the op (opset 5 has none), as a converter does.
Plus a classifier-like graph: TreeEnsemble -> Softmax -> ZipMap (probabilities) and
ArgMax -> Gather on the class labels (label).

Each model is checked against onnxruntime and against a plain-Python walk of the opset 5
encoding (below); onnxruntime's outputs are what the Rust tests compare with.

Written to libs/scoring/tests/fixtures/tree_ensemble5/: <name>.onnx, <name>.x.f32,
<name>.y.f32 and manifest.json (the main fixtures' manifest format, paths relative to
tests/fixtures), read by libs/scoring/tests/it/tree_ensemble5.rs.

Run with the pinned venv, no arguments: .venv/bin/python model/fixtures_tree_ensemble5.py
Everything is seeded."""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fixture_io import DEFAULT_OPSET, IR_VERSION, OUT, TEST_ROWS, op_types, run_ort, session, with_feature_names
from fixtures_trees import DISCRETE, TREE_FEATURES, tree_inputs

DIR = OUT / "tree_ensemble5"
MANIFEST = []

MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}
MEMBER = 6
AGGREGATES = {"AVERAGE": 0, "SUM": 1, "MIN": 2, "MAX": 3}


def attrs_of(path):
    """The attributes and opset of the single tree-ensemble node of an existing fixture."""
    model = onnx.load(path)
    (node,) = [n for n in model.graph.node if n.op_type == "TreeEnsembleRegressor"]
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    for k, v in list(a.items()):
        if isinstance(v, onnx.TensorProto):
            a[k[: -len("_as_tensor")]] = list(numpy_helper.to_array(v).astype(np.float64))
        elif isinstance(v, bytes):
            a[k] = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            a[k] = [s.decode() for s in v]
    return a


def trees_of(a):
    """{tree: (root, {node: dict})} and {(tree, node): [(target, weight)]} of an opset 1/3
    ensemble."""
    nodes = {}
    for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"])):
        nodes.setdefault(t, {})[n] = dict(
            mode=a["nodes_modes"][i], feat=a["nodes_featureids"][i], thr=a["nodes_values"][i],
            true=a["nodes_truenodeids"][i], false=a["nodes_falsenodeids"][i],
            track=(a.get("nodes_missing_value_tracks_true") or [0] * len(a["nodes_treeids"]))[i],
        )
    weights = {}
    for t, n, k, w in zip(a["target_treeids"], a["target_nodeids"], a["target_ids"], a["target_weights"]):
        weights.setdefault((t, n), []).append((k, w))
    trees = {}
    for t, ns in nodes.items():
        children = {c for n in ns.values() if n["mode"] != "LEAF" for c in (n["true"], n["false"])}
        (root,) = [n for n in ns if n not in children]
        trees[t] = (root, ns)
    return trees, weights


def member_set(rng, feat, thr):
    """A set holding the old threshold and 0-2 other values of the discrete column; -0.0
    stands for 0.0 sometimes (it equals 0.0). Never -1.5: onnxruntime 1.31 refuses it
    ("MemberShip values is only implemented for integers"), and with a negative integer
    (or one past its bitset) in a set it truncates the input to int32 (-1.5 is then in
    {-1}); exact membership, the spec's, is what the Rust side does."""
    if thr == -1.5:
        return None
    others = [v for v in DISCRETE[feat] if v != thr and v != -1.5]
    extra = list(rng.choice(others, size=int(rng.integers(0, 3)), replace=False))
    values = [thr] + [float(v) for v in extra]
    return [-0.0 if v == 0.0 and rng.random() < 0.5 else v for v in values]


def to_v5(a, n_targets, rng, member_fraction):
    """Rewrites an opset 1/3 ensemble in the opset 5 encoding. Several targets: one copy
    of each tree per target (an opset 5 leaf has one target), leaves without a weight for
    it weigh 0 (SUM only). Returns the attributes and the structure for `reference`."""
    trees, weights = trees_of(a)
    interior, leaves, roots = [], [], []

    def emit(ns, n_id, tree, target):
        n = ns[n_id]
        if n["mode"] == "LEAF":
            ws = [w for k, w in weights.get((tree, n_id), []) if k == target]
            assert len(ws) <= 1
            leaves.append(dict(target=target, weight=ws[0] if ws else 0.0))
            return (1, len(leaves) - 1)
        at = len(interior)
        interior.append(None)
        mode, members = MODES[n["mode"]], None
        if n["mode"] in ("BRANCH_EQ", "BRANCH_NEQ") and n["feat"] in DISCRETE and rng.random() < member_fraction:
            members = member_set(rng, n["feat"], n["thr"])
            mode = MODES[n["mode"]] if members is None else MEMBER
        yes = emit(ns, n["true"], tree, target)
        no = emit(ns, n["false"], tree, target)
        interior[at] = dict(feat=n["feat"], mode=mode, split=0.0 if mode == MEMBER else n["thr"],
                            members=members, track=n["track"], true=yes, false=no)
        return (0, at)

    for target in range(n_targets):
        for tree in sorted(trees):
            root, ns = trees[tree]
            kind, at = emit(ns, root, tree, target)
            if kind == 1:  # a one-leaf tree: one node, both branches on the leaf
                interior.append(dict(feat=0, mode=0, split=0.0, members=None, track=0,
                                     true=(1, at), false=(1, at)))
                kind, at = 0, len(interior) - 1
            roots.append(at)

    # A one-leaf tree, as the spec writes it: one node, both branches on its leaf.
    leaves.append(dict(target=0, weight=0.375))
    interior.append(dict(feat=3, mode=0, split=0.0, members=None, track=0,
                         true=(1, len(leaves) - 1), false=(1, len(leaves) - 1)))
    roots.append(len(interior) - 1)

    # Listing order is free in opset 5: shuffle both lists, remap every reference.
    node_order = rng.permutation(len(interior))
    leaf_order = rng.permutation(len(leaves))
    node_at = {int(old): new for new, old in enumerate(node_order)}
    leaf_at = {int(old): new for new, old in enumerate(leaf_order)}
    ref = lambda c: (c[0], leaf_at[c[1]] if c[0] else node_at[c[1]])  # noqa: E731
    nodes = [dict(interior[int(old)]) for old in node_order]
    for n in nodes:
        n["true"], n["false"] = ref(n["true"]), ref(n["false"])
    leaves = [leaves[int(old)] for old in leaf_order]
    roots = [node_at[r] for r in roots]

    membership = []
    for n in nodes:  # nodes_modes order, as the spec (and onnxruntime) read them
        if n["mode"] == MEMBER:
            membership += n["members"] + [float("nan")]
    attrs = dict(
        nodes_featureids=[n["feat"] for n in nodes],
        nodes_splits=numpy_helper.from_array(np.array([n["split"] for n in nodes], np.float32), "s"),
        nodes_modes=numpy_helper.from_array(np.array([n["mode"] for n in nodes], np.uint8), "m"),
        nodes_truenodeids=[n["true"][1] for n in nodes],
        nodes_trueleafs=[n["true"][0] for n in nodes],
        nodes_falsenodeids=[n["false"][1] for n in nodes],
        nodes_falseleafs=[n["false"][0] for n in nodes],
        nodes_missing_value_tracks_true=[int(n["track"]) for n in nodes],
        nodes_hitrates=numpy_helper.from_array(np.ones(len(nodes), np.float32), "h"),
        tree_roots=roots,
        leaf_targetids=[leaf["target"] for leaf in leaves],
        leaf_weights=numpy_helper.from_array(np.array([leaf["weight"] for leaf in leaves], np.float32), "w"),
        n_targets=n_targets,
        post_transform=0,
    )
    if membership:
        attrs["membership_values"] = numpy_helper.from_array(np.array(membership, np.float32), "mv")
    return attrs, (nodes, leaves, roots)


def reference(structure, x, n_targets, aggregate, base):
    """A plain walk of the opset 5 encoding in float32 (the input's type)."""
    nodes, leaves, roots = structure
    out = np.zeros((x.shape[0], n_targets))
    for r, row in enumerate(x):
        got = [[] for _ in range(n_targets)]
        for root in roots:
            kind, at = 0, root
            n = nodes[at]
            if n["true"] == n["false"] and n["true"][0]:
                kind, at = n["true"]
            while kind == 0:
                n = nodes[at]
                v = row[n["feat"]]
                if n["mode"] == MEMBER:
                    go = any(v == np.float32(m) for m in n["members"])
                else:
                    t = np.float32(n["split"])
                    go = [v <= t, v < t, v >= t, v > t, v == t, v != t][n["mode"]]
                # NaN compares false but for !=, and goes true where the node says so.
                go = go or (bool(n["track"]) and np.isnan(v))
                kind, at = n["true"] if go else n["false"]
            got[leaves[at]["target"]].append(leaves[at]["weight"])
        for t in range(n_targets):
            ws = got[t]
            s = {"SUM": sum, "AVERAGE": lambda w: sum(w) / len(roots),
                 "MIN": lambda w: min(w) if w else 0.0, "MAX": lambda w: max(w) if w else 0.0}[aggregate](ws)
            out[r, t] = s + base[t]
    return out


def graph_of(name, attrs, n_targets, base, aggregate):
    nodes = [helper.make_node("TreeEnsemble", ["X"], ["raw"], domain="ai.onnx.ml", name="trees",
                              aggregate_function=AGGREGATES[aggregate], **attrs)]
    inits = [numpy_helper.from_array(np.array([base], np.float32), "base_values")]
    nodes.append(helper.make_node("Add", ["raw", "base_values"], ["Y"], name="base"))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", len(TREE_FEATURES)])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", n_targets])], initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", 5)],
        ir_version=IR_VERSION, producer_name="fixtures_tree_ensemble5.py",
    )
    return with_feature_names(model, TREE_FEATURES)


def inputs(seed):
    rng = np.random.default_rng(seed)
    x = tree_inputs(rng, TEST_ROWS, 0.10)
    # -0.0 where d2 is 0.0, now and then: equal to 0.0 for EQ and MEMBER alike.
    zero = (x[:, 2] == 0.0) & (rng.random(TEST_ROWS) < 0.5)
    x[zero, 2] = -0.0
    return x


def save(name, model, x, y, description):
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, DIR / f"{name}.onnx")
    x.astype("<f4").tofile(DIR / f"{name}.x.f32")
    y.astype("<f4").tofile(DIR / f"{name}.y.f32")
    MANIFEST.append(dict(
        name=name, onnx=f"tree_ensemble5/{name}.onnx", x=f"tree_ensemble5/{name}.x.f32",
        y=f"tree_ensemble5/{name}.y.f32", rows=TEST_ROWS, features=TREE_FEATURES,
        targets=int(y.shape[1]), input_layout="matrix", ops=op_types(model), description=description,
    ))


def converted(name, source, seed, *, n_targets=1, member_fraction=0.6, description):
    a = attrs_of(OUT / f"{source}.onnx")
    aggregate = a.get("aggregate_function", "SUM")
    base = list(a.get("base_values", [0.0] * n_targets))
    if len(base) == 1 and n_targets > 1:
        base = base * n_targets
    rng = np.random.default_rng(seed)
    attrs, structure = to_v5(a, n_targets, rng, member_fraction)
    model = graph_of(name, attrs, n_targets, base, aggregate)
    x = inputs(seed)
    y = run_ort(model, x).reshape(TEST_ROWS, -1)
    want = reference(structure, x, n_targets, aggregate, base)
    diff = float(np.max(np.abs(y - want)))
    assert diff < 1e-4, f"{name}: onnxruntime and the reference walk differ by {diff}"
    members = int(sum(1 for m in numpy_helper.to_array(attrs["nodes_modes"]) if m == MEMBER))
    assert members >= 5 or member_fraction == 0, f"{name}: only {members} BRANCH_MEMBER nodes"
    save(name, model, x, y, f"{description} ({members} BRANCH_MEMBER nodes)")
    return model


def classifier(name, seed):
    """Three classes: one tree per class (the margins), NONE, then what a converter adds:
    Softmax for probabilities (then ZipMap, skl2onnx's default), ArgMax and Gather on the
    labels for the label."""
    a = attrs_of(OUT / "trees_modes_opset1.onnx")
    rng = np.random.default_rng(seed)
    # Three targets from one single-target ensemble: its trees dealt to classes in turn.
    a = dict(a)
    a["target_ids"] = [t % 3 for t in a["target_treeids"]]
    trees, _ = trees_of(a)
    attrs, structure = to_v5(a, 3, rng, 0.6)
    labels = np.array([3, 5, 7], np.int64)
    nodes = [
        helper.make_node("TreeEnsemble", ["X"], ["margins"], domain="ai.onnx.ml", name="trees",
                         aggregate_function=1, **attrs),
        helper.make_node("Softmax", ["margins"], ["probabilities"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["margins"], ["best"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "best"], ["label"], name="label", axis=0),
        # skl2onnx's default last step: the classes are in the file through it.
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"], name="zipmap",
                         domain="ai.onnx.ml", classlabels_int64s=[int(v) for v in labels]),
    ]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", len(TREE_FEATURES)])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
         helper.make_value_info("output_probability", helper.make_sequence_type_proto(
             helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))],
        initializer=[numpy_helper.from_array(labels, "classes")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", 5)],
        ir_version=IR_VERSION, producer_name="fixtures_tree_ensemble5.py",
    )
    model = with_feature_names(model, TREE_FEATURES)
    x = inputs(seed)
    label, maps = session(model).run(None, {"X": x})
    proba = np.array([[m[int(k)] for k in labels] for m in maps], np.float32)
    margins = reference(structure, x, 3, "SUM", [0.0] * 3)
    e = np.exp(margins - margins.max(axis=1, keepdims=True))
    assert np.max(np.abs(proba - e / e.sum(axis=1, keepdims=True))) < 1e-5
    assert (label == labels[margins.argmax(axis=1)]).all()
    # y: the label then the probabilities, per row.
    y = np.concatenate([label[:, None].astype(np.float32), proba], axis=1)
    save(name, model, x, y, "Classifier-like graph: TreeEnsemble (3 targets, NONE) -> Softmax -> ZipMap; "
         "ArgMax -> Gather on the labels [3, 5, 7]; y holds label, then 3 probabilities")


def main():
    DIR.mkdir(parents=True, exist_ok=True)
    converted("te5_modes_member", "trees_modes_opset1", 501,
              description="trees_modes_opset1 in opset 5: all six modes plus BRANCH_MEMBER, SUM, "
              "base value as an Add, ~10% NaN, missing_value_tracks_true, shuffled listing, a one-leaf tree")
    converted("te5_average", "trees_avg_opset3", 502, member_fraction=0.0,
              description="trees_avg_opset3 in opset 5: AVERAGE (the one-leaf tree counts), no member nodes possible "
              "(no EQ/NEQ), base value as an Add")
    converted("te5_multi_target", "trees_multi_target", 505,
              n_targets=2, description="trees_multi_target in opset 5: two targets (one tree copy per target), "
              "SUM, BRANCH_MEMBER, base values as an Add")
    classifier("te5_classifier", 506)
    (DIR / "manifest.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    for entry in MANIFEST:
        print(f"{entry['name']:<20} targets={entry['targets']}  ops={entry['ops']}  {entry['description']}")


if __name__ == "__main__":
    main()
