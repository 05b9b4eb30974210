"""Classifier and SVM fixtures for libs/scoring/tests/it/ops_classifiers.rs: converter
exports at their defaults (ZipMap off) plus hand-built single-node graphs, each
written as tests/fixtures/ops/<name>.onnx and <name>.json (named inputs, and
onnxruntime's named outputs as the expected values).

Run with the pinned venv, no arguments: /work/main/.venv/bin/python model/fixtures_classifiers.py
Everything is seeded."""

import json
import warnings

import lightgbm
import numpy as np
import onnx
import xgboost
from onnx import helper
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC, SVR, OneClassSVM

from fixture_io import OUT, bool_safe_missing_tracks, session, to_onnx
from fixtures_classifiers_hand import hand_built, refusals

OPS = OUT / "ops"
ROWS = 500
NAMES = []


def tensor_json(a):
    a = np.asarray(a)
    if a.dtype.kind in "OUS":
        return {"type": "string", "shape": list(a.shape), "data": [str(v) for v in a.ravel()]}
    if a.dtype.kind == "f":
        kind = "float64" if a.dtype == np.float64 else "float32"
        data = [None if np.isnan(v) else float(v) for v in a.ravel()]
        return {"type": kind, "shape": list(a.shape), "data": data}
    return {"type": "int64", "shape": list(a.shape), "data": [int(v) for v in a.ravel()]}


def write_case(name, model, feeds):
    """Saves the model and onnxruntime's outputs for `feeds` (input name -> array)."""
    onnx.checker.check_model(model, full_check=True)
    sess = session(model)
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(None, feeds)
    OPS.mkdir(parents=True, exist_ok=True)
    onnx.save(model, OPS / f"{name}.onnx")
    doc = {
        "inputs": {k: tensor_json(v) for k, v in feeds.items()},
        "outputs": {n: tensor_json(v) for n, v in zip(names, outs)},
    }
    (OPS / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")))
    NAMES.append(name)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name:40s} {', '.join(ops)}")


def data(n_classes, seed, nan_fraction=0.0):
    x, y = make_classification(
        n_samples=1000 + ROWS,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    x = x.astype(np.float32)
    if nan_fraction:
        rng = np.random.default_rng(seed)
        x[rng.random(x.shape) < nan_fraction] = np.nan
    return x[:1000], y[:1000], x[1000:]


def skl(model, x_train, options=None):
    opts = {id(model): {"zipmap": False}} if options is None else options
    with bool_safe_missing_tracks():
        return to_onnx(model, x_train[:1], options=opts)


def onnxmltools_export(convert, model, width, **kw):
    return convert(model, initial_types=[("X", MlFloat([None, width]))], **kw)


def sklearn_cases():
    for n_classes, tag in [(2, "binary"), (3, "multiclass")]:
        x, y, xt = data(n_classes, seed=n_classes)
        for name, clf in [
            ("random_forest", RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0)),
            ("gradient_boosting", GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)),
            ("logistic_regression", LogisticRegression(max_iter=500)),
            ("svc_proba", SVC(probability=True, random_state=0)),
            ("svc", SVC()),
        ]:
            clf.fit(x, y)
            write_case(f"{name}_{tag}", skl(clf, x), {"X": xt})
        xn, yn, xnt = data(n_classes, seed=10 + n_classes, nan_fraction=0.1)
        hgb = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(xn, yn)
        write_case(f"hist_gradient_boosting_nan_{tag}", skl(hgb, xn), {"X": xnt})

    # String labels.
    x, y, xt = data(3, seed=7)
    animals = np.array(["cat", "dog", "emu"])[y]
    for name, clf in [
        ("random_forest_strings", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0)),
        ("logistic_regression_strings", LogisticRegression(max_iter=500)),
        ("svc_proba_strings", SVC(probability=True, random_state=0)),
    ]:
        clf.fit(x, animals)
        write_case(name, skl(clf, x), {"X": xt})
    x, y, xt = data(2, seed=8)
    yes_no = np.array(["no", "yes"])[y]
    gb = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(x, yes_no)
    write_case("gradient_boosting_strings_binary", skl(gb, x), {"X": xt})
    # Integer labels other than 0..C-1.
    rf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0)
    rf.fit(x, np.array([3, 7])[y])
    write_case("random_forest_labels_3_7", skl(rf, x), {"X": xt})

    # Other kernels for the classifier.
    x, y, xt = data(3, seed=9)
    for kernel in ["linear", "poly", "sigmoid"]:
        clf = SVC(kernel=kernel, probability=True, random_state=0).fit(x, y)
        write_case(f"svc_proba_{kernel}_multiclass", skl(clf, x), {"X": xt})
    clf = SVC(kernel="poly", degree=2).fit(x[:, :4], y)
    write_case("svc_poly2_multiclass", skl(clf, x[:, :4]), {"X": xt[:, :4]})

    # Regressors, every kernel, and the one-class SVM.
    xr, yr = make_friedman1(n_samples=1000 + ROWS, n_features=6, random_state=3)
    xr = xr.astype(np.float32)
    for kernel in ["linear", "poly", "rbf", "sigmoid"]:
        svr = SVR(kernel=kernel, C=3.0).fit(xr[:1000], yr[:1000])
        write_case(f"svr_{kernel}", skl(svr, xr, options={}), {"X": xr[1000:]})
    oc = OneClassSVM(gamma="scale", nu=0.2).fit(xr[:1000])
    write_case("one_class_svm", skl(oc, xr, options={}), {"X": xr[1000:]})


def boosting_cases():
    # onnxmltools' LightGBM converter takes zipmap=False; its XGBoost one emits no ZipMap.
    for n_classes, tag in [(2, "binary"), (3, "multiclass")]:
        x, y, xt = data(n_classes, seed=20 + n_classes, nan_fraction=0.05)
        lgbm = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, random_state=0).fit(x, y)
        write_case(f"lightgbm_{tag}", onnxmltools_export(convert_lightgbm, lgbm, 8, zipmap=False), {"X": xt})
        xgb = xgboost.XGBClassifier(n_estimators=30, max_depth=4, random_state=0).fit(x, y)
        write_case(f"xgboost_{tag}", onnxmltools_export(convert_xgboost, xgb, 8), {"X": xt})


def main():
    warnings.filterwarnings("ignore")
    sklearn_cases()
    boosting_cases()
    x, _, xt = data(3, seed=30, nan_fraction=0.05)
    for name, model, feeds in hand_built(x, xt):
        write_case(name, model, feeds)
    for name, model in refusals(x):
        # Saved unchecked by onnxruntime: some it runs (with meaningless columns), some not.
        onnx.save(model, OPS / f"{name}.onnx")
        print(f"{name:40s} (refusal)")
    print(f"{len(NAMES)} fixtures in {OPS}")


if __name__ == "__main__":
    main()
