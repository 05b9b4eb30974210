"""Hand-built TreeEnsembleRegressor fixtures (onnx.helper only), checked against a
plain-Python evaluation of the ONNX-ML semantics as well as onnxruntime."""

from fixture_io import *  # noqa: F401,F403 (the shared helpers and imports)

# --------------------------------------------------------------------------
# Hand-built TreeEnsembleRegressor models (onnx.helper only)

TREE_FEATURES = [
    "d0_level",  # discrete {0..4}
    "d1_grade",  # discrete {0..4}
    "d2_bucket",  # discrete {-1.5, 0, 0.25, 2}
    "c3_normal",
    "c4_normal",
    "c5_uniform",
    "c6_lognormal",
    "c7_normal_wide",
]
DISCRETE = {0: [0.0, 1.0, 2.0, 3.0, 4.0], 1: [0.0, 1.0, 2.0, 3.0, 4.0], 2: [-1.5, 0.0, 0.25, 2.0]}
ALL_MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def tree_inputs(rng, rows, nan_fraction=0.0):
    """Some columns take a few discrete values so EQ/NEQ (and LEQ vs LT) hit
    thresholds exactly; all values are exact float32."""
    x = np.empty((rows, len(TREE_FEATURES)), dtype=np.float32)
    for j, values in DISCRETE.items():
        x[:, j] = rng.choice(values, size=rows)
    x[:, 3] = rng.normal(size=rows)
    x[:, 4] = rng.normal(1.0, 0.5, size=rows)
    x[:, 5] = rng.uniform(-2, 2, size=rows)
    x[:, 6] = rng.lognormal(size=rows)
    x[:, 7] = rng.normal(0, 100, size=rows)
    if nan_fraction:
        x[rng.random(x.shape) < nan_fraction] = np.nan
    return x


def compare(mode, v, t):
    return {
        "BRANCH_LEQ": v <= t,
        "BRANCH_LT": v < t,
        "BRANCH_GTE": v >= t,
        "BRANCH_GT": v > t,
        "BRANCH_EQ": v == t,
        "BRANCH_NEQ": v != t,
    }[mode]


def random_tree(rng, sample, modes, n_targets, max_depth, missing_mix):
    """Returns nodes as dicts in depth-first order, ids 0.. with root 0.

    Thresholds come from the values of the design sample rows that reach the
    node, so both branches are taken. Split probability falls with depth,
    which leaves some leaves shallow (unbalanced trees)."""
    nodes = []

    def grow(rows, depth):
        node = {"id": len(nodes)}
        nodes.append(node)
        split = depth == 0 or (depth < max_depth and len(rows) >= 8 and rng.random() < 0.9 - 0.1 * depth)
        if split:
            mode = str(rng.choice(modes))
            # Equality tests only make sense on the discrete columns.
            pool = list(DISCRETE) if mode in ("BRANCH_EQ", "BRANCH_NEQ") else range(sample.shape[1])
            feat = int(rng.choice(list(pool)))
            vals = sample[rows, feat]
            vals = vals[~np.isnan(vals)]
            if len(vals) == 0:
                split = False
            else:
                thr = float(rng.choice(vals))
                v = sample[rows, feat]
                track = bool(missing_mix and rng.random() < 0.5)
                go_true = compare(mode, v, thr) | (track & np.isnan(v))
                if go_true.all() or (~go_true).all():
                    split = False
        if not split:
            node["mode"] = "LEAF"
            if n_targets == 1:
                targets = [0]
            else:
                # Multi-target: a leaf carries both targets or only one of them.
                targets = [[0, 1], [0], [1]][rng.choice(3, p=[0.6, 0.2, 0.2])]
            node["weights"] = [(t, float(np.float32(rng.normal(0, 1)))) for t in targets]
            return node["id"]
        node.update(mode=mode, feat=feat, thr=thr, track=int(track))
        node["true"] = grow(rows[go_true], depth + 1)
        node["false"] = grow(rows[~go_true], depth + 1)
        return node["id"]

    grow(np.arange(sample.shape[0]), 0)
    return nodes


def relabel_and_shuffle(rng, nodes):
    """Random node ids (root included) and a shuffled listing order. The root
    stays first in its tree's listing: onnxruntime (and the ONNX reference
    implementation) take a tree's first listed node as its root, while the
    Rust side finds the node no one points to; listing it first makes both
    agree, and it is the only place where the order matters."""
    ids = rng.permutation(np.arange(len(nodes)) * 3 + 5)  # non-contiguous too
    new = {n["id"]: int(ids[i]) for i, n in enumerate(nodes)}
    out = []
    for n in nodes:
        m = dict(n, id=new[n["id"]])
        if m["mode"] != "LEAF":
            m["true"], m["false"] = new[n["true"]], new[n["false"]]
        out.append(m)
    rest = out[1:]
    rng.shuffle(rest)
    return [out[0]] + rest


def tree_ensemble_model(trees, *, n_targets, aggregate, base_values, opset, missing_mix, tree_order):
    """Builds the single-node graph X[N, F] -> TreeEnsembleRegressor -> Y[N, n_targets]."""
    a = {k: [] for k in ["treeids", "nodeids", "featureids", "modes", "values", "true", "false", "missing"]}
    targets = []
    for tid in tree_order:
        for n in trees[tid]:
            leaf = n["mode"] == "LEAF"
            a["treeids"].append(tid)
            a["nodeids"].append(n["id"])
            a["featureids"].append(0 if leaf else n["feat"])
            a["modes"].append(n["mode"])
            a["values"].append(0.0 if leaf else n["thr"])
            a["true"].append(0 if leaf else n["true"])
            a["false"].append(0 if leaf else n["false"])
            a["missing"].append(0 if leaf else n["track"])
            if leaf:
                targets += [(tid, n["id"], t, w) for t, w in n["weights"]]

    attrs = dict(
        aggregate_function=aggregate,
        n_targets=n_targets,
        post_transform="NONE",
        nodes_treeids=a["treeids"],
        nodes_nodeids=a["nodeids"],
        nodes_featureids=a["featureids"],
        nodes_modes=a["modes"],
        nodes_truenodeids=a["true"],
        nodes_falsenodeids=a["false"],
        target_treeids=[t[0] for t in targets],
        target_nodeids=[t[1] for t in targets],
        target_ids=[t[2] for t in targets],
    )
    if missing_mix:
        attrs["nodes_missing_value_tracks_true"] = a["missing"]
    weights = [t[3] for t in targets]
    if opset >= 3:
        # The *_as_tensor twins are FLOAT here. onnxruntime 1.31 refuses DOUBLE
        # ones on a float input ("TreeEnsemble could not unpack tensor attribute
        # ..._as_tensor"): it reads them in the input's type, for each of
        # nodes_values, target_weights and base_values. DOUBLE tensors only run
        # with a double input, which the Rust side does not accept, so that
        # combination is dropped.
        def dt(name, vals):
            return helper.make_tensor(name, TensorProto.FLOAT, [len(vals)], vals)

        attrs["nodes_values_as_tensor"] = dt("nodes_values", a["values"])
        attrs["target_weights_as_tensor"] = dt("target_weights", weights)
        if base_values is not None:
            attrs["base_values_as_tensor"] = dt("base_values", base_values)
    else:
        attrs["nodes_values"] = a["values"]
        attrs["target_weights"] = weights
        if base_values is not None:
            attrs["base_values"] = base_values

    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", name="trees", **attrs
    )
    graph = helper.make_graph(
        [node],
        "trees",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", len(TREE_FEATURES)])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", n_targets])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", opset)],
        ir_version=IR_VERSION,
        producer_name="make_fixtures.py",
    )
    return with_feature_names(model, TREE_FEATURES)


def reference_eval(trees, x, n_targets, aggregate, base_values):
    """Independent float64 evaluation of the ONNX-ML TreeEnsembleRegressor
    semantics, used to cross-check onnxruntime on the hand-built models."""
    out = np.zeros((x.shape[0], n_targets))
    for r in range(x.shape[0]):
        per_target = [[] for _ in range(n_targets)]
        for nodes in trees:
            by_id = {n["id"]: n for n in nodes}
            n = nodes[0]
            while n["mode"] != "LEAF":
                v = x[r, n["feat"]]
                go = (n["track"] and np.isnan(v)) or compare(n["mode"], v, np.float32(n["thr"]))
                n = by_id[n["true"] if go else n["false"]]
            for t, w in n["weights"]:
                per_target[t].append(w)
        for t in range(n_targets):
            ws = per_target[t]
            if aggregate == "SUM":
                s = sum(ws)
            elif aggregate == "AVERAGE":
                s = sum(ws) / len(trees)
            elif aggregate == "MIN":
                s = min(ws) if ws else 0.0
            else:
                s = max(ws) if ws else 0.0
            out[r, t] = s + (base_values[t] if base_values else 0.0)
    return out


def hand_built(name, seed, *, aggregate, opset, n_targets=1, base_values=None, modes=("BRANCH_LEQ",),
               missing_mix=False, nan_fraction=0.0, shuffle=False, description=""):
    rng = np.random.default_rng(seed)
    sample = tree_inputs(rng, 4000, nan_fraction)  # design rows, for thresholds
    x = tree_inputs(rng, TEST_ROWS, nan_fraction)
    trees = [random_tree(rng, sample, list(modes), n_targets, 6, missing_mix) for _ in range(20)]
    if shuffle:
        trees = [relabel_and_shuffle(rng, t) for t in trees]
        tree_order = [int(t) for t in rng.permutation(len(trees))]
    else:
        tree_order = list(range(len(trees)))
    for n in (n for t in trees for n in t):
        n.setdefault("track", 0)
    model = tree_ensemble_model(
        trees, n_targets=n_targets, aggregate=aggregate, base_values=base_values, opset=opset,
        missing_mix=missing_mix, tree_order=tree_order,
    )
    y = write_fixture(name, model, x, TREE_FEATURES, description)
    ref = reference_eval(trees, x, n_targets, aggregate, base_values)
    diff = float(np.max(np.abs(y - ref)))
    assert diff < 1e-4, f"{name}: onnxruntime disagrees with the reference evaluation ({diff})"
    return model


def hand_built_fixtures():
    hand_built(
        "trees_modes_opset1", 101, aggregate="SUM", opset=1, base_values=[0.75],
        modes=ALL_MODES, missing_mix=True, nan_fraction=0.10, shuffle=True,
        description="Hand-built, ai.onnx.ml opset 1: all six branch modes, SUM + base_values, "
        "random nodes_missing_value_tracks_true, ~10% NaN inputs, random non-contiguous node ids, "
        "nodes and trees listed out of order (each tree's root listed first).",
    )
    hand_built(
        "trees_avg_opset3", 102, aggregate="AVERAGE", opset=3, base_values=[-0.125],
        modes=["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT"],
        description="Hand-built, ai.onnx.ml opset 3: nodes_values/target_weights/base_values as *_as_tensor "
        "(FLOAT tensors; onnxruntime refuses DOUBLE ones on a float input), AVERAGE, base_values.",
    )
    hand_built(
        "trees_min", 103, aggregate="MIN", opset=1, base_values=[0.5],
        modes=["BRANCH_LEQ", "BRANCH_GTE"],
        description="Hand-built, ai.onnx.ml opset 1: aggregate MIN + base_values.",
    )
    hand_built(
        "trees_max", 104, aggregate="MAX", opset=1, base_values=[-0.5],
        modes=["BRANCH_LEQ", "BRANCH_LT"],
        description="Hand-built, ai.onnx.ml opset 1: aggregate MAX + base_values.",
    )
    multi = hand_built(
        "trees_multi_target", 105, aggregate="SUM", opset=1, n_targets=2, base_values=[1.0, -2.0],
        modes=["BRANCH_LEQ", "BRANCH_GT", "BRANCH_EQ"], shuffle=True,
        description="Hand-built, ai.onnx.ml opset 1: n_targets=2, SUM; leaves carry weights for "
        "both targets or only one; output [N, 2] (tests the operator alone; the model loader "
        "must refuse it, see bad_output).",
    )
    write_refusal(
        "bad_output", multi,
        "single output is [N, 2] (two regression targets), not [N] or [N, 1]",
    )
