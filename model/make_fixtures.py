"""Correctness fixtures for the scoring crate: small ONNX models, test inputs
and onnxruntime's outputs, written to libs/scoring/tests/fixtures/.

Run with the pinned venv (model/requirements.txt), no arguments:

    .venv/bin/python model/make_fixtures.py

Everything is seeded, so a rerun reproduces the same data and models (ONNX
bytes may still differ across BLAS builds for the MLP, and in a few bytes for the KNN
export; the scores do not).

onnxruntime is the oracle: the Rust side must reproduce `<name>.y.f32` from
`<name>.onnx` and `<name>.x.f32`. The hand-built TreeEnsembleRegressor models
are also checked against a plain-Python evaluation of the ONNX-ML semantics,
so the fixtures cannot silently encode an onnxruntime quirk we did not mean.

The typed fixtures (typed/: JSON rows with string, int64, double and missing
values; classifiers) come from fixtures_typed.py and fixtures_boost.py, format in
typed_io.py; they are byte-stable only when written by this script (skl2onnx
numbers some node names per process).
"""


from fixture_io import *  # noqa: F401,F403 (the shared helpers and imports)
from fixtures_trees import hand_built_fixtures
from fixtures_typed import typed_fixtures
from fixtures_class_labels import main as class_labels
from fixtures_tree_ensemble5 import main as tree_ensemble5

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


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sklearn_fixtures()
    hand_built_fixtures()
    (OUT / "manifest.json").write_text(json.dumps(MANIFEST, indent=2) + "\n")
    (OUT / "refusals.json").write_text(json.dumps(REFUSALS, indent=2) + "\n")
    typed_fixtures()  # typed/: per-column inputs, classifiers, JSON rows (fixtures_typed.py)
    class_labels()  # class_labels/: classes behind a Normalizer, Cast, Identity (fixtures_class_labels.py)
    tree_ensemble5()  # tree_ensemble5/: opset 5 TreeEnsemble from the hand-built trees (fixtures_tree_ensemble5.py)
    for f in sorted(OUT.iterdir()):
        print(f"{f.stat().st_size:>10,}  {f.relative_to(OUT.parent.parent.parent.parent)}")
    for entry in MANIFEST:
        print(f"{entry['name']:<24} targets={entry['targets']}  ops={entry['ops']}")


if __name__ == "__main__":
    main()
