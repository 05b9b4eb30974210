"""Explanation fixtures: small ONNX models whose card holds node covers (model_card.py),
with rows and each reference library's own contributions, written to
libs/scoring/tests/fixtures/explain/.

Run with the pinned venvs (model/requirements.txt and model/requirements-explain.txt for
`shap`), no arguments:

    .venv/bin/python model/fixtures_explain.py

Format (<name>.json beside <name>.onnx):
    {"reference": "...", "space": "score" | "margin" | "probability",
     "features": [input feature names, schema order], "classes": [labels as text] or null,
     "targets": [the class each target is, as text] or null,   # a binary margin: the positive class
     "rows": [{feature: value or null}, ...],                   # as POST /predict takes them
     "expected": [{"base_values": [per target], "contributions": [[per feature] per target]}, ...],
     "tolerance": relative tolerance the reference allows}
     # relative to the largest |contribution| of the row and target for contributions (the
     # file's leaves are float32: a near-zero contribution is off by more, element-wise) and
     # to max(1, |base|) for base values
Refusals: {"refusal": "<substring the message must contain>"}.

Every fixture is checked here before it is written:
- the card's covers against the library's own node counts where it has them, node by node
  (scikit-learn n_node_samples without bootstrap/subsample and HistGradientBoosting's
  counts, LightGBM internal_count/leaf_count, XGBoost cover under squared error), exactly;
  elsewhere (bootstrap forests, hand-built trees) each branch == the sum of its children;
- local accuracy: base + sum of contributions == onnxruntime's answer in the fixture's
  space (a margin from onnxruntime's probability, or the library's own raw margin where
  the probabilities cannot give it back: softmax), to LOCAL_ACCURACY relative.
Seeded throughout, so a rerun writes the same expectations.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import shap
from lightgbm import LGBMClassifier, LGBMRegressor
from onnx import helper, numpy_helper
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR
from xgboost import DMatrix, XGBRegressor

from model_card import _Routing, explanation_stats, model_card, write_model_card

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "libs" / "scoring" / "tests" / "fixtures" / "explain"
LOCAL_ACCURACY = 1e-5
TRAIN = 600
ROWS = 12
FEATURES = ["age", "income", "debt", "tenure", "rate", "score"]
REPORT = []

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)


# --------------------------------------------------------------------------
# Data and model plumbing


def data(seed, nan=0.0, n=TRAIN + ROWS):
    """A regression target on six features, `nan` of the values missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    y = 10 + 3 * x[:, 0] + 2 * np.sin(2 * x[:, 1]) + x[:, 2] * x[:, 3] + 0.5 * rng.normal(size=n)
    if nan:
        x[rng.random(x.shape) < nan] = np.nan
    return x[:-ROWS], y[:-ROWS], x[-ROWS:]


def session(onx):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def matrix_model(onx, names=FEATURES):
    """Names the matrix input's columns (the schema reads `feature_names`) and sorts the
    opset imports (skl2onnx lists them in set order: byte-stable reruns)."""
    helper.set_model_props(onx, {"feature_names": json.dumps(list(names))})
    imports = sorted(onx.opset_import, key=lambda o: o.domain)
    del onx.opset_import[:]
    onx.opset_import.extend(imports)
    return onx


def with_card(onx, feeds, numeric, covers=True):
    """Writes the model card: profiles of the numeric training columns and, unless told
    not to, the covers / input means from the training rows `feeds`."""
    card = model_card(numeric, model=onx if covers else None, feeds=feeds if covers else None)
    write_model_card(onx, card)
    return card


def tree_nodes(onx):
    return [n for n in onx.graph.node if n.op_type.startswith("TreeEnsemble")]


def attrs(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v
    return out


def json_value(v):
    if isinstance(v, str):
        return v
    return None if np.isnan(v) else float(v)


def rows_json(x, names):
    if isinstance(x, pd.DataFrame):
        return [{n: json_value(r[n]) for n in names} for _, r in x.iterrows()]
    return [{n: json_value(v) for n, v in zip(names, r)} for r in x]


def save(name, onx, meta):
    onx.graph.name = name  # onnxmltools names the graph by a random uuid: byte-stable reruns
    onnx.checker.check_model(onx, full_check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(onx, OUT / f"{name}.onnx")
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    size = (OUT / f"{name}.onnx").stat().st_size
    assert size < 100_000, f"{name}: {size} bytes, keep fixtures small"
    return size


def local_accuracy(name, base, contrib, answer):
    """base [rows, T] + contrib [rows, T, F] summed == answer [rows, T], relative."""
    total = base + contrib.sum(axis=2)
    diff = np.abs(total - answer)
    rel = diff / np.maximum(np.abs(answer), 1.0)
    assert rel.max() <= LOCAL_ACCURACY, f"{name}: local accuracy off by {rel.max():.2e} relative"
    return float(diff.max())


def fixture(name, onx, *, reference, space, features, rows, base, contrib, answer,
            classes=None, targets=None, tolerance=1e-5, note=""):
    """Checks local accuracy against `answer` (onnxruntime in `space`) and writes it."""
    base = np.asarray(base, dtype=np.float64).reshape(len(rows), -1)
    contrib = np.asarray(contrib, dtype=np.float64).reshape(len(rows), base.shape[1], len(features))
    answer = np.asarray(answer, dtype=np.float64).reshape(base.shape)
    diff = local_accuracy(name, base, contrib, answer)
    note = (from_onnx(name, onx, rows, features, base, contrib) + " " + note).strip()
    expected = [{"base_values": [float(b) for b in base[i]],
                 "contributions": [[float(c) for c in t] for t in contrib[i]]} for i in range(len(rows))]
    meta = {"reference": reference, "space": space, "features": list(features),
            "classes": None if classes is None else [str(c) for c in classes],
            "targets": None if targets is None else [str(c) for c in targets],
            "rows": rows, "expected": expected, "tolerance": tolerance}
    size = save(name, onx, meta)
    REPORT.append(f"{name:28s} {reference:55s} local accuracy max |diff| {diff:.1e}  {size:,} B {note}")


def from_onnx(name, onx, rows, features, base, contrib):
    """What the runtime can reproduce: TreeSHAP (shap's, with the card's covers) on the trees
    as the ONNX file stores them (float32 leaves and thresholds), for a lone opset 1-3 tree
    op reading the matrix input, against the expected values, relative to the row's largest
    |contribution| (element-wise relative fails on near-zero ones: float32 leaves)."""
    nodes = tree_nodes(onx)
    if len(nodes) != 1 or nodes[0].op_type == "TreeEnsemble" or nodes[0].input[0] != "features":
        return ""
    node, a = nodes[0], attrs(nodes[0])
    if a.get("aggregate_function", b"SUM") != b"SUM":
        return ""
    card = json.loads({p.key: p.value for p in onx.metadata_props}["model_card"])
    n_targets = len(set(a.get("class_ids", a.get("target_ids", [0]))))
    offset = np.zeros(n_targets)
    if "base_values" in a:
        offset = np.asarray(a["base_values"], np.float32).astype(np.float64)[:n_targets]
    x = np.array([[np.nan if r[f] is None else r[f] for f in features] for r in rows], np.float32)
    b, c = shap_on_onnx(node, card["covers"][node.name], n_targets, x, offset)
    scale = np.maximum(np.abs(contrib).max(axis=2, keepdims=True), 1e-12)
    worst = max(float((np.abs(c - contrib) / scale).max()),
                float((np.abs(b - base) / np.maximum(np.abs(base), 1.0)).max()))
    assert worst <= LOCAL_ACCURACY, f"{name}: the ONNX trees give {worst:.1e} off the reference"
    return f"[ONNX-side TreeSHAP vs reference {worst:.1e} of row scale]"


def refusal(name, onx, substring):
    size = save(name, onx, {"refusal": substring})
    REPORT.append(f"{name:28s} refusal: {substring!r}  {size:,} B")


# --------------------------------------------------------------------------
# Cover checks against the libraries' own counts


def covers_by_tree(onx, card, node):
    """{tree id: (node ids, covers)} of an opset 1-3 tree node's covers."""
    a = attrs(node)
    c = np.asarray(card["covers"][node.name])
    tids, nids = np.asarray(a["nodes_treeids"]), np.asarray(a["nodes_nodeids"])
    return {t: (nids[tids == t], c[tids == t]) for t in dict.fromkeys(tids.tolist())}


def check_sklearn_covers(name, card, node, trees):
    """`trees`: the estimator's trees in ONNX tree order (skl2onnx keeps node ids)."""
    by_tree = covers_by_tree(None, card, node)
    assert len(by_tree) == len(trees), (name, len(by_tree), len(trees))
    for (ids, c), tree in zip(by_tree.values(), trees):
        ref = tree.tree_.n_node_samples[ids]
        assert (c == ref).all(), f"{name}: covers differ from n_node_samples"


def check_walk_covers(name, card, node, roots, children, count):
    """Walks each ONNX tree beside the library's (true branch == the library's first child):
    every node's cover must equal the library's count. `children(lib node)` -> (yes, no) or
    None for a leaf; `count(lib node)` its row count."""
    r = _Routing(node)
    c = np.asarray(card["covers"][node.name])
    assert len(roots) == len(r.roots), (name, len(roots), len(r.roots))
    stack = list(zip(r.roots.tolist(), roots))
    seen = 0
    while stack:
        k, lib = stack.pop()
        seen += 1
        assert c[k] == round(count(lib)), f"{name}: cover {c[k]} vs the library's {count(lib)}"
        kids = children(lib)
        assert (kids is None) == (r.mode[k] < 0), f"{name}: tree shapes differ"
        if kids is not None:
            stack += [(int(r.true[k]), kids[0]), (int(r.false[k]), kids[1])]
    assert seen == len(c), f"{name}: walked {seen} of {len(c)} nodes"


def check_cover_sums(name, onx, card):
    """The runtime's checks: root == rows, each branch == the sum of its children."""
    for node in tree_nodes(onx):
        r = _Routing(node)
        c = np.asarray(card["covers"][node.name])
        branch = r.mode >= 0
        assert (c[branch] == c[r.true[branch]] + c[r.false[branch]]).all(), name
        assert len(set(c[r.roots].tolist())) == 1 and c[r.roots].min() > 0, name


# --------------------------------------------------------------------------
# shap on ONNX trees with the card's covers (random forests: their own covers are bootstrap
# counts, so the reference is shap's TreeSHAP given the covers the card holds)


def shap_trees(node, covers, n_targets):
    """shap's dict-of-trees model of an opset 1-3 tree node: left = the true branch,
    BRANCH_LT turned into <= the float32 below (same routing on float32 inputs)."""
    a = attrs(node)
    r = _Routing(node)
    cls = node.op_type == "TreeEnsembleClassifier"
    t_ids = np.asarray(a["class_treeids" if cls else "target_treeids"])
    n_ids = np.asarray(a["class_nodeids" if cls else "target_nodeids"])
    k_ids = np.asarray(a["class_ids" if cls else "target_ids"])
    w = np.asarray(a["class_weights" if cls else "target_weights"], dtype=np.float32).astype(np.float64)
    tids, nids = np.asarray(a["nodes_treeids"]), np.asarray(a["nodes_nodeids"])
    index = {(t, i): k for k, (t, i) in enumerate(zip(tids.tolist(), nids.tolist()))}
    values = np.zeros((len(tids), n_targets))
    for t, i, k, v in zip(t_ids.tolist(), n_ids.tolist(), k_ids.tolist(), w):
        values[index[(t, i)], k] += v
    covers = np.asarray(covers, dtype=np.float64)
    trees = []
    for tree in dict.fromkeys(tids.tolist()):
        at = np.flatnonzero(tids == tree)
        local = {g: j for j, g in enumerate(at)}
        mode = r.mode[at]
        assert set(mode.tolist()) <= {-1, 0, 1}, "only BRANCH_LEQ / BRANCH_LT here"
        thr = r.threshold[at].copy()
        lt = mode == 1
        thr[lt] = np.nextafter(thr[lt], np.float32(-np.inf))
        leaf = mode < 0
        left = np.array([-1 if leaf[j] else local[r.true[g]] for j, g in enumerate(at)])
        right = np.array([-1 if leaf[j] else local[r.false[g]] for j, g in enumerate(at)])
        default = np.where(r.nan_true[at], left, right)
        # shap's tree_path_dependent needs each node's value; only leaves matter to TreeSHAP.
        trees.append({"children_left": left, "children_right": right, "children_default": default,
                      "features": np.where(leaf, -2, r.feature[at]), "thresholds": thr.astype(np.float64),
                      "values": values[at], "node_sample_weight": covers[at]})
    return trees


def shap_on_onnx(node, covers, n_targets, x, base_offset):
    model = {"trees": shap_trees(node, covers, n_targets), "base_offset": base_offset,
             "tree_output": "raw_value", "input_dtype": np.float64, "internal_dtype": np.float64}
    ex = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent", model_output="raw")
    sv = np.asarray(ex.shap_values(np.asarray(x, dtype=np.float64), check_additivity=False))
    sv = sv.reshape(len(x), -1, n_targets) if sv.ndim == 3 else sv.reshape(len(x), -1, 1)
    return np.broadcast_to(np.asarray(ex.expected_value, dtype=np.float64), (len(x), n_targets)), \
        np.transpose(sv, (0, 2, 1))


def sklearn_shap(model, x):
    """shap's TreeExplainer on a scikit-learn estimator, its own covers: (base [rows, T],
    contributions [rows, T, F])."""
    ex = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    sv = np.asarray(ex.shap_values(np.asarray(x, dtype=np.float64), check_additivity=False))
    if sv.ndim == 2:
        sv = sv[:, None, :]
    else:
        sv = np.transpose(sv, (0, 2, 1))
    base = np.broadcast_to(np.ravel(ex.expected_value).astype(np.float64), (len(x), sv.shape[1]))
    return base, sv


# --------------------------------------------------------------------------
# Brute-force path-dependent Shapley values (Lundberg et al. 2018, "Consistent individualized
# feature attribution for tree ensembles", Algorithm 1 under the Shapley weights): exponential
# in the features, so only for few; routes with model_card's routing, so every ONNX mode
# (BRANCH_MEMBER, NEQ, ...) is covered, which shap's <=-only trees are not.


def a_base(node):
    return np.asarray(attrs(node).get("base_values", [0.0]), np.float32).astype(np.float64)


def leaf_values(node, r, n_targets):
    a = attrs(node)
    vals = np.zeros((len(r.mode), n_targets))
    f32 = lambda w: np.asarray(w, np.float32).astype(np.float64)
    if node.op_type == "TreeEnsemble":
        first = len(a["nodes_featureids"])
        for j, (t, w) in enumerate(zip(a["leaf_targetids"], f32(a["leaf_weights"]))):
            vals[first + j, t] += w
        return vals
    cls = node.op_type == "TreeEnsembleClassifier"
    index = {(t, i): k for k, (t, i) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"]))}
    keys = ("class_treeids", "class_nodeids", "class_ids", "class_weights") if cls else \
        ("target_treeids", "target_nodeids", "target_ids", "target_weights")
    for t, i, k, w in zip(a[keys[0]], a[keys[1]], a[keys[2]], f32(a[keys[3]])):
        vals[index[(t, i)], k] += w
    return vals


def brute_force_shap(node, covers, n_targets, x, n_features, base_values):
    """(base [rows, T], contributions [rows, T, F]) of a SUM ensemble: each coalition S's
    value E[f | x_S] follows x where the feature is in S and splits by covers elsewhere."""
    from itertools import combinations
    from math import factorial

    r = _Routing(node)
    vals = leaf_values(node, r, n_targets)
    cov = np.asarray(covers, dtype=np.float64)
    assert cov.min() > 0, "every node needs a positive cover here"

    def expect(k, row, s):
        if r.mode[k] < 0:
            return vals[k]
        if r.feature[k] in s:
            return expect(r.step(np.array([k]), np.array([row[r.feature[k]]], np.float32))[0], row, s)
        t, f = r.true[k], r.false[k]
        return (cov[t] * expect(t, row, s) + cov[f] * expect(f, row, s)) / cov[k]

    feats = range(n_features)
    subsets = [frozenset(c) for m in range(n_features + 1) for c in combinations(feats, m)]
    base = np.zeros((len(x), n_targets))
    contrib = np.zeros((len(x), n_targets, n_features))
    for i, row in enumerate(np.asarray(x, np.float32)):
        value = {s: np.asarray(base_values, np.float64) + sum(expect(k, row, s) for k in r.roots)
                 for s in subsets}
        base[i] = value[frozenset()]
        for f in feats:
            for s in subsets:
                if f not in s:
                    w = factorial(len(s)) * factorial(n_features - len(s) - 1) / factorial(n_features)
                    contrib[i, :, f] += w * (value[s | {f}] - value[s])
    return base, contrib


# --------------------------------------------------------------------------
# The fixtures


def lgbm_regressor():
    x, y, xt = data(1, nan=0.08)
    m = LGBMRegressor(n_estimators=25, num_leaves=8, min_child_samples=10, learning_rate=0.2,
                      random_state=1, verbose=-1, deterministic=True, n_jobs=1).fit(x, y)
    onx = matrix_model(convert_lightgbm(m, initial_types=[("features", MLFloat([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("lgbm_regressor", onx, card)
    check_lgb_covers("lgbm_regressor", card, tree_nodes(onx)[0], m)
    pc = m.booster_.predict(xt, pred_contrib=True)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("lgbm_regressor", onx, reference="lightgbm pred_contrib", space="score", features=FEATURES,
            rows=rows_json(xt, FEATURES), base=pc[:, -1], contrib=pc[:, :-1], answer=score,
            note="(8% NaN)")


def check_lgb_covers(name, card, node, m):
    """LightGBM's internal_count / leaf_count, node by node (its `<=` splits: left is true)."""
    trees = [t["tree_structure"] for t in m.booster_.dump_model()["tree_info"]]
    assert all(t.get("decision_type", "<=") == "<=" for t in trees)
    check_walk_covers(name, card, node, trees,
                      lambda n: (n["left_child"], n["right_child"]) if "left_child" in n else None,
                      lambda n: n.get("internal_count", n.get("leaf_count")))


def xgb_regressor():
    x, y, xt = data(2, nan=0.08)
    m = XGBRegressor(n_estimators=20, max_depth=3, learning_rate=0.3, objective="reg:squarederror",
                     random_state=2, n_jobs=1).fit(x, y)
    onx = matrix_model(convert_xgboost(m, initial_types=[("features", MLFloat([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("xgb_regressor", onx, card)
    # XGBoost's cover is the hessian sum: the row count under squared error. Its `<` splits:
    # Yes is true.
    df = m.get_booster().trees_to_dataframe().set_index("ID")
    check_walk_covers("xgb_regressor", card, tree_nodes(onx)[0],
                      [f"{t}-0" for t in sorted(df["Tree"].unique())],
                      lambda i: None if df.at[i, "Feature"] == "Leaf" else (df.at[i, "Yes"], df.at[i, "No"]),
                      lambda i: df.at[i, "Cover"])
    pc = m.get_booster().predict(DMatrix(xt, missing=np.nan), pred_contribs=True)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("xgb_regressor", onx, reference="xgboost pred_contribs", space="score", features=FEATURES,
            rows=rows_json(xt, FEATURES), base=pc[:, -1], contrib=pc[:, :-1], answer=score,
            note="(8% NaN)")


def gbr_sklearn():
    x, y, xt = data(3)
    m = GradientBoostingRegressor(n_estimators=30, max_depth=3, learning_rate=0.1, random_state=3).fit(x, y)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("gbr_sklearn", onx, card)
    check_sklearn_covers("gbr_sklearn", card, tree_nodes(onx)[0], m.estimators_[:, 0])
    base, contrib = sklearn_shap(m, xt)
    # The ONNX-side builder agrees with shap on the estimator (it serves the forests below).
    node = tree_nodes(onx)[0]
    b2, c2 = shap_on_onnx(node, card["covers"][node.name], 1, xt, float(attrs(node)["base_values"][0]))
    assert np.abs(c2 - contrib).max() < 1e-5 and np.abs(b2 - base).max() < 1e-5, "shap_on_onnx"
    # And the brute-force definition agrees with both (it serves the opset 5 modes below).
    b3, c3 = brute_force_shap(node, card["covers"][node.name], 1, xt, len(FEATURES), a_base(node))
    assert np.abs(c3 - contrib).max() < 1e-5 and np.abs(b3 - base).max() < 1e-5, "brute_force_shap"
    (score,) = session(onx).run(None, {"features": xt})
    fixture("gbr_sklearn", onx, reference="shap TreeExplainer tree_path_dependent", space="score",
            features=FEATURES, rows=rows_json(xt, FEATURES), base=base, contrib=contrib, answer=score)
    return onx, xt, base, contrib, score


def tree_ensemble_opset5(gbr):
    """The gbr_sklearn model with its TreeEnsembleRegressor rewritten as ai.onnx.ml opset 5's
    TreeEnsemble by hand (skl2onnx 1.20 and onnxmltools 1.16 do not emit it, even when asked
    for ml opset 5). Same trees, so the same expected contributions; covers in opset 5 order."""
    onx, xt, base, contrib, score = gbr
    m = onnx.ModelProto()
    m.CopyFrom(onx)
    old = tree_nodes(m)[0]
    a = attrs(old)
    r = _Routing(old)
    branch = np.flatnonzero(r.mode >= 0)
    leaves = np.flatnonzero(r.mode < 0)
    b_index = {g: j for j, g in enumerate(branch)}
    l_index = {g: j for j, g in enumerate(leaves)}
    tids, nids = np.asarray(a["nodes_treeids"]), np.asarray(a["nodes_nodeids"])
    leaf_w = {(t, i): w for t, i, w in zip(a["target_treeids"], a["target_nodeids"], a["target_weights"])}
    modes = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
    child = lambda g: (l_index[g], 1) if r.mode[g] < 0 else (b_index[g], 0)
    new = helper.make_node(
        "TreeEnsemble", [old.input[0]], [old.output[0]], name="TreeEnsemble", domain="ai.onnx.ml",
        n_targets=1, aggregate_function=1, post_transform=0,
        tree_roots=[b_index[g] for g in r.roots],
        nodes_featureids=[int(r.feature[g]) for g in branch],
        nodes_splits=numpy_helper.from_array(r.threshold[branch].astype(np.float32)),
        nodes_modes=numpy_helper.from_array(np.array([modes[int(r.mode[g])] for g in branch], np.uint8)),
        nodes_truenodeids=[child(r.true[g])[0] for g in branch],
        nodes_trueleafs=[child(r.true[g])[1] for g in branch],
        nodes_falsenodeids=[child(r.false[g])[0] for g in branch],
        nodes_falseleafs=[child(r.false[g])[1] for g in branch],
        nodes_missing_value_tracks_true=[int(r.nan_true[g]) for g in branch],
        leaf_targetids=[0] * len(leaves),
        leaf_weights=numpy_helper.from_array(
            np.array([leaf_w[(tids[g], nids[g])] for g in leaves], np.float32)),
    )
    # The base value: an Add after the op (TreeEnsemble has no base_values attribute).
    bias = float(a["base_values"][0])
    new.output[0] = "tree_sum"
    add = helper.make_node("Add", ["tree_sum", "tree_bias"], [old.output[0]], name="add_bias")
    nodes = [n for n in m.graph.node if n is not old]
    del m.graph.node[:]
    m.graph.node.extend([new, add] + [n for n in nodes if n.name != old.name])
    m.graph.initializer.append(numpy_helper.from_array(np.array([bias], np.float32), "tree_bias"))
    for o in m.opset_import:
        if o.domain == "ai.onnx.ml":
            o.version = 5
        elif o.domain == "":
            o.version = max(o.version, 21)
    x, _, _ = data(3)
    card = with_card(m, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    cov = np.asarray(card["covers"]["TreeEnsemble"])
    old_cov = np.asarray(json.loads({p.key: p.value for p in onx.metadata_props}["model_card"])["covers"][old.name])
    assert (cov == np.concatenate([old_cov[branch], old_cov[leaves]])).all(), "opset 5 covers"
    (score5,) = session(m).run(None, {"features": xt})
    assert np.abs(score5 - score).max() <= 1e-6 * np.abs(score).max(), "TreeEnsemble vs TreeEnsembleRegressor"
    fixture("gbr_tree_ensemble_opset5", m, reference="shap TreeExplainer tree_path_dependent", space="score",
            features=FEATURES, rows=rows_json(xt, FEATURES), base=base, contrib=contrib, answer=score5,
            note="(hand-converted)")


MEMBER_FEATURES = ["kind", "x1", "x2", "x3"]
# Hand-built trees (feature index into MEMBER_FEATURES): (mode, feature, threshold or member
# set, missing tracks true, true subtree, false subtree) or a leaf weight. Every mode of the
# opset 5 operator, NaN routed both ways.
MEMBER_TREES = [
    ("BRANCH_MEMBER", 0, [1.0, 3.0], 1,
     ("BRANCH_LEQ", 1, 0.0, 0, -1.5, 0.75),
     ("BRANCH_GT", 2, 0.5, 1, 2.0, ("BRANCH_EQ", 0, 4.0, 0, -0.5, 0.25))),
    ("BRANCH_LT", 3, 0.2, 0,
     ("BRANCH_MEMBER", 0, [0.0, 2.0, 5.0], 0, 1.25, -1.0),
     ("BRANCH_GTE", 1, -0.5, 1, ("BRANCH_NEQ", 0, 2.0, 0, 0.5, -2.5), 3.0)),
    ("BRANCH_NEQ", 2, 0.0, 0, ("BRANCH_MEMBER", 0, [4.0], 1, 0.125, -0.375), 1.0),
]


def flatten_trees(trees):
    """Opset 5 TreeEnsemble attributes of MEMBER_TREES: internal nodes in preorder, leaves in
    the order they are met."""
    codes = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4,
             "BRANCH_NEQ": 5, "BRANCH_MEMBER": 6}
    nodes, leaves, members = [], [], []

    def visit(t):
        if not isinstance(t, tuple):
            leaves.append(float(t))
            return len(leaves) - 1, 1
        k = len(nodes)
        mode, f, v, mtt, yes, no = t
        nodes.append(None)
        if mode == "BRANCH_MEMBER":
            members.extend(v + [np.nan])
        tid, tleaf = visit(yes)
        fid, fleaf = visit(no)
        nodes[k] = (codes[mode], f, 0.0 if mode == "BRANCH_MEMBER" else v, mtt, tid, tleaf, fid, fleaf)
        return k, 0

    roots = [visit(t)[0] for t in trees]
    col = lambda j: [n[j] for n in nodes]
    return dict(
        n_targets=1, aggregate_function=1, post_transform=0, tree_roots=roots,
        nodes_modes=numpy_helper.from_array(np.array(col(0), np.uint8)),
        nodes_featureids=col(1),
        nodes_splits=numpy_helper.from_array(np.array(col(2), np.float32)),
        nodes_missing_value_tracks_true=col(3),
        nodes_truenodeids=col(4), nodes_trueleafs=col(5),
        nodes_falsenodeids=col(6), nodes_falseleafs=col(7),
        membership_values=numpy_helper.from_array(np.array(members[:-1], np.float32)),
        leaf_targetids=[0] * len(leaves),
        leaf_weights=numpy_helper.from_array(np.array(leaves, np.float32)),
    )


def tree_ensemble_member():
    """ai.onnx.ml opset 5 TreeEnsemble built by hand with BRANCH_MEMBER and every other mode,
    NaN in every column; the reference is the brute-force definition on the card's covers."""
    rng = np.random.default_rng(12)
    n = 400 + ROWS
    x = np.column_stack([rng.integers(0, 6, n).astype(np.float32),
                         rng.normal(size=(n, 3)).astype(np.float32)])
    x[rng.random(x.shape) < 0.1] = np.nan
    x[::25, 2] = 0.0  # exactly on the NEQ threshold (so its false branch has a cover), rows too
    x, xt = x[:-ROWS], x[-ROWS:]
    for i in range(4):  # a missing value in each column, among the rows
        xt[i, i] = np.nan
    xt[5, [0, 2]] = np.nan
    node = helper.make_node("TreeEnsemble", ["features"], ["tree_sum"], name="member_trees",
                            domain="ai.onnx.ml", **flatten_trees(MEMBER_TREES))
    add = helper.make_node("Add", ["tree_sum", "bias"], ["variable"], name="add_bias")
    g = helper.make_graph(
        [node, add], "tree_ensemble_member",
        [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("variable", onnx.TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(np.array([0.5], np.float32), "bias")])
    onx = helper.make_model(g, ir_version=10, opset_imports=[helper.make_opsetid("", 21),
                                                             helper.make_opsetid("ai.onnx.ml", 5)])
    onx = matrix_model(onx, MEMBER_FEATURES)
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(MEMBER_FEATURES)})
    check_cover_sums("tree_ensemble_member", onx, card)
    base, contrib = brute_force_shap(node, card["covers"][node.name], 1, xt, 4, [0.5])
    (score,) = session(onx).run(None, {"features": xt})
    fixture("tree_ensemble_member", onx, reference="brute-force path-dependent Shapley, the card's covers",
            space="score", features=MEMBER_FEATURES, rows=rows_json(xt, MEMBER_FEATURES), base=base,
            contrib=contrib, answer=score, note="(hand-built, all modes, 10% NaN)")


def hgb_regressor():
    """HistGradientBoosting with NaN: its missing values go where training sent them
    (nodes_missing_value_tracks_true), and its nodes count the rows (no early stopping)."""
    from fixture_io import bool_safe_missing_tracks

    x, y, xt = data(13, nan=0.08)
    m = HistGradientBoostingRegressor(max_iter=20, max_leaf_nodes=8, early_stopping=False,
                                      random_state=13).fit(x, y)
    with bool_safe_missing_tracks():
        onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("hgb_regressor", onx, card)
    check_walk_covers("hgb_regressor", card, tree_nodes(onx)[0], [(p[0].nodes, 0) for p in m._predictors],
                      lambda n: None if n[0][n[1]]["is_leaf"] else
                      ((n[0], n[0][n[1]]["left"]), (n[0], n[0][n[1]]["right"])),
                      lambda n: n[0][n[1]]["count"])
    base, contrib = sklearn_shap(m, xt)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("hgb_regressor", onx, reference="shap TreeExplainer tree_path_dependent", space="score",
            features=FEATURES, rows=rows_json(xt, FEATURES), base=base, contrib=contrib, answer=score,
            note="(8% NaN)")


def rf_regressor():
    x, y, xt = data(4)
    m = RandomForestRegressor(n_estimators=8, max_depth=4, random_state=4, n_jobs=1).fit(x, y)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("rf_regressor", onx, card)
    node = tree_nodes(onx)[0]
    a = attrs(node)
    assert a.get("aggregate_function", b"SUM") == b"SUM"
    base, contrib = shap_on_onnx(node, card["covers"][node.name], 1, xt, 0.0)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("rf_regressor", onx, reference="shap TreeExplainer tree_path_dependent, the card's covers",
            space="score", features=FEATURES, rows=rows_json(xt, FEATURES), base=base, contrib=contrib,
            answer=score)


def gbc_binary():
    x, y, xt = data(5)
    labels = np.where(y > np.median(y), "good", "bad")
    m = GradientBoostingClassifier(n_estimators=25, max_depth=3, random_state=5).fit(x, labels)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
                               options={id(m): {"zipmap": False}}))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("gbc_binary", onx, card)
    check_sklearn_covers("gbc_binary", card, tree_nodes(onx)[0], m.estimators_[:, 0])
    base, contrib = sklearn_shap(m, xt)
    _, proba = session(onx).run(None, {"features": xt})
    p = proba[:, 1].astype(np.float64)
    margin = np.log(p / (1 - p))
    raw = m.decision_function(xt)
    # The library's own margin too (onnxruntime's float32 probability limits the logit's precision).
    raw_diff = float(np.abs(base[:, 0] + contrib.sum(axis=(1, 2)) - raw).max())
    assert raw_diff < 1e-6, "gbc raw margin"
    fixture("gbc_binary", onx, reference="shap TreeExplainer tree_path_dependent", space="margin",
            features=FEATURES, classes=m.classes_, targets=[m.classes_[1]], rows=rows_json(xt, FEATURES),
            base=base, contrib=contrib, answer=margin, note=f"(margin = logit of ORT's p; vs decision_function {raw_diff:.1e})")


def lgbm_multiclass():
    x, y, xt = data(6, nan=0.08)
    k = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    m = LGBMClassifier(n_estimators=12, num_leaves=6, min_child_samples=10, random_state=6, verbose=-1,
                       deterministic=True, n_jobs=1).fit(x, k)
    onx = matrix_model(convert_lightgbm(m, initial_types=[("features", MLFloat([None, len(FEATURES)]))],
                                        zipmap=False))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("lgbm_multiclass", onx, card)
    check_lgb_covers("lgbm_multiclass", card, tree_nodes(onx)[0], m)
    f = len(FEATURES)
    pc = m.booster_.predict(xt, pred_contrib=True).reshape(len(xt), 3, f + 1)
    raw = m.booster_.predict(xt, raw_score=True)
    _, proba = session(onx).run(None, {"features": xt})
    total = pc.sum(axis=2)
    soft = np.exp(total - total.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    soft_diff = float(np.abs(soft - proba).max())
    assert soft_diff < 1e-5, f"softmax of the margins vs onnxruntime: {soft_diff}"
    fixture("lgbm_multiclass", onx, reference="lightgbm pred_contrib", space="margin", features=FEATURES,
            classes=m.classes_, targets=m.classes_, rows=rows_json(xt, FEATURES), base=pc[:, :, -1],
            contrib=pc[:, :, :-1], answer=raw, note=f"(margins: raw_score; softmax vs ORT's p {soft_diff:.1e})")


def lgbm_binary():
    """LightGBM binary: one margin (the positive class's) behind a LOGISTIC; its SHAP weighs
    by row counts too."""
    x, y, xt = data(14, nan=0.08)
    labels = np.where(y > np.median(y), "yes", "no")
    m = LGBMClassifier(n_estimators=15, num_leaves=6, min_child_samples=10, random_state=14, verbose=-1,
                       deterministic=True, n_jobs=1).fit(x, labels)
    onx = matrix_model(convert_lightgbm(m, initial_types=[("features", MLFloat([None, len(FEATURES)]))],
                                        zipmap=False))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("lgbm_binary", onx, card)
    check_lgb_covers("lgbm_binary", card, tree_nodes(onx)[0], m)
    pc = m.booster_.predict(xt, pred_contrib=True)
    raw = m.booster_.predict(xt, raw_score=True)
    raw_diff = float(np.abs(pc.sum(axis=1) - raw).max())
    assert raw_diff < 1e-9, raw_diff
    _, proba = session(onx).run(None, {"features": xt})
    p1 = proba[:, 1].astype(np.float64)
    fixture("lgbm_binary", onx, reference="lightgbm pred_contrib", space="margin", features=FEATURES,
            classes=m.classes_, targets=[m.classes_[1]], rows=rows_json(xt, FEATURES), base=pc[:, -1],
            contrib=pc[:, :-1], answer=np.log(p1 / (1 - p1)), note="(8% NaN; margin = logit of ORT's p)")


def rf_classifier():
    x, y, xt = data(7)
    k = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    m = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=7, n_jobs=1).fit(x, k)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
                               options={id(m): {"zipmap": False}}))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("rf_classifier", onx, card)
    node = tree_nodes(onx)[0]
    a = attrs(node)
    assert a["post_transform"] == b"NONE"
    base, contrib = shap_on_onnx(node, card["covers"][node.name], 3, xt, np.zeros(3))
    _, proba = session(onx).run(None, {"features": xt})
    fixture("rf_classifier", onx, reference="shap TreeExplainer tree_path_dependent, the card's covers",
            space="probability", features=FEATURES, classes=m.classes_, targets=m.classes_,
            rows=rows_json(xt, FEATURES), base=base, contrib=contrib, answer=proba)


def column_transformer():
    """One-hot on a string column, a median imputer on numeric columns with NaN, then
    gradient boosting: contributions of the internal columns summed back per input feature."""
    x, y, xt = data(8, nan=0.1)
    num = FEATURES[:4]
    rng = np.random.default_rng(8)
    colors = np.array(["red", "white", "rose"])
    c = colors[rng.integers(0, 3, size=len(x) + len(xt))]
    y = y + np.where(c[: len(x)] == "red", 1.5, 0.0)
    df = pd.DataFrame(x[:, :4], columns=num).assign(color=c[: len(x)])
    dt = pd.DataFrame(xt[:, :4], columns=num).assign(color=c[len(x):])
    features = num + ["color"]
    prep = ColumnTransformer([("num", SimpleImputer(strategy="median"), num),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])])
    m = Pipeline([("prep", prep), ("gbr", GradientBoostingRegressor(n_estimators=25, max_depth=3, random_state=8))])
    m.fit(df, y)
    inputs = [(n, FloatTensorType([None, 1])) for n in num] + [("color", StringTensorType([None, 1]))]
    onx = to_onnx(m, initial_types=inputs)
    imports = sorted(onx.opset_import, key=lambda o: o.domain)
    del onx.opset_import[:]
    onx.opset_import.extend(imports)
    feeds = lambda d: {**{n: d[[n]].to_numpy(np.float32) for n in num}, "color": d[["color"]].to_numpy(object)}
    card = with_card(onx, feeds(df), {n: df[n].to_numpy(np.float32) for n in num})
    check_cover_sums("column_transformer", onx, card)
    gbr = m.named_steps["gbr"]
    check_sklearn_covers("column_transformer", card, tree_nodes(onx)[0], gbr.estimators_[:, 0])
    z = prep.transform(dt)
    base, inner = sklearn_shap(gbr, z)
    # Internal columns -> input features: the imputed columns one each, the one-hot ones to color.
    owner = [features.index(n.split("__", 1)[1].split("_")[0] if n.startswith("cat__") else n.split("__", 1)[1])
             for n in prep.get_feature_names_out()]
    contrib = np.zeros((len(dt), 1, len(features)))
    for j, f in enumerate(owner):
        contrib[:, :, f] += inner[:, :, j]
    (score,) = session(onx).run(None, feeds(dt))
    fixture("column_transformer", onx, reference="shap TreeExplainer tree_path_dependent, summed per feature",
            space="score", features=features, rows=rows_json(dt, features), base=base, contrib=contrib,
            answer=score, note="(10% NaN imputed, one-hot color)")


def linear_regression():
    x, y, xt = data(9)
    m = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    node = [n for n in onx.graph.node if n.op_type == "LinearRegressor"][0]
    means = np.asarray(card["input_means"][node.name])
    a = attrs(node)
    coef = np.asarray(a["coefficients"], np.float32).astype(np.float64)
    intercept = float(np.float32(a["intercepts"][0]))
    # The linear op's input on the rows: the Scaler's output, as onnxruntime computes it.
    from model_card import _intermediates
    zt = np.asarray(_intermediates(onx, {"features": xt}, [node.input[0]])[node.input[0]], np.float64)
    contrib = coef * (zt - means)
    base = np.full(len(xt), intercept + coef @ means)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("linear_regression", onx, reference="coefficient x (value - card input mean)", space="score",
            features=FEATURES, rows=rows_json(xt, FEATURES), base=base, contrib=contrib, answer=score)


def voting_regressor():
    """Two tree ensembles averaged by the graph (Mul by the weights, then Sum)."""
    x, y, xt = data(10)
    gbr = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=10)
    et = ExtraTreesRegressor(n_estimators=5, max_depth=4, random_state=10, n_jobs=1)  # no bootstrap
    m = VotingRegressor([("gbr", gbr), ("et", et)]).fit(x, y)
    onx = matrix_model(to_onnx(m, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))
    card = with_card(onx, {"features": x}, {n: x[:, i] for i, n in enumerate(FEATURES)})
    check_cover_sums("voting_regressor", onx, card)
    g, e = m.estimators_
    nodes = tree_nodes(onx)
    assert len(nodes) == 2
    check_sklearn_covers("voting_regressor", card, nodes[0], g.estimators_[:, 0])
    check_sklearn_covers("voting_regressor", card, nodes[1], e.estimators_)
    b1, c1 = sklearn_shap(g, xt)
    b2, c2 = sklearn_shap(e, xt)
    (score,) = session(onx).run(None, {"features": xt})
    fixture("voting_regressor", onx, reference="shap TreeExplainer tree_path_dependent, averaged", space="score",
            features=FEATURES, rows=rows_json(xt, FEATURES), base=(b1 + b2) / 2, contrib=(c1 + c2) / 2,
            answer=score, note="(GBR + ExtraTrees)")


def refusals():
    x, y, _ = data(11)
    numeric = {n: x[:, i] for i, n in enumerate(FEATURES)}
    mt = lambda est: matrix_model(to_onnx(est, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))]))

    pca = make_pipeline(PCA(n_components=3, random_state=11),
                        GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=11)).fit(x, y)
    onx = mt(pca)
    assert "MatMul" in [n.op_type for n in onx.graph.node]
    card = with_card(onx, {"features": x}, numeric)
    assert "covers" in card
    refusal("refuse_pca_trees", onx, "MatMul")

    gbr = GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=11).fit(x, y)
    onx = mt(gbr)
    card = with_card(onx, {"features": x}, numeric, covers=False)
    assert "covers" not in card
    refusal("refuse_no_covers", onx, "covers")

    svr = SVR().fit(x[:200], y[:200])
    onx = mt(svr)
    with_card(onx, {"features": x}, numeric)
    refusal("refuse_svr", onx, "SVMRegressor")


def main():
    lgbm_regressor()
    xgb_regressor()
    gbr = gbr_sklearn()
    tree_ensemble_opset5(gbr)
    tree_ensemble_member()
    hgb_regressor()
    rf_regressor()
    gbc_binary()
    lgbm_binary()
    lgbm_multiclass()
    rf_classifier()
    column_transformer()
    linear_regression()
    voting_regressor()
    refusals()
    print(f"wrote {len(REPORT)} fixtures to {OUT.relative_to(HERE.parent)} (shap {shap.__version__}):")
    print("\n".join(REPORT))


if __name__ == "__main__":
    sys.exit(main())
