#!/usr/bin/env python3
"""tract (this project) vs onnxruntime, side by side, on the same model files and rows.

For the two demo models, the scikit-learn regressor fixtures and the typed fixtures
(libs/scoring/tests/fixtures/typed/: string / int64 / double inputs, missing values,
classifiers), this script runs onnxruntime (one thread) and the Rust `timing` example with
the same timing loop (best of 5 rounds of >= 0.3 s, cycling through the rows) at batch 1,
100 and 10,000, and prints per-row times and the ratio onnxruntime / tract (> 1.0: tract
is faster). Fixtures hold 1000 rows; both sides repeat them to 10,000 (whole copies).

What is timed:
- tract, f32 fixtures (`<rows.f32>` mode): `Model::score_matrix` on a slice (copies the
  slice into a Batch, then predicts). Typed fixtures and the demo classifier (`--rows`
  mode): rows are read into one `scoring::Batch` per slice beforehand and only
  `Model::predict` is timed; it answers labels and probabilities for classifiers.
- onnxruntime: `sess.run(None, feeds)` with prebuilt feeds per slice (one [N, 1] array per
  per-feature input, or one [N, F] matrix; NaN / "" for missing), all outputs requested.
  For models exported with a ZipMap (probabilities as a list of dicts, costly to build in
  onnxruntime and its binding), `ort` is the model as exported and `ort-nozm` the same
  model with the ZipMap node removed (label + the probability tensor): `ratio` uses `ort`,
  `r-nozm` uses `ort-nozm`.

onnxruntime is called from Python here, so its batch-1 time includes the binding's
per-call cost. The script measures that floor on an Identity model (one [1, 11] float
input) and prints `adj`, the batch-1 ratio with it subtracted; `adj-in` subtracts instead
a model taking the fixture's own inputs and answering a constant (many per-feature or string inputs cost
the binding more than one float matrix). Both are the fairest single-row comparisons it
can make.

Run from the repository root:  .venv/bin/python model/bench_vs_onnxruntime.py [name ...]
(names: fixture names to run, default all)
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_io  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "libs" / "scoring" / "tests" / "fixtures"
BATCHES = [1, 100, 10_000]
ROUNDS = 5
ROUND_SECONDS = 0.3
MIN_ROWS = 10_000
# The scikit-learn regressor fixtures (f32 matrices, manifest.json).
F32_FIXTURES = ["ridge", "random_forest", "gradient_boosting", "hist_gradient_boosting", "mlp", "knn", "per_feature"]


def session(model_bytes: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Errors only: some exports declare a label shape of [1], which onnxruntime reports
    # on every batched call otherwise.
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def slices(feeds: dict, batch: int) -> list:
    """Feed dicts for consecutive slices of `batch` rows (the same walk as timing.rs:
    back to row 0 when a slice does not fit), built before timing as the Rust side does."""
    rows = len(next(iter(feeds.values())))
    return [{k: v[o : o + batch] for k, v in feeds.items()} for o in range(0, rows - batch + 1, batch)]


def ort_ns_per_row(sess: ort.InferenceSession, feeds: dict, batch: int, outputs=None) -> float:
    """The same loop as examples/timing.rs; `outputs`: names to fetch (default all)."""
    calls_feeds = slices(feeds, batch)
    n = len(calls_feeds)
    best = float("inf")
    for _ in range(ROUNDS):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < ROUND_SECONDS:
            sess.run(outputs, calls_feeds[calls % n])
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
    return ort_ns_per_row(session(model.SerializeToString()), {"x": rows}, 1)


def tile(x: np.ndarray) -> np.ndarray:
    reps = -(-MIN_ROWS // x.shape[0])
    return np.ascontiguousarray(np.tile(x, (reps, 1)), dtype=np.float32)


def models():
    """(name, kind, model path, ort feeds over >= 10,000 rows, tract rows argument).

    The tract argument is ("f32", matrix) for `timing <model> <rows.f32>` or
    ("json", rows) for `timing <model> --rows <rows.json>` (timing.rs repeats them)."""
    wine = np.loadtxt(ROOT / "model" / "data" / "winequality-red.csv", delimiter=",", skiprows=1, dtype=np.float32)
    x = tile(wine[:, :11])
    yield "demo_wine_quality", "regressor", ROOT / "model" / "wine_quality.onnx", {"features": x}, ("f32", x)

    path = ROOT / "model" / "wine_good_classifier.onnx"
    features, rows = bench_io.wine_classifier_rows()
    names = [i.name for i in onnx.load(path).graph.input]
    fd = bench_io.feeds(names, features, "per_feature", bench_io.cycle(rows, MIN_ROWS))
    yield "demo_wine_good_clf", "classifier", path, fd, ("json", rows)

    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    by_name = {f["name"]: f for f in manifest}
    for name in F32_FIXTURES:
        f = by_name[name]
        x = tile(np.fromfile(FIXTURES / f["x"], dtype="<f4").reshape(f["rows"], len(f["features"])))
        path = FIXTURES / f["onnx"]
        inputs = [i.name for i in onnx.load(path).graph.input]
        if len(inputs) == 1:
            fd = {inputs[0]: x}
        else:  # one [N, 1] input per feature
            fd = {n: np.ascontiguousarray(x[:, [j]]) for j, n in enumerate(inputs)}
        yield name, "regressor", path, fd, ("f32", x)

    for name, fixture in bench_io.typed_fixtures():
        path = bench_io.TYPED / f"{name}.onnx"
        names = [i.name for i in session(path.read_bytes()).get_inputs()]
        fd = bench_io.feeds(names, fixture["features"], fixture["layout"], bench_io.cycle(fixture["rows"], MIN_ROWS))
        yield name, fixture["kind"], path, fd, ("json", fixture["rows"])


def build_timing() -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "scoring", "--example", "timing"],
        cwd=ROOT,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "timing"


def tract_ns_per_row(timing: Path, model: Path, rows: tuple) -> tuple[dict, float]:
    kind, data = rows
    with tempfile.NamedTemporaryFile(suffix=f".{kind}") as f:
        if kind == "f32":
            data.astype("<f4").tofile(f.name)
            args = [f.name]
        else:
            Path(f.name).write_text(json.dumps(data))
            args = ["--rows", f.name]
        out = subprocess.run(
            [str(timing), str(model), *args, *map(str, BATCHES)], check=True, capture_output=True, text=True
        ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return {line["batch"]: line["ns_per_row"] for line in lines}, lines[0]["load_ms"]


def main() -> int:
    only = set(sys.argv[1:])
    timing = build_timing()
    floor = call_floor_ns()
    print(f"onnxruntime {ort.__version__}, 1 thread; Python binding floor (Identity, [1, 11] f32): {floor / 1e3:.2f} us per call")
    print("ratio = ort / tract (> 1.0: tract faster); r-nozm = ort-nozm / tract (ZipMap removed from the ort model)")
    print("adj, adj-in: batch-1 ratio with the binding floor removed (Identity [1, 11]; a constant model on the fixture's own inputs)\n")
    header = (
        f"{'fixture':<28}{'kind':<6}{'batch':>6}{'tract us/row':>13}{'ort us/row':>12}{'ratio':>7}"
        f"{'adj':>7}{'adj-in':>7}{'ort-nozm':>10}{'r-nozm':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, kind, path, fd, rows in models():
        if only and name not in only:
            continue
        model = onnx.load(path)
        sess = session(model.SerializeToString())
        nozm = bench_io.without_zipmap(model)
        sess_nozm = session(nozm.SerializeToString()) if nozm is not None else None
        floor_in = ort_ns_per_row(session(bench_io.inputs_floor(model).SerializeToString()), fd, 1)
        tract, load_ms = tract_ns_per_row(timing, path, rows)
        for batch in BATCHES:
            o = ort_ns_per_row(sess, fd, batch)
            t = tract[batch]
            adj = f"{(o - floor) / t:7.2f}{(o - floor_in) / t:7.2f}" if batch == 1 else f"{'':>14}"
            zm = f"{'':>18}"
            if sess_nozm is not None:
                oz = ort_ns_per_row(sess_nozm, fd, batch)
                zm = f"{oz / 1e3:>10.3f}{oz / t:>8.2f}"
            print(f"{name:<28}{kind[:5]:<6}{batch:>6}{t / 1e3:>13.3f}{o / 1e3:>12.3f}{o / t:>7.2f}{adj}{zm}", flush=True)
        print(f"{'':<34}(tract load+optimize {load_ms:.2f} ms; ort floor on these inputs {floor_in / 1e3:.2f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
