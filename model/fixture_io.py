"""Shared by the fixture scripts: where fixtures go, the manifest, onnxruntime as the
oracle, and the ONNX helpers."""

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
