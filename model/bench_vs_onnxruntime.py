#!/usr/bin/env python3
"""tract (this project) vs onnxruntime, side by side, on the same model files and rows.

For the demo model and the five scikit-learn fixture models, this script runs
onnxruntime (one thread) and the Rust `timing` example with the same timing loop (best of
5 rounds of >= 0.3 s, cycling through the rows) at batch 1, 100 and 10,000, and prints
per-row times and the ratio onnxruntime / tract (> 1.0: tract is faster).

onnxruntime is called from Python here, so its batch-1 time includes the binding's
per-call cost; the script measures that floor on an Identity model and prints a second
ratio with it subtracted, the fairest single-row comparison it can make.

Run from the repository root:  .venv/bin/python model/bench_vs_onnxruntime.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "functions" / "scoring" / "tests" / "fixtures"
BATCHES = [1, 100, 10_000]
ROUNDS = 5
ROUND_SECONDS = 0.3
MIN_ROWS = 10_000


def session(model_bytes: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def ort_ns_per_row(sess: ort.InferenceSession, x: np.ndarray, batch: int) -> float:
    """The same loop as examples/timing.rs."""
    name = sess.get_inputs()[0].name
    rows = x.shape[0]
    best = float("inf")
    for _ in range(ROUNDS):
        calls, offset = 0, 0
        start = time.perf_counter()
        while time.perf_counter() - start < ROUND_SECONDS:
            if offset + batch > rows:
                offset = 0
            sess.run(None, {name: x[offset : offset + batch]})
            offset += batch
            calls += 1
        best = min(best, (time.perf_counter() - start) * 1e9 / (calls * batch))
    return best


def call_floor_ns() -> float:
    """Per-call cost of onnxruntime's Python binding: a batch-1 run of an Identity model."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 11])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 11])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    rows = np.random.default_rng(0).random((1000, 11), dtype=np.float32)
    return ort_ns_per_row(session(model.SerializeToString()), rows, 1)


def models():
    """(name, model path, rows [>= 10,000, F] float32)."""
    wine = np.loadtxt(ROOT / "model" / "data" / "winequality-red.csv", delimiter=",", skiprows=1, dtype=np.float32)
    yield "demo_wine_quality", ROOT / "model" / "wine_quality.onnx", wine[:, :11]
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    by_name = {f["name"]: f for f in manifest}
    for name in ["ridge", "random_forest", "gradient_boosting", "hist_gradient_boosting", "mlp"]:
        f = by_name[name]
        x = np.fromfile(FIXTURES / f["x"], dtype="<f4").reshape(f["rows"], len(f["features"]))
        yield name, FIXTURES / f["onnx"], x


def tile(x: np.ndarray) -> np.ndarray:
    reps = -(-MIN_ROWS // x.shape[0])
    return np.ascontiguousarray(np.tile(x, (reps, 1)), dtype=np.float32)


def build_timing() -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "scoring", "--example", "timing"],
        cwd=ROOT,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "timing"


def tract_ns_per_row(timing: Path, model: Path, x: np.ndarray) -> tuple[dict, float]:
    with tempfile.NamedTemporaryFile(suffix=".f32") as rows:
        x.astype("<f4").tofile(rows.name)
        out = subprocess.run(
            [str(timing), str(model), rows.name, *map(str, BATCHES)], check=True, capture_output=True, text=True
        ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return {line["batch"]: line["ns_per_row"] for line in lines}, lines[0]["load_ms"]


def main() -> int:
    timing = build_timing()
    floor = call_floor_ns()
    print(f"onnxruntime {ort.__version__}, 1 thread; Python binding floor: {floor / 1e3:.2f} us per call")
    print("ratio = onnxruntime / tract (> 1.0: tract faster); adj = with the binding floor removed (batch 1)\n")
    header = f"{'model':<24}{'batch':>7}{'tract us/row':>14}{'ort us/row':>12}{'ratio':>8}{'adj':>8}"
    print(header)
    print("-" * len(header))
    for name, path, x in models():
        x = tile(x)
        sess = session(path.read_bytes())
        tract, load_ms = tract_ns_per_row(timing, path, x)
        for batch in BATCHES:
            o = ort_ns_per_row(sess, x, batch)
            t = tract[batch]
            adj = f"{(o - floor) / t:8.2f}" if batch == 1 else f"{'':>8}"
            print(f"{name:<24}{batch:>7}{t / 1e3:>14.3f}{o / 1e3:>12.3f}{o / t:>8.2f}{adj}")
        print(f"{'':<24}{'(tract load+optimize: ' + format(load_ms, '.2f') + ' ms)':>41}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
