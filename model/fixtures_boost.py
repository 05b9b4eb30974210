"""Typed fixtures from LightGBM and XGBoost (onnxmltools), and typed refusals:
models the scoring crate must refuse at load, naming the operator."""

import numpy as np
import onnx
from lightgbm import LGBMClassifier, LGBMRegressor
from onnx import TensorProto, helper
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat
from skl2onnx import to_onnx
from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType
from sklearn.datasets import make_classification, make_friedman1
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from xgboost import XGBClassifier, XGBRegressor

from fixture_io import DEFAULT_OPSET, IR_VERSION, TEST_ROWS, TRAIN_ROWS, session, with_feature_names
from fixtures_typed import fnames, matrix_rows
from typed_io import write_typed, write_typed_refusal

NAMES_HOW = (
    " Column names: a feature_names model property (JSON array, added with "
    "onnx.helper.set_model_props after conversion; the converter itself names nothing)."
)


def with_nan(x, seed, fraction=0.05):
    rng = np.random.default_rng(seed)
    x = x.copy()
    x[rng.random(x.shape) < fraction] = np.nan
    return x


def cls_data(seed, n_classes, n_features=12, train=TRAIN_ROWS):
    x, y = make_classification(
        n_samples=train + TEST_ROWS,
        n_features=n_features,
        n_informative=6,
        n_classes=n_classes,
        random_state=seed,
    )
    x = with_nan(x.astype(np.float32), seed)
    return x[:train], y[:train], x[train:]


def reg_data(seed, n_features=16, train=TRAIN_ROWS):
    x, y = make_friedman1(n_samples=train + TEST_ROWS, n_features=n_features, noise=1.0, random_state=seed)
    x = with_nan(x.astype(np.float32), seed)
    return x[:train], y[:train], x[train:]


def fixture(name, onx, x_te, names, description, kind, ref, tol, classes=None, max_off=0.01):
    m = with_feature_names(onx, names)
    feats, rows = matrix_rows(x_te, names)
    extra = dict(classes=classes) if kind == "classifier" else {}
    return write_typed(name, m, description + NAMES_HOW, kind, feats, rows, "matrix",
                       handles_missing=names, reference=ref, tol=tol, max_off=max_off, **extra)


def lightgbm_fixtures():
    names = fnames(12)
    x_tr, y_tr, x_te = cls_data(41, 2)
    clf = LGBMClassifier(n_estimators=100, num_leaves=31, random_state=41, verbose=-1).fit(x_tr, y_tr)
    onx = convert_lightgbm(clf, initial_types=[("input", MLFloat([None, len(names)]))])
    fixture("lgbm_classifier", onx, x_te, names,
            "LGBMClassifier(100 trees, 31 leaves), binary int64 labels 0/1, ~5% NaN inputs "
            "(LightGBM's missing-value routing), onnxmltools.convert_lightgbm defaults (ZipMap on).",
            "classifier", (clf.predict(x_te), clf.predict_proba(x_te)), 1e-4, classes=clf.classes_)

    x_tr, y_tr, x_te = cls_data(42, 3)
    s_tr = np.array(["setosa", "versicolor", "virginica"])[y_tr]
    clf = LGBMClassifier(n_estimators=60, num_leaves=31, random_state=42, verbose=-1).fit(x_tr, s_tr)
    onx = convert_lightgbm(clf, initial_types=[("input", MLFloat([None, len(names)]))])
    fixture("lgbm_classifier_multiclass", onx, x_te, names,
            "LGBMClassifier(60 rounds x 3 classes, 31 leaves), string labels "
            "setosa/versicolor/virginica, ~5% NaN inputs, convert_lightgbm defaults (ZipMap on).",
            "classifier", (clf.predict(x_te), clf.predict_proba(x_te)), 1e-4, classes=clf.classes_)

    names = fnames(16)
    x_tr, y_tr, x_te = reg_data(43, 16, train=20000)
    reg = LGBMRegressor(n_estimators=250, num_leaves=63, learning_rate=0.05, min_child_samples=10,
                        subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                        random_state=43, verbose=-1).fit(x_tr, y_tr)
    depths = tree_depths(reg)
    onx = convert_lightgbm(reg, initial_types=[("input", MLFloat([None, len(names)]))])
    fixture("lgbm_regressor", onx, x_te, names,
            f"LGBMRegressor(250 trees, num_leaves 63, lr 0.05, bagging) on Friedman #1 with 16 "
            f"features (11 noise), 20,000 training rows, ~5% NaN: leaf-wise trees of depth "
            f"{min(depths)}-{max(depths)} (mean {np.mean(depths):.1f}).",
            "regressor", reg.predict(x_te), 1e-3)


def tree_depths(reg):
    df = reg.booster_.trees_to_dataframe()
    return df.groupby("tree_index")["node_depth"].max().to_numpy()


def xgboost_fixtures():
    names = fnames(12)
    x_tr, y_tr, x_te = cls_data(51, 2)
    clf = XGBClassifier(n_estimators=100, max_depth=5, random_state=51).fit(x_tr, y_tr)
    onx = convert_xgboost(clf, initial_types=[("float_input", MLFloat([None, len(names)]))])
    fixture("xgb_classifier", onx, x_te, names,
            "XGBClassifier(100 trees, depth 5), binary int64 labels 0/1, ~5% NaN inputs "
            "(XGBoost default directions), onnxmltools.convert_xgboost defaults: no ZipMap, "
            "probabilities as a [N, 2] tensor, BRANCH_LT splits.",
            "classifier", (clf.predict(x_te), clf.predict_proba(x_te)), 1e-4, classes=clf.classes_)

    names = fnames(16)
    x_tr, y_tr, x_te = reg_data(52, 16)
    reg = XGBRegressor(n_estimators=200, max_depth=6, learning_rate=0.1, random_state=52).fit(x_tr, y_tr)
    onx = convert_xgboost(reg, initial_types=[("float_input", MLFloat([None, len(names)]))])
    fixture("xgb_regressor", onx, x_te, names,
            "XGBRegressor(200 trees, depth 6), Friedman #1 with 16 features, ~5% NaN inputs.",
            "regressor", reg.predict(x_te), 1e-3)


def refusals():
    # A realistic export whose graph needs ai.onnx.ml DictVectorizer (and whose input is a
    # map, not a tensor).
    rng = np.random.default_rng(61)
    dicts = [{k: float(rng.normal()) for k in rng.choice(list("abcdef"), 3, replace=False)} for _ in range(200)]
    pipe = make_pipeline(DictVectorizer(sparse=False), Ridge()).fit(dicts, rng.normal(size=200))
    m = to_onnx(pipe, initial_types=[("x", DictionaryType(StringTensorType([]), FloatTensorType([])))])
    write_typed_refusal("dict_vectorizer", m, ["DictVectorizer"],
                        "skl2onnx export of Pipeline(DictVectorizer, Ridge): a map input and the "
                        "ai.onnx.ml DictVectorizer op")

    # A string tensor input through StringNormalizer (default domain, opset 10+) into a
    # LabelEncoder and a LinearRegressor: tensors only, one unsupported op in the middle.
    nodes = [
        # StringNormalizer takes [C] or [1, C]: flatten the [N, 1] column first.
        helper.make_node("Reshape", ["city", "flat"], ["city_flat"]),
        helper.make_node("StringNormalizer", ["city_flat"], ["city_lc"], case_change_action="LOWER", locale="C"),
        helper.make_node("Reshape", ["city_lc", "column"], ["city_col"]),
        helper.make_node("LabelEncoder", ["city_col"], ["code"], domain="ai.onnx.ml",
                         keys_strings=["paris", "rome"], values_floats=[1.0, 2.0], default_float=0.0),
        helper.make_node("LinearRegressor", ["code"], ["variable"], domain="ai.onnx.ml",
                         coefficients=[3.0], intercepts=[0.5]),
    ]
    g = helper.make_graph(
        nodes, "string_normalizer",
        [helper.make_tensor_value_info("city", TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
        initializer=[
            helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
            helper.make_tensor("column", TensorProto.INT64, [2], [-1, 1]),
        ],
    )
    m = helper.make_model(g, ir_version=IR_VERSION, opset_imports=[
        helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", 2)])
    onnx.checker.check_model(m, full_check=True)
    (out,) = session(m).run(None, {"city": np.array([["Paris"], ["ROME"], ["Oslo"]], dtype=object)})
    assert out.ravel().tolist() == [3.5, 6.5, 0.5], out
    write_typed_refusal("string_normalizer", m, ["StringNormalizer"],
                        "per-feature string input through StringNormalizer (default domain), "
                        "LabelEncoder, LinearRegressor")

    # An op from a domain nobody implements.
    g = helper.make_graph(
        [helper.make_node("Frobnicate", ["X"], ["variable"], domain="com.example")],
        "custom_op",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
    )
    m = helper.make_model(g, ir_version=IR_VERSION, opset_imports=[
        helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("com.example", 1)])
    with_feature_names(m, ["a", "b", "c"])
    write_typed_refusal("custom_domain_op", m, ["Frobnicate"],
                        "a [N, 3] float model whose only node is com.example Frobnicate")


def boost_fixtures():
    lightgbm_fixtures()
    xgboost_fixtures()
    refusals()
