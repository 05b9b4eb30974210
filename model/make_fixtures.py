"""Correctness fixtures for the scoring crate: small ONNX models, test inputs
and onnxruntime's outputs, written to libs/scoring/tests/fixtures/.

Run with the pinned venv (model/requirements.txt), no arguments:

    .venv/bin/python model/make_fixtures.py

Everything is seeded, so a rerun reproduces the same data and models (ONNX
bytes may still differ across BLAS builds for the MLP).

onnxruntime is the oracle: the Rust side must reproduce `<name>.y.f32` from
`<name>.onnx` and `<name>.x.f32`. The hand-built TreeEnsembleRegressor models
are also checked against a plain-Python evaluation of the ONNX-ML semantics,
so the fixtures cannot silently encode an onnxruntime quirk we did not mean.
"""

import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.helper
import onnxruntime as ort
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

OUT = Path(__file__).resolve().parent.parent / "libs" / "scoring" / "tests" / "fixtures"
TEST_ROWS = 1000
TRAIN_ROWS = 3000
# IR version and default-domain opset for the hand-built graphs; matches what
# skl2onnx 1.20 emits, so every fixture stays loadable by the same readers.
IR_VERSION = 10
DEFAULT_OPSET = 21

# Friedman #1 uses features 0-4; 5-9 are pure noise. Names are arbitrary but
# readable, and are what the Rust side reports back.
FRIEDMAN_NAMES = [
    "x0_temperature",
    "x1_pressure",
    "x2_humidity",
    "x3_wind_speed",
    "x4_altitude",
    "x5_noise_a",
    "x6_noise_b",
    "x7_noise_c",
    "x8_noise_d",
    "x9_noise_e",
]

MANIFEST = []
REFUSALS = []


# --------------------------------------------------------------------------
# Helpers


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )


def run_ort(model: onnx.ModelProto, x: np.ndarray, per_feature: bool = False) -> np.ndarray:
    sess = session(model)
    if per_feature:
        feeds = {inp.name: x[:, [i]] for i, inp in enumerate(sess.get_inputs())}
    else:
        feeds = {sess.get_inputs()[0].name: x}
    (y,) = sess.run(None, feeds)
    return np.asarray(y, dtype=np.float32)


def op_types(model: onnx.ModelProto) -> list:
    seen = []
    for node in model.graph.node:
        if node.op_type not in seen:
            seen.append(node.op_type)
    return seen


def with_feature_names(model: onnx.ModelProto, names) -> onnx.ModelProto:
    # The Rust side reads the column names of a single [N, F] input from here.
    helper.set_model_props(model, {"feature_names": json.dumps(list(names))})
    return model


def save_model(model: onnx.ModelProto, name: str) -> Path:
    onnx.checker.check_model(model, full_check=True)
    path = OUT / f"{name}.onnx"
    onnx.save(model, path)
    return path


def write_fixture(name, model, x, features, description, per_feature=False):
    x = np.ascontiguousarray(x, dtype=np.float32)
    assert x.shape == (TEST_ROWS, len(features)), (name, x.shape)
    y = run_ort(model, x, per_feature)
    y = y.reshape(TEST_ROWS, -1)
    assert np.isfinite(y).all(), f"{name}: non-finite output"
    save_model(model, name)
    # '<f4' pins little-endian regardless of the host.
    x.astype("<f4").tofile(OUT / f"{name}.x.f32")
    y.astype("<f4").tofile(OUT / f"{name}.y.f32")
    MANIFEST.append(
        {
            "name": name,
            "onnx": f"{name}.onnx",
            "x": f"{name}.x.f32",
            "y": f"{name}.y.f32",
            "rows": TEST_ROWS,
            "features": list(features),
            "targets": int(y.shape[1]),
            "input_layout": "per_feature" if per_feature else "matrix",
            "ops": op_types(model),
            "description": description,
        }
    )
    return y


def write_refusal(name, model, why):
    save_model(model, name)
    REFUSALS.append({"name": name, "onnx": f"{name}.onnx", "why": why})


@contextlib.contextmanager
def bool_safe_missing_tracks():
    """skl2onnx 1.20 passes HistGradientBoosting's `missing_go_to_left` flags
    (a mix of Python bool and numpy.uint8) straight into
    `nodes_missing_value_tracks_true`; onnx >= 1.19's make_attribute rejects
    bools in an INTS attribute ("Expected an int, got a boolean"). Convert
    them to ints for the duration of the export."""
    original = onnx.helper.make_attribute

    def make_attribute(key, value, *args, **kwargs):
        if key == "nodes_missing_value_tracks_true":
            value = [int(v) for v in value]
        return original(key, value, *args, **kwargs)

    onnx.helper.make_attribute = make_attribute
    try:
        yield
    finally:
        onnx.helper.make_attribute = original


def export(model, n_features, name="X", dtype=FloatTensorType):
    return to_onnx(model, initial_types=[(name, dtype([None, n_features]))])


# --------------------------------------------------------------------------
# scikit-learn models


def friedman(seed, n_features=10, nan_fraction=0.0):
    x, y = make_friedman1(
        n_samples=TRAIN_ROWS + TEST_ROWS, n_features=n_features, noise=1.0, random_state=seed
    )
    x = x.astype(np.float32)
    if nan_fraction:
        rng = np.random.default_rng(seed)
        x[rng.random(x.shape) < nan_fraction] = np.nan
    return x[:TRAIN_ROWS], y[:TRAIN_ROWS], x[TRAIN_ROWS:], y[TRAIN_ROWS:]


def check_close(name, y_onnx, y_sklearn, tol):
    diff = float(np.max(np.abs(y_onnx.ravel() - np.asarray(y_sklearn).ravel())))
    assert diff <= tol, f"{name}: onnxruntime vs scikit-learn max abs diff {diff}"
    return diff


def sklearn_fixtures():
    names = FRIEDMAN_NAMES
    x_tr, y_tr, x_te, _ = friedman(seed=1)

    ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x_tr, y_tr)
    m = with_feature_names(export(ridge, len(names)), names)
    y = write_fixture(
        "ridge", m, x_te, names, "Pipeline(StandardScaler, Ridge) on Friedman #1, 10 features."
    )
    check_close("ridge", y, ridge.predict(x_te), 1e-4)

    # Refusal: the same pipeline with no feature_names metadata.
    write_refusal(
        "no_feature_names",
        export(ridge, len(names)),
        "single [N, F] matrix input but no feature_names metadata, so columns cannot be named",
    )
    # Refusal: int64 input (skl2onnx inserts a Cast to float).
    write_refusal(
        "int_input",
        with_feature_names(export(ridge, len(names), dtype=Int64TensorType), names),
        "input tensor is int64, not float32",
    )

    # min_samples_leaf keeps the file near 1.2 MB (1.8 MB without it).
    rf = RandomForestRegressor(
        n_estimators=100, max_depth=8, min_samples_leaf=5, random_state=2
    ).fit(x_tr, y_tr)
    m = with_feature_names(export(rf, len(names)), names)
    y = write_fixture(
        "random_forest",
        m,
        x_te,
        names,
        "RandomForestRegressor(100 trees, max_depth 8, min_samples_leaf 5): "
        "TreeEnsembleRegressor with no aggregate_function (default SUM); skl2onnx "
        "averages by scaling every leaf weight by 1/100.",
    )
    check_close("random_forest", y, rf.predict(x_te), 1e-3)

    gb = GradientBoostingRegressor(random_state=3).fit(x_tr, y_tr)
    m = with_feature_names(export(gb, len(names)), names)
    y = write_fixture(
        "gradient_boosting",
        m,
        x_te,
        names,
        "GradientBoostingRegressor (100 trees, depth 3): TreeEnsembleRegressor SUM + base_values.",
    )
    check_close("gradient_boosting", y, gb.predict(x_te), 1e-3)

    hx_tr, hy_tr, hx_te, _ = friedman(seed=4, nan_fraction=0.10)
    hgb = HistGradientBoostingRegressor(random_state=4).fit(hx_tr, hy_tr)
    with bool_safe_missing_tracks():
        m = export(hgb, len(names))
    m = with_feature_names(m, names)
    y = write_fixture(
        "hist_gradient_boosting",
        m,
        hx_te,
        names,
        "HistGradientBoostingRegressor trained and tested with ~10% NaN inputs: "
        "nodes_missing_value_tracks_true decides where NaN goes.",
    )
    # Looser: float32 thresholds vs scikit-learn's float64 binning edges.
    check_close("hist_gradient_boosting", y, hgb.predict(hx_te), 1e-2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_pipeline(
            StandardScaler(),
            MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=600, random_state=5),
        ).fit(x_tr, y_tr)
    m = with_feature_names(export(mlp, len(names)), names)
    y = write_fixture(
        "mlp",
        m,
        x_te,
        names,
        "Pipeline(StandardScaler, MLPRegressor(32, 16), relu): MatMul/Add/Relu graph.",
    )
    check_close("mlp", y, mlp.predict(x_te), 1e-3)

    # Standard operators only (TopK, ReduceSumSquare, Scan, ...), some of which keep state
    # inside tract's run state: the fixture that shows whether one call's rows leak into the
    # next call's answers.
    knn = KNeighborsRegressor(n_neighbors=5).fit(x_tr, y_tr)
    m = with_feature_names(export(knn, len(names)), names)
    y = write_fixture(
        "knn",
        m,
        x_te,
        names,
        "KNeighborsRegressor(5 neighbours) on Friedman #1: standard operators only.",
    )
    check_close("knn", y, knn.predict(x_te), 1e-3)

    # One [N, 1] input per feature, named by the feature. skl2onnx only
    # joins several inputs in front of a Pipeline (a bare estimator accepts
    # one input), hence the pipeline; it joins them with ai.onnx.ml
    # FeatureVectorizer, not Concat.
    pf_names = names[:8]
    px_tr, py_tr, px_te, _ = friedman(seed=6, n_features=len(pf_names))
    pridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(px_tr, py_tr)
    m = to_onnx(pridge, initial_types=[(n, FloatTensorType([None, 1])) for n in pf_names])
    y = write_fixture(
        "per_feature",
        m,
        px_te,
        pf_names,
        "Pipeline(StandardScaler, Ridge) exported with one [N, 1] float input per feature "
        "(joined by ai.onnx.ml FeatureVectorizer); no feature_names metadata.",
        per_feature=True,
    )
    check_close("per_feature", y, pridge.predict(px_te), 1e-4)


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


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sklearn_fixtures()
    hand_built_fixtures()
    (OUT / "manifest.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    (OUT / "refusals.json").write_text(json.dumps(REFUSALS, indent=2) + "\n")
    for f in sorted(OUT.iterdir()):
        print(f"{f.stat().st_size:>10,}  {f.relative_to(OUT.parent.parent.parent.parent)}")
    for entry in MANIFEST:
        print(f"{entry['name']:<24} targets={entry['targets']}  ops={entry['ops']}")


if __name__ == "__main__":
    main()
