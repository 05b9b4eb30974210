"""Inputs for model/bench_vs_onnxruntime.py: rows as JSON objects (the typed fixtures'
format, null = missing) turned into onnxruntime feeds, the demo classifier's rows from the
wine CSVs, and the model rewrites the benchmark needs (ZipMap removed, binding floors).

Feeding follows model/typed_io.py (what the fixtures were checked with): a null number is
NaN, a null string is ""; per-feature models get one [N, 1] input per feature, matrix
models one [N, F] input.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
TYPED = ROOT / "libs" / "scoring" / "tests" / "fixtures" / "typed"
NP_TYPES = {"float": np.float32, "double": np.float64, "int64": np.int64}
WINE_ROWS = 1000


def typed_fixtures():
    """(name, fixture dict) for every typed fixture in index.json that has rows."""
    for entry in json.loads((TYPED / "index.json").read_text()):
        path = TYPED / f"{entry['name']}.json"
        if path.exists():
            yield entry["name"], json.loads(path.read_text())


def cycle(rows: list, min_rows: int) -> list:
    """Whole copies of `rows` until there are at least `min_rows` (as numpy.tile; the Rust
    `timing` example does the same)."""
    return rows * max(1, -(-min_rows // len(rows)))


def column(rows: list, name: str, ty: str) -> np.ndarray:
    values = [r.get(name) for r in rows]
    if ty == "string":
        return np.array(["" if v is None else v for v in values], dtype=object)
    if ty == "int64":
        return np.array(values, dtype=np.int64)
    return np.array([np.nan if v is None else v for v in values], dtype=NP_TYPES[ty])


def feeds(input_names: list, features: list, layout: str, rows: list) -> dict:
    """All rows as onnxruntime inputs (slice along axis 0 for a batch)."""
    if layout == "matrix":
        (ty,) = {f["type"] for f in features}
        x = np.stack([column(rows, f["name"], ty) for f in features], axis=1)
        return {input_names[0]: np.ascontiguousarray(x)}
    assert input_names == [f["name"] for f in features], (input_names, features)
    return {f["name"]: column(rows, f["name"], f["type"]).reshape(-1, 1) for f in features}


def wine_classifier_rows() -> tuple[list, list]:
    """(features, rows) for model/wine_good_classifier.onnx: 1000 rows drawn (fixed seed)
    from the red and white CSVs, with the `color` column the model takes."""
    frames = []
    for color in ["red", "white"]:
        df = pd.read_csv(ROOT / "model" / "data" / f"winequality-{color}.csv")
        df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
        df = df.drop(columns=["quality"])
        df["color"] = color
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).sample(n=WINE_ROWS, random_state=0)
    numeric = [c for c in df.columns if c != "color"]
    features = [{"name": c, "type": "float"} for c in numeric] + [{"name": "color", "type": "string"}]
    rows = [
        {**{c: float(np.float32(r[c])) for c in numeric}, "color": r["color"]} for r in df.to_dict("records")
    ]
    return features, rows


def without_zipmap(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The model with its ZipMap node removed and the probability tensor it took as the
    graph output instead (the same numbers, no list of dicts); None if there is no ZipMap."""
    zipmaps = [n for n in model.graph.node if n.op_type == "ZipMap"]
    if not zipmaps:
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for z in zipmaps:
        m.graph.node.remove(next(n for n in m.graph.node if n.op_type == "ZipMap" and n.output[0] == z.output[0]))
        (out,) = [o for o in m.graph.output if o.name == z.output[0]]
        i = list(m.graph.output).index(out)
        m.graph.output.remove(out)
        m.graph.output.insert(i, helper.make_tensor_value_info(z.input[0], TensorProto.FLOAT, [None, None]))
    return m


def inputs_floor(model: onnx.ModelProto) -> onnx.ModelProto:
    """A model with the same inputs (names, types, shapes) as `model` that ignores them
    and answers one constant: what the Python binding costs to feed those inputs."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    value = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    node = helper.make_node("Constant", [], ["out"], value=value)
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])
    graph = helper.make_graph([node], "inputs_floor", inputs, [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
