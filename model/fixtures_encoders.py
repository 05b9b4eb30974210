"""Fixtures for the encoder ops (OneHotEncoder, LabelEncoder, Imputer, Binarizer,
Normalizer) and the string plumbing skl2onnx wraps around them.

Each fixture is libs/scoring/tests/fixtures/ops/<name>.onnx plus <name>.json:
    {"inputs": {name: {"type", "shape", "data"}}, "outputs": {...}}
with data flat in row-major order and NaN written as null. onnxruntime is the oracle.

Run with the project venv: .venv/bin/python model/fixtures_encoders.py
"""

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OUT = Path(__file__).resolve().parent.parent / "libs" / "scoring" / "tests" / "fixtures" / "ops"
IR_VERSION = 10
DEFAULT_OPSET = 21
NAN = float("nan")

ONNX_TYPES = {
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
    "int64": TensorProto.INT64,
    "string": TensorProto.STRING,
}
NUMPY_TYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "string": object}
WRITTEN = []


def type_name(a: np.ndarray) -> str:
    if a.dtype == object or a.dtype.kind in "US":
        return "string"
    return {("f", 4): "float32", ("f", 8): "float64", ("i", 8): "int64"}[(a.dtype.kind, a.dtype.itemsize)]


def encode(a: np.ndarray) -> dict:
    t = type_name(a)
    flat = a.reshape(-1).tolist()
    if t.startswith("float"):
        flat = [None if np.isnan(v) else float(v) for v in flat]
    elif t == "string":
        flat = [str(v) for v in flat]
    return {"type": t, "shape": list(a.shape), "data": flat}


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def write(name: str, model: onnx.ModelProto, feeds: dict, expected: dict = None) -> None:
    """Runs `feeds` through onnxruntime and saves model, inputs and outputs. `expected`
    (numpy, by output name) stands in for onnxruntime only where it lacks the kernel."""
    # skl2onnx lists opset imports in set order; sorted, reruns write identical files.
    imports = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(imports)
    onnx.checker.check_model(model, full_check=True)
    if expected is None:
        sess = session(model)
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    else:
        outs = expected
    doc = {
        "inputs": {k: encode(np.asarray(v)) for k, v in feeds.items()},
        "outputs": {k: encode(np.asarray(v)) for k, v in outs.items()},
    }
    onnx.save(model, OUT / f"{name}.onnx")
    (OUT / f"{name}.json").write_text(json.dumps(doc) + "\n")
    WRITTEN.append(name)


def single(op, attrs, inputs, outputs, ml_opset=1, domain="ai.onnx.ml"):
    """A one-node graph. `inputs`/`outputs` are (name, type, shape) triples; shape
    entries may be strings (symbolic)."""
    node = helper.make_node(op, [i[0] for i in inputs], [o[0] for o in outputs], domain=domain, **attrs)
    vi = lambda n, t, s: helper.make_tensor_value_info(n, ONNX_TYPES[t], s)  # noqa: E731
    graph = helper.make_graph(
        [node], op.lower(), [vi(*i) for i in inputs], [vi(*o) for o in outputs]
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", ml_opset)],
        ir_version=IR_VERSION,
    )


def arr(values, t, shape=None):
    a = np.array(values, dtype=NUMPY_TYPES[t])
    return a.reshape(shape) if shape is not None else a


# --------------------------------------------------------------------------
# OneHotEncoder: output shape is the input's plus [len(cats)].


def one_hot_encoders():
    cats = ["red", "green", "blue"]
    x = arr(["green", "blue", "purple", "red", ""], "string", (5, 1))
    m = single("OneHotEncoder", {"cats_strings": cats, "zeros": 1},
               [("X", "string", ["N", 1])], [("Y", "float32", ["N", 1, 3])])
    write("ohe_strings_unknown_zeros", m, {"X": x})

    x = arr(["a", "b", "b", "c", "a", "c"], "string", (3, 2))
    m = single("OneHotEncoder", {"cats_strings": ["a", "b", "c"], "zeros": 0},
               [("X", "string", ["N", 2])], [("Y", "float32", ["N", 2, 3])])
    write("ohe_strings_known_zeros0", m, {"X": x})

    x = arr([3, 1, 7, 2, -1, 1], "int64", (3, 2))
    m = single("OneHotEncoder", {"cats_int64s": [1, 2, 3, 7]},
               [("X", "int64", ["N", 2])], [("Y", "float32", ["N", 2, 4])])
    write("ohe_int64", m, {"X": x})

    # A repeated category: onnxruntime's map keeps its last position.
    x = arr([1, 2], "int64", (2, 1))
    m = single("OneHotEncoder", {"cats_int64s": [1, 2, 1]},
               [("X", "int64", ["N", 1])], [("Y", "float32", ["N", 1, 3])])
    write("ohe_duplicate_cats", m, {"X": x})

    for t in ["float32", "float64"]:
        # Truncated toward zero like a C cast: 1.9 is category 1, -0.5 is 0.
        x = arr([1.0, 1.9, 2.0, -0.5, 5.0, NAN], t, (6, 1))
        m = single("OneHotEncoder", {"cats_int64s": [0, 1, 2], "zeros": 1},
                   [("X", t, ["N", 1])], [("Y", "float32", ["N", 1, 3])])
        write(f"ohe_{t}", m, {"X": x})


# --------------------------------------------------------------------------
# LabelEncoder


def label_encoders():
    # opset 1: classes_strings; string -> index, index -> string.
    x = arr(["b", "a", "zz", "c"], "string", (4,))
    m = single("LabelEncoder", {"classes_strings": ["a", "b", "c"], "default_int64": -7},
               [("X", "string", ["N"])], [("Y", "int64", ["N"])], ml_opset=1)
    write("le1_string_int64", m, {"X": x})
    x = arr([2, 0, 5, -1], "int64", (4,))
    m = single("LabelEncoder", {"classes_strings": ["a", "b", "c"], "default_string": "??"},
               [("X", "int64", ["N"])], [("Y", "string", ["N"])], ml_opset=1)
    write("le1_int64_string", m, {"X": x})

    # opset 2: keys_* / values_*, default_*; every pairing onnxruntime implements.
    keys = {"string": ["", "x", "y"], "int64": [4, -2, 9], "float32": [0.5, -1.0, NAN]}
    vals = {"string": ["zero", "one", "two"], "int64": [1, 10, 100], "float32": [1.5, 2.5, -3.0]}
    inputs = {
        "string": arr(["x", "", "q", "y", "y"], "string", (5, 1)),
        "int64": arr([9, 4, 0, -2, 7], "int64", (5, 1)),
        "float32": arr([-1.0, 0.5, 0.25, NAN, 0.5], "float32", (5, 1)),
    }
    suffix = {"string": "strings", "int64": "int64s", "float32": "floats"}
    default = {"string": ("default_string", "dflt"), "int64": ("default_int64", -5),
               "float32": ("default_float", 42.0)}
    for kt in keys:
        for vt in vals:
            attrs = {f"keys_{suffix[kt]}": keys[kt], f"values_{suffix[vt]}": vals[vt]}
            attrs[default[vt][0]] = default[vt][1]
            m = single("LabelEncoder", attrs, [("X", kt, ["N", 1])], [("Y", vt, ["N", 1])], ml_opset=2)
            try:
                write(f"le2_{kt}_{vt}", m, {"X": inputs[kt]})
            except Exception as e:  # onnxruntime lacks the pairing: nothing to compare with
                print(f"skip le2_{kt}_{vt}: {str(e).splitlines()[0][:100]}")
    # The default defaults: -1, "_Unused", -0.0.
    for vt in vals:
        attrs = {"keys_strings": keys["string"], f"values_{suffix[vt]}": vals[vt]}
        m = single("LabelEncoder", attrs, [("X", "string", ["N", 1])], [("Y", vt, ["N", 1])], ml_opset=2)
        write(f"le2_string_{vt}_no_default", m, {"X": inputs["string"]})
    # A repeated key: the first one counts.
    m = single("LabelEncoder", {"keys_int64s": [1, 2, 1], "values_int64s": [10, 20, 30]},
               [("X", "int64", ["N"])], [("Y", "int64", ["N"])], ml_opset=2)
    write("le2_duplicate_keys", m, {"X": arr([1, 2, 3], "int64", (3,))})
    # skl2onnx's SimpleImputer on strings: "" -> 1, else 0.
    m = single("LabelEncoder", {"keys_strings": [""], "values_int64s": [1], "default_int64": 0},
               [("X", "string", ["N", 1])], [("Y", "int64", ["N", 1])], ml_opset=2)
    write("le2_is_empty", m, {"X": inputs["string"]})

    # opset 4: keys_tensor / values_tensor / default_tensor, also doubles.
    def tensor(name, values, t):
        return numpy_helper.from_array(arr(values, t), name)

    cases = [
        ("float64", [0.5, NAN, 3.0], "int64", [7, 8, 9], [-3], arr([3.0, NAN, 0.5, 1.0], "float64", (4,))),
        ("int64", [1, 2, 3], "float64", [0.1, 0.2, 0.3], [9.5], arr([3, 1, 0], "int64", (3,))),
        ("string", ["a", "b"], "string", ["A", "B"], ["?"], arr(["b", "a", "c"], "string", (3,))),
        ("int64", [5, 6], "string", ["five", "six"], None, arr([6, 5, 4], "int64", (3,))),
    ]
    # Opset 4: NaN keys match NaN, also from keys_floats; default_float counts for float
    # values but not for doubles (onnxruntime gives -0.0 there).
    m = single("LabelEncoder", {"keys_floats": [0.0, NAN], "values_int64s": [7, 8]},
               [("X", "float32", ["N"])], [("Y", "int64", ["N"])], ml_opset=4)
    write("le4_floats_attr_nan", m, {"X": arr([NAN, -0.0, 1.0], "float32", (3,))})
    for vt in ["float32", "float64"]:
        attrs = {"keys_int64s": [1, 2], "values_tensor": tensor("v", [0.5, 0.25], vt), "default_float": 5.0}
        m = single("LabelEncoder", attrs, [("X", "int64", ["N"])], [("Y", vt, ["N"])], ml_opset=4)
        write(f"le4_int64_{vt}_default_float", m, {"X": arr([1, 3], "int64", (2,))})
    for kt, kv, vt, vv, dv, x in cases:
        attrs = {"keys_tensor": tensor("keys", kv, kt), "values_tensor": tensor("values", vv, vt)}
        if dv is not None:
            attrs["default_tensor"] = tensor("default", dv, vt)
        else:
            attrs["default_string"] = "none"
        m = single("LabelEncoder", attrs, [("X", kt, ["N"])], [("Y", vt, ["N"])], ml_opset=4)
        write(f"le4_{kt}_{vt}" + ("" if dv is not None else "_default_attr"), m, {"X": x})


# --------------------------------------------------------------------------
# Imputer, Binarizer, Normalizer


def imputers():
    x = arr([1.0, NAN, 3.0, NAN, 5.0, 6.0, NAN, NAN, 0.0], "float32", (3, 3))
    m = single("Imputer", {"imputed_value_floats": [10.0, 20.0, 30.0], "replaced_value_float": NAN},
               [("X", "float32", ["N", 3])], [("Y", "float32", ["N", 3])])
    write("imputer_nan_per_column", m, {"X": x})
    m = single("Imputer", {"imputed_value_floats": [-1.0], "replaced_value_float": 0.0},
               [("X", "float32", ["N", 3])], [("Y", "float32", ["N", 3])])
    write("imputer_zero_one_value", m, {"X": x})
    m = single("Imputer", {"imputed_value_floats": [7.0, 8.0, 9.0]},
               [("X", "float32", ["N", 3])], [("Y", "float32", ["N", 3])])
    write("imputer_default_replaced", m, {"X": x})
    m = single("Imputer", {"imputed_value_floats": [1.0, 2.0]},
               [("X", "float32", [2])], [("Y", "float32", [2])])
    write("imputer_rank1", m, {"X": arr([0.0, 3.0], "float32", (2,))})
    x = arr([1, -1, 3, -1, 5, 6], "int64", (2, 3))
    m = single("Imputer", {"imputed_value_int64s": [100, 200, 300], "replaced_value_int64": -1},
               [("X", "int64", ["N", 3])], [("Y", "int64", ["N", 3])])
    write("imputer_int64", m, {"X": x})
    m = single("Imputer", {"imputed_value_int64s": [9], "replaced_value_int64": -1},
               [("X", "int64", ["N", 3])], [("Y", "int64", ["N", 3])])
    write("imputer_int64_one_value", m, {"X": x})
    # onnxruntime has no double Imputer; the spec allows it. numpy is the oracle.
    x = arr([1.0, NAN, 3.0, NAN], "float64", (2, 2))
    m = single("Imputer", {"imputed_value_floats": [0.5, 0.25], "replaced_value_float": NAN},
               [("X", "float64", ["N", 2])], [("Y", "float64", ["N", 2])])
    write("imputer_float64", m, {"X": x}, {"Y": np.where(np.isnan(x), [[0.5, 0.25]], x)})


def binarizers():
    for t in ["float32", "float64", "int64"]:
        vals = [-1.0, 0.5, 0.5000001, 2.0, -0.0, 0.0] if t != "int64" else [-1, 0, 1, 2, 5, 0]
        x = arr(vals, t, (3, 2))
        thr = 0.5 if t != "int64" else 1.0
        m = single("Binarizer", {"threshold": thr}, [("X", t, ["N", 2])], [("Y", t, ["N", 2])])
        # onnxruntime has Binarizer for float only; the spec allows these. numpy is the oracle.
        expected = None if t == "float32" else {"Y": (x > thr).astype(x.dtype)}
        write(f"binarizer_{t}", m, {"X": x}, expected)
    x = arr([-1.0, 0.0, 3.0, -2.0], "float32", (2, 2))
    m = single("Binarizer", {}, [("X", "float32", ["N", 2])], [("Y", "float32", ["N", 2])])
    write("binarizer_default_threshold", m, {"X": x})


def normalizers():
    rows = [[1.0, -2.0, 3.0], [-4.0, -1.0, -2.0], [0.0, 0.0, 0.0], [-5.0, 2.0, 1.0], [1e-7, 0.0, -1e-7]]
    for t in ["float32", "float64", "int64"]:
        x = arr(rows if t != "int64" else [[int(v) for v in r] for r in rows], t, (5, 3))
        for norm in ["MAX", "L1", "L2"]:
            m = single("Normalizer", {"norm": norm}, [("X", t, ["N", 3])], [("Y", "float32", ["N", 3])])
            write(f"normalizer_{norm.lower()}_{t}", m, {"X": x})
    for norm in ["MAX", "L1", "L2"]:
        m = single("Normalizer", {"norm": norm}, [("X", "float32", [3])], [("Y", "float32", [3])])
        write(f"normalizer_{norm.lower()}_rank1", m, {"X": arr([1.0, -2.0, 4.0], "float32", (3,))})


# --------------------------------------------------------------------------
# Standard ops on string tensors, as skl2onnx's string imputation graph uses them.


def graph(nodes, inputs, outputs, inits=(), ml_opset=2):
    vi = lambda n, t, s: helper.make_tensor_value_info(n, ONNX_TYPES[t], s)  # noqa: E731
    g = helper.make_graph(nodes, "strings", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                          initializer=list(inits))
    return helper.make_model(
        g, opset_imports=[helper.make_opsetid("", DEFAULT_OPSET), helper.make_opsetid("ai.onnx.ml", ml_opset)],
        ir_version=IR_VERSION)


def string_ops():
    n = helper.make_node
    x = arr(["a", "", "c", "", "e", "f"], "string", (3, 2))
    y = arr(["p", "q", "r"], "string", (3, 1))
    fill = numpy_helper.from_array(arr(["FILL"], "string"), "fill")
    zero = numpy_helper.from_array(np.array(0, dtype=np.int64), "zero")
    one = numpy_helper.from_array(np.array([1], dtype=np.int64), "one")
    # "" -> fill, broadcasting a [1] string against [N, 2], as skl2onnx's imputer does.
    m = graph([
        n("LabelEncoder", ["X"], ["isempty"], domain="ai.onnx.ml", keys_strings=[""], values_int64s=[1], default_int64=0),
        n("Cast", ["isempty"], ["cond"], to=TensorProto.BOOL),
        n("Where", ["cond", "fill", "X"], ["Y"]),
    ], [("X", "string", ["N", 2])], [("Y", "string", ["N", 2])], [fill])
    write("strings_where", m, {"X": x})
    m = graph([n("Concat", ["X", "Y"], ["Z"], axis=1)],
              [("X", "string", ["N", 2]), ("Y", "string", ["N", 1])], [("Z", "string", ["N", 3])])
    write("strings_concat", m, {"X": x, "Y": y})
    m = graph([n("Concat", ["X"], ["Z"], axis=1)], [("X", "string", ["N", 2])], [("Z", "string", ["N", 2])])
    write("strings_concat_single", m, {"X": x})
    m = graph([n("Gather", ["X", "zero"], ["Z"], axis=1)], [("X", "string", ["N", 2])],
              [("Z", "string", ["N"])], [zero])
    write("strings_gather_scalar_index", m, {"X": x})
    idx = numpy_helper.from_array(np.array([2, 0, 2], dtype=np.int64), "idx")
    m = graph([n("Gather", ["X", "idx"], ["Z"], axis=0)], [("X", "string", ["N", 2])],
              [("Z", "string", [3, 2])], [idx])
    # onnxruntime 1.31.1 gets this one wrong (it copies only the first string of each
    # gathered row: [["e", ""], ...]); the ONNX reference evaluator is the oracle here.
    (z,) = ReferenceEvaluator(m).run(None, {"X": x})
    assert session(m).run(None, {"X": x})[0][0, 1] != "f", "onnxruntime fixed: use it again"
    write("strings_gather_rows", m, {"X": x}, {"Z": z})
    m = graph([n("ArrayFeatureExtractor", ["X", "one"], ["Z"], domain="ai.onnx.ml")],
              [("X", "string", ["N", 2])], [("Z", "string", ["N", 1])], [one])
    write("strings_array_feature_extractor", m, {"X": x})
    shape = numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "shape")
    m = graph([n("Reshape", ["X", "shape"], ["Z"])], [("X", "string", ["N", 2])],
              [("Z", "string", ["M", 1])], [shape])
    write("strings_reshape", m, {"X": x})
    m = graph([n("Identity", ["X"], ["T"]), n("Flatten", ["T"], ["Z"], axis=1)],
              [("X", "string", ["N", 2])], [("Z", "string", ["N", 2])])
    write("strings_identity_flatten", m, {"X": x})
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    m = graph([n("Unsqueeze", ["X", "axes"], ["U"]), n("Squeeze", ["U", "axes"], ["Z"])],
              [("X", "string", ["N", 2])], [("Z", "string", ["N", 2])], [axes])
    write("strings_unsqueeze_squeeze", m, {"X": x})


# --------------------------------------------------------------------------
# A real skl2onnx export: ColumnTransformer over a DataFrame with a string column.


def column_transformer_pipelines():
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    n = 200
    colors = np.array(["red", "green", "blue", ""], dtype=object)
    df = pd.DataFrame({
        "size": rng.normal(10, 3, n).astype(np.float32),
        "weight": rng.normal(50, 10, n).astype(np.float32),
        "color": rng.choice(colors, n, p=[0.4, 0.3, 0.2, 0.1]),
    })
    df.loc[rng.random(n) < 0.1, "size"] = np.nan
    y = df["weight"].fillna(0) * 0.1 + (df["color"] == "red") * 3 + rng.normal(0, 0.1, n)

    def pre():
        return ColumnTransformer([
            ("num", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), ["size", "weight"]),
            ("cat", Pipeline([
                ("imp", SimpleImputer(strategy="most_frequent", missing_values="")),
                ("ohe", OneHotEncoder(handle_unknown="ignore")),
            ]), ["color"]),
        ])

    types = [("size", FloatTensorType([None, 1])), ("weight", FloatTensorType([None, 1])),
             ("color", StringTensorType([None, 1]))]
    test = pd.DataFrame({
        "size": np.array([9.0, NAN, 12.5, 3.0, 10.0, NAN], dtype=np.float32),
        "weight": np.array([40.0, 55.0, 61.0, 47.5, 50.0, 52.0], dtype=np.float32),
        "color": np.array(["red", "", "blue", "mauve", "green", "red"], dtype=object),
    })
    feeds = {c: test[[c]].to_numpy().astype(np.float32 if c != "color" else object) for c in test}

    ridge = Pipeline([("pre", pre()), ("model", Ridge(alpha=0.5))]).fit(df, y)
    m = to_onnx(ridge, initial_types=types, target_opset=DEFAULT_OPSET)
    write("pipeline_ridge_strings", m, feeds)
    got = session(m).run(None, feeds)[0].reshape(-1)
    assert np.allclose(got, ridge.predict(test), atol=1e-4), (got, ridge.predict(test))

    yc = (y > y.median()).astype(np.int64)
    logreg = Pipeline([("pre", pre()), ("model", LogisticRegression())]).fit(df, yc)
    m = to_onnx(logreg, initial_types=types, target_opset=DEFAULT_OPSET,
                options={id(logreg.steps[-1][1]): {"zipmap": False}})
    write("pipeline_logreg_strings", m, feeds)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    one_hot_encoders()
    label_encoders()
    imputers()
    binarizers()
    normalizers()
    string_ops()
    column_transformer_pipelines()
    print("\n".join(WRITTEN))


if __name__ == "__main__":
    main()
