"""Typed fixtures from scikit-learn (libs/scoring/tests/fixtures/typed/): per-column
DataFrame pipelines (ColumnTransformer with string and numeric columns, missing
values, unseen categories), classifiers with and without ZipMap, SVMs, KNN,
double and int64 inputs. Format and helpers: typed_io.py."""

import warnings

import numpy as np
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Binarizer, Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR

from fixture_io import TEST_ROWS, TRAIN_ROWS, bool_safe_missing_tracks, with_feature_names
from typed_io import feature_types, rows_json, write_typed

NUMERIC = ["age", "income", "tenure_years", "balance"]
STRINGS = ["color", "region"]
COLORS = ["red", "green", "blue", "yellow"]
REGIONS = ["north", "south", "east", "west", "centre"]


def tabular(seed, n_classes=2, regression=False, int_col=False):
    """A DataFrame with float columns (NaN ~8%), string columns ("" ~8%) and, in the
    test part only, categories never seen in training ("purple", "overseas")."""
    rng = np.random.default_rng(seed)
    n = TRAIN_ROWS + TEST_ROWS
    df = pd.DataFrame(
        {
            "age": rng.normal(45, 12, n).round(1),
            "income": rng.lognormal(10.5, 0.5, n).round(0),
            "tenure_years": rng.uniform(0, 20, n).round(2),
            "balance": rng.normal(0, 1000, n).round(2),
        }
    ).astype(np.float32)
    df["color"] = rng.choice(COLORS, n)
    df["region"] = rng.choice(REGIONS, n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    if int_col:
        df["n_children"] = rng.poisson(1.5, n).astype(np.int64)
    z = (
        (df["age"] - 45) / 12
        + np.log(df["income"]) - 10.5
        + 0.1 * df["tenure_years"]
        + df["color"].map({"red": 1.0, "green": -0.5, "blue": 0.0, "yellow": 0.7})
        + df["region"].map({"north": 0.5, "south": -0.5, "east": 0.2, "west": -0.2, "centre": 0})
    )
    if int_col:
        z = z + 0.4 * df["n_children"]
    z = z.to_numpy(dtype=np.float64) + rng.normal(0, 0.5, n)
    # Missing values after the target is computed: the model has to cope.
    for c in NUMERIC:
        df.loc[rng.random(n) < 0.08, c] = np.nan
    for c in STRINGS:
        df.loc[rng.random(n) < 0.08, c] = ""
    test = slice(TRAIN_ROWS, n)
    unseen = np.zeros(n, dtype=bool)
    unseen[test] = rng.random(TEST_ROWS) < 0.05
    df.loc[unseen, "color"] = "purple"
    unseen[test] = rng.random(TEST_ROWS) < 0.05
    df.loc[unseen, "region"] = "overseas"
    if regression:
        y = 100 * z
    elif n_classes == 2:
        y = np.where(z > np.median(z), "good", "bad")
    else:
        names = np.array(["low", "medium", "high", "premium"][:n_classes])
        y = names[np.digitize(z, np.quantile(z, np.linspace(0, 1, n_classes + 1)[1:-1]))]
    return df.iloc[:TRAIN_ROWS], y[:TRAIN_ROWS], df.iloc[TRAIN_ROWS:], y[TRAIN_ROWS:]


def column_transformer(numeric, strings, string_strategy="most_frequent"):
    kw = {"fill_value": "missing"} if string_strategy == "constant" else {}
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy=string_strategy, missing_values="", **kw),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                strings,
            ),
        ]
    )


def per_column_types(df, int_cols=()):
    out = []
    for c in df.columns:
        if df[c].dtype == object:
            out.append((c, StringTensorType([None, 1])))
        elif c in int_cols:
            out.append((c, Int64TensorType([None, 1])))
        else:
            out.append((c, FloatTensorType([None, 1])))
    return out


def ct_fixtures():
    x_tr, y_tr, x_te, _ = tabular(seed=11)
    feats = feature_types(x_te)
    rows = rows_json(x_te, feats)
    clf = Pipeline(
        [("prep", column_transformer(NUMERIC, STRINGS)), ("gbc", GradientBoostingClassifier(random_state=11))]
    ).fit(x_tr, y_tr)
    m = to_onnx(clf, initial_types=per_column_types(x_tr))
    write_typed(
        "ct_gbc",
        m,
        "Pipeline(ColumnTransformer[4 float cols: SimpleImputer(median)+StandardScaler; "
        "2 string cols: SimpleImputer(most_frequent, missing_values='')+OneHotEncoder(handle_unknown="
        "'ignore')], GradientBoostingClassifier), binary string labels bad/good, ZipMap on. "
        "Test rows hold NaN (null), '' (null) and unseen categories (purple, overseas).",
        "classifier",
        feats,
        rows,
        "per_feature",
        handles_missing=NUMERIC + STRINGS,
        classes=clf.classes_,
        zipmap=True,
        reference=(clf.predict(x_te), clf.predict_proba(x_te)),
        tol=1e-4,
    )

    x_tr, y_tr, x_te, _ = tabular(seed=12, n_classes=4)
    feats = feature_types(x_te)
    rows = rows_json(x_te, feats)
    clf = Pipeline(
        [
            ("prep", column_transformer(NUMERIC, STRINGS, "constant")),
            ("gbc", GradientBoostingClassifier(n_estimators=60, random_state=12)),
        ]
    ).fit(x_tr, y_tr)
    m = to_onnx(clf, initial_types=per_column_types(x_tr))
    write_typed(
        "ct_gbc_multiclass",
        m,
        "Same ColumnTransformer shape (string imputer strategy constant, fill 'missing') with "
        "GradientBoostingClassifier(60 rounds), 4 string classes low/medium/high/premium, ZipMap on.",
        "classifier",
        feats,
        rows,
        "per_feature",
        handles_missing=NUMERIC + STRINGS,
        classes=clf.classes_,
        zipmap=True,
        reference=(clf.predict(x_te), clf.predict_proba(x_te)),
        tol=1e-4,
    )

    x_tr, y_tr, x_te, _ = tabular(seed=13, regression=True)
    feats = feature_types(x_te)
    rows = rows_json(x_te, feats)
    reg = Pipeline(
        [("prep", column_transformer(NUMERIC, STRINGS)), ("gbr", GradientBoostingRegressor(random_state=13))]
    ).fit(x_tr, y_tr)
    m = to_onnx(reg, initial_types=per_column_types(x_tr))
    write_typed(
        "ct_regressor",
        m,
        "Same ColumnTransformer with GradientBoostingRegressor(100 trees), target ~N(0, 100).",
        "regressor",
        feats,
        rows,
        "per_feature",
        handles_missing=NUMERIC + STRINGS,
        reference=reg.predict(x_te),
        tol=1e-2,
    )

    x_tr, y_tr, x_te, _ = tabular(seed=14, regression=True, int_col=True)
    feats = feature_types(x_te, int_cols=["n_children"])
    rows = rows_json(x_te, feats)
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("int", StandardScaler(), ["n_children"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent", missing_values=""),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                STRINGS,
            ),
        ]
    )
    reg = Pipeline([("prep", ct), ("ridge", Ridge(alpha=1.0))]).fit(x_tr, y_tr)
    m = to_onnx(reg, initial_types=per_column_types(x_tr, int_cols=["n_children"]))
    write_typed(
        "int64_input",
        m,
        "Pipeline(ColumnTransformer[float cols: SimpleImputer+StandardScaler; int64 col n_children "
        "([N,1] int64 input): StandardScaler; string cols: imputer+one-hot], Ridge).",
        "regressor",
        feats,
        rows,
        "per_feature",
        handles_missing=NUMERIC + STRINGS,
        reference=reg.predict(x_te),
        tol=1e-2,
    )


def friedman_matrix(seed, n_features=8, nan_fraction=0.0, dtype=np.float32):
    x, y = make_friedman1(n_samples=TRAIN_ROWS + TEST_ROWS, n_features=n_features, noise=1.0, random_state=seed)
    x = x.astype(dtype)
    if nan_fraction:
        rng = np.random.default_rng(seed)
        x[rng.random(x.shape) < nan_fraction] = np.nan
    return x[:TRAIN_ROWS], y[:TRAIN_ROWS], x[TRAIN_ROWS:], y[TRAIN_ROWS:]


def classification_matrix(seed, n_classes=2, n_features=8, nan_fraction=0.0):
    x, y = make_classification(
        n_samples=TRAIN_ROWS + TEST_ROWS,
        n_features=n_features,
        n_informative=5,
        n_classes=n_classes,
        random_state=seed,
    )
    x = x.astype(np.float32)
    if nan_fraction:
        rng = np.random.default_rng(seed)
        x[rng.random(x.shape) < nan_fraction] = np.nan
    return x[:TRAIN_ROWS], y[:TRAIN_ROWS], x[TRAIN_ROWS:], y[TRAIN_ROWS:]


def fnames(n):
    return [f"f{i:02d}_{w}" for i, w in zip(range(n), ["alpha", "beta", "gamma", "delta", "eps",
                                                        "zeta", "eta", "theta", "iota", "kappa",
                                                        "lambda", "mu", "nu", "xi", "omicron", "pi"])]


def matrix_rows(x, names, t="float"):
    feats = [{"name": n, "type": t} for n in names]
    return feats, rows_json(pd.DataFrame(x, columns=names), feats)


def export_matrix(model, n, dtype=FloatTensorType, options=None, name="X"):
    return to_onnx(model, initial_types=[(name, dtype([None, n]))], options=options)


def matrix_fixture(name, est, x_te, names, description, kind, ref, tol, zipmap=True,
                   options=None, dtype=FloatTensorType, t="float", handles_missing=(), **kw):
    m = with_feature_names(export_matrix(est, len(names), dtype, options), names)
    feats, rows = matrix_rows(x_te, names, t)
    extra = {}
    if kind == "classifier":
        extra = dict(classes=est.classes_, zipmap=zipmap)
    return write_typed(name, m, description, kind, feats, rows, "matrix",
                       handles_missing=handles_missing, reference=ref, tol=tol, **extra, **kw)


def matrix_fixtures():
    names = fnames(8)
    x_tr, y_tr, x_te, _ = friedman_matrix(seed=21)
    # Not weights="distance": skl2onnx 1.20 exports it but onnxruntime then answers the
    # uniform-weight mean (996 of 1000 rows off scikit-learn by up to 0.74).
    knn = KNeighborsRegressor(n_neighbors=7).fit(x_tr, y_tr)
    matrix_fixture("knn_regressor", knn, x_te, names,
                   "KNeighborsRegressor(7 neighbours, uniform weights) on Friedman #1, 8 features; "
                   "standard operators only.", "regressor", knn.predict(x_te), 1e-3)

    svr = make_pipeline(StandardScaler(), SVR(C=3.0)).fit(x_tr, y_tr)
    matrix_fixture("svr", svr, x_te, names,
                   "Pipeline(StandardScaler, SVR(rbf, C=3)) on Friedman #1: ai.onnx.ml SVMRegressor.",
                   "regressor", svr.predict(x_te), 1e-3)

    x_tr, y_tr, x_te, _ = friedman_matrix(seed=22, dtype=np.float64)
    ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x_tr, y_tr)
    matrix_fixture("double_input", ridge, x_te, names,
                   "Pipeline(StandardScaler, Ridge) exported with a [N, 8] DoubleTensorType input "
                   "(double output), feature_names metadata.", "regressor", ridge.predict(x_te), 1e-9,
                   dtype=DoubleTensorType, t="double")

    x_tr, y_tr, x_te, _ = friedman_matrix(seed=23, nan_fraction=0.1)
    imp = make_pipeline(SimpleImputer(strategy="mean"), Ridge(alpha=1.0)).fit(x_tr, y_tr)
    matrix_fixture("imputer_ridge", imp, x_te, names,
                   "Pipeline(SimpleImputer(mean), Ridge) with ~10% NaN in train and test inputs.",
                   "regressor", imp.predict(x_te), 1e-4, handles_missing=names)

    for n_classes, name in [(2, "svc"), (3, "svc_multiclass")]:
        x_tr, y_tr, x_te, _ = classification_matrix(seed=24 + n_classes, n_classes=n_classes)
        svc = make_pipeline(StandardScaler(), SVC(probability=True, random_state=24)).fit(x_tr, y_tr)
        matrix_fixture(name, svc, x_te, names,
                       f"Pipeline(StandardScaler, SVC(rbf, probability=True)), {n_classes} int64 classes, "
                       "ZipMap on: ai.onnx.ml SVMClassifier. The label comes from the decision "
                       "function (as scikit-learn's predict), not from the argmax of the Platt "
                       "probabilities: the two disagree on some rows.",
                       "classifier", (svc.predict(x_te), svc.predict_proba(x_te)), 1e-3)

    x_tr, y_tr, x_te, _ = classification_matrix(seed=27, n_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
        matrix_fixture("logreg_multiclass_zipmap", lr, x_te, names,
                       "LogisticRegression, 3 int64 classes 0/1/2, ZipMap on (default export).",
                       "classifier", (lr.predict(x_te), lr.predict_proba(x_te)), 1e-5)
        s_tr = np.array(["cat", "dog", "fish"])[y_tr]
        lr2 = LogisticRegression(max_iter=500).fit(x_tr, s_tr)
        matrix_fixture("logreg_multiclass_nozipmap", lr2, x_te, names,
                       "LogisticRegression, 3 string classes cat/dog/fish, exported with "
                       "options={'zipmap': False}: probabilities as a [N, 3] float tensor.",
                       "classifier", (lr2.predict(x_te), lr2.predict_proba(x_te)), 1e-5,
                       zipmap=False, options={id(lr2): {"zipmap": False}})

        x_tr, y_tr, x_te, _ = classification_matrix(seed=28, n_classes=2)
        bn = make_pipeline(Normalizer(norm="l2"), Binarizer(threshold=0.1),
                           LogisticRegression(max_iter=500)).fit(x_tr, y_tr)
        # Binarizer thresholds the normalised values: a row near 0.1 can flip in float32.
        matrix_fixture("binarizer_normalizer", bn, x_te, names,
                       "Pipeline(Normalizer(l2), Binarizer(0.1), LogisticRegression), binary int64 "
                       "labels, ZipMap on: exercises ai.onnx.ml Normalizer and Binarizer.",
                       "classifier", (bn.predict(x_te), bn.predict_proba(x_te)), 1e-4)

    x_tr, y_tr, x_te, _ = classification_matrix(seed=29, n_classes=2)
    rf = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=29).fit(x_tr, y_tr)
    matrix_fixture("rf_binary", rf, x_te, names,
                   "RandomForestClassifier(50 trees, max_depth 8), int64 labels 0/1, ZipMap on.",
                   "classifier", (rf.predict(x_te), rf.predict_proba(x_te)), 1e-4)

    x_tr, y_tr, x_te, _ = classification_matrix(seed=30, n_classes=2, nan_fraction=0.1)
    hgb = HistGradientBoostingClassifier(random_state=30).fit(x_tr, y_tr)
    with bool_safe_missing_tracks():
        m = with_feature_names(export_matrix(hgb, len(names)), names)
    feats, rows = matrix_rows(x_te, names)
    write_typed("hgb_classifier_nan", m,
                "HistGradientBoostingClassifier with ~10% NaN in train and test inputs, int64 labels "
                "0/1, ZipMap on; exported with the bool->int workaround for "
                "nodes_missing_value_tracks_true (skl2onnx 1.20 + onnx 1.23).",
                "classifier", feats, rows, "matrix", handles_missing=names,
                classes=hgb.classes_, zipmap=True,
                reference=(hgb.predict(x_te), hgb.predict_proba(x_te)), tol=1e-3)


def sklearn_typed_fixtures():
    ct_fixtures()
    matrix_fixtures()


def typed_fixtures():
    from fixtures_boost import boost_fixtures
    from typed_io import write_index

    sklearn_typed_fixtures()
    boost_fixtures()
    write_index()
