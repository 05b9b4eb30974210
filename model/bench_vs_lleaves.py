#!/usr/bin/env python3
"""Tree speed side by side: this project, onnxruntime and lleaves on the same forests and rows.

Forests (trained here on make_friedman1-style data, 20 features, no missing values):
- lgbm_100x31, lgbm_500x63: LightGBM's default leaf-wise growth (deep, uneven trees);
- lgbm_balanced_100xd8: LightGBM grown depth-wise (max_depth 8, 255 leaves): balanced trees
  lleaves can run;
- sklearn_gb_200xd6, sklearn_rf_100xd10: scikit-learn GradientBoosting / RandomForest
  (balanced; lleaves compiles LightGBM models only, so its column is empty);
- xgb_200xd6: XGBoost, depth-wise (ours and onnxruntime).

Per forest and batch (1 and 10,000): ns per tree per row (batch 10,000) and us per row
(batch 1) for
- `ours`: the Rust `timing` example (`Model::score_matrix`, what a request runs), built with
  `--profile $PROFILE` (default release), or the binary TIMING names;
- `old`: the same example built from another commit, when OLD_TIMING=<path to its binary>;
- `ort`: onnxruntime 1 thread (`sess.run` on a prebuilt [N, 20] f32 slice);
- `lleaves`: `lleaves.Model.predict(n_jobs=1)`, in the lleaves venv (LLEAVES_PY, default
  .venv/lleaves/bin/python; `make bench-vs-lleaves` installs it), compiled once before the
  timed loop (compile time printed: its cold start).
All sides use the same timing loop: best of 5 rounds of >= 0.3 s, cycling through slices.
Python's per-call cost is in onnxruntime's and lleaves' batch-1 figures; `adj` columns
subtract each binding's floor (onnxruntime: an Identity model; lleaves: a 1-tree, 2-leaf
model), the fairest single-row comparison from here. Predictions are checked to agree.

Run from the repository root: .venv/bin/python model/bench_vs_lleaves.py [forest ...]
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat
from skl2onnx import to_onnx
from sklearn.datasets import make_friedman1
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from xgboost import XGBRegressor

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 20
TRAIN_ROWS = 20_000
# scikit-learn's exact split search is slow: fewer rows (its trees are depth-limited anyway).
SKLEARN_ROWS = 5_000
ROWS = 10_000
BATCHES = [1, 10_000]
ROUNDS = 5
ROUND_SECONDS = 0.3


def data():
    x, y = make_friedman1(n_samples=TRAIN_ROWS + ROWS, n_features=FEATURES, noise=1.0, random_state=7)
    # A few interactions on the noise features make deeper trees worth growing.
    y = y + np.sin(3 * x[:, 6] * x[:, 7]) + (x[:, 8] > 0.5) * x[:, 9]
    x = x.astype(np.float32)
    return x[:TRAIN_ROWS], y[:TRAIN_ROWS], np.ascontiguousarray(x[TRAIN_ROWS:])


def lgbm(trees, **params):
    def fit(x, y):
        m = lightgbm.LGBMRegressor(n_estimators=trees, random_state=1, n_jobs=2, verbose=-1, **params).fit(x, y)
        return m, convert_lightgbm(m, initial_types=[("input", MLFloat([None, FEATURES]))]), m.booster_
    return fit


def sklearn(model):
    def fit(x, y):
        m = model.fit(x[:SKLEARN_ROWS], y[:SKLEARN_ROWS])
        return m, to_onnx(m, x[:1], target_opset={"": 17, "ai.onnx.ml": 3}), None
    return fit


def xgb(x, y):
    m = XGBRegressor(n_estimators=200, max_depth=6, random_state=1, n_jobs=2).fit(x, y)
    return m, convert_xgboost(m, initial_types=[("input", MLFloat([None, FEATURES]))]), None


FORESTS = {
    "lgbm_100x31": (100, lgbm(100, num_leaves=31)),
    "lgbm_500x63": (500, lgbm(500, num_leaves=63)),
    "lgbm_balanced_100xd8": (100, lgbm(100, num_leaves=255, max_depth=8, min_child_samples=5)),
    "sklearn_gb_200xd6": (200, sklearn(GradientBoostingRegressor(n_estimators=200, max_depth=6, random_state=1))),
    "sklearn_rf_100xd10": (100, sklearn(RandomForestRegressor(n_estimators=100, max_depth=10, random_state=1, n_jobs=2))),
    "xgb_200xd6": (200, xgb),
}


def session(model_bytes: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def ort_ns_per_row(sess, name: str, x: np.ndarray, batch: int) -> float:
    feeds = [{name: x[o : o + batch]} for o in range(0, len(x) - batch + 1, batch)]
    best = float("inf")
    for _ in range(ROUNDS):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < ROUND_SECONDS:
            sess.run(None, feeds[calls % len(feeds)])
            calls += 1
        best = min(best, (time.perf_counter() - start) * 1e9 / (calls * batch))
    return best


def ort_floor_ns() -> float:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, FEATURES])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, FEATURES])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    rows = np.random.default_rng(0).random((1000, FEATURES), dtype=np.float32)
    return ort_ns_per_row(session(model.SerializeToString()), "x", rows, 1)


def build_timing(profile: str) -> Path:
    subprocess.run(["cargo", "build", "--profile", profile, "--quiet", "-p", "scoring", "--example", "timing"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / ("debug" if profile == "dev" else "release" if profile == "bench" else profile) / "examples" / "timing"


def ours(timing: Path, model: Path, rows: Path) -> dict:
    run = subprocess.run([str(timing), str(model), str(rows), *map(str, BATCHES)], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{timing} {model.name}: {run.stderr.strip()}")
    out = run.stdout
    return {line["batch"]: line["ns_per_row"] for line in map(json.loads, out.splitlines())}


def lleaves(py: str, model_txt: Path, rows: Path, preds: Path) -> tuple[dict, float]:
    out = subprocess.run(
        [py, str(ROOT / "model" / "lleaves_timing.py"), str(model_txt), str(rows), str(FEATURES), str(preds), *map(str, BATCHES)],
        check=True, capture_output=True, text=True,
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return {line["batch"]: line["ns_per_row"] for line in lines}, lines[0]["compile_ms"]


def lleaves_floor_ns(py: str, tmp: Path, x_tr, y_tr) -> float:
    """A 1-tree, 2-leaf model at batch 1: lleaves' per-call cost from Python."""
    booster = lightgbm.LGBMRegressor(n_estimators=1, num_leaves=2, verbose=-1).fit(x_tr, y_tr).booster_
    booster.save_model(tmp / "floor.txt")
    times, _ = lleaves(py, tmp / "floor.txt", tmp / "rows.f32", tmp / "floor.out")
    return times[1]


def main() -> int:
    only = set(sys.argv[1:])
    profile = os.environ.get("PROFILE", "release")
    timing = Path(os.environ["TIMING"]) if "TIMING" in os.environ else build_timing(profile)
    old = os.environ.get("OLD_TIMING")
    py = os.environ.get("LLEAVES_PY", str(ROOT / ".venv" / "lleaves" / "bin" / "python"))
    x_tr, y_tr, x = data()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = tmp / "rows.f32"
        x.astype("<f4").tofile(rows)
        o_floor, l_floor = ort_floor_ns(), lleaves_floor_ns(py, tmp, x_tr, y_tr)
        print(f"onnxruntime {ort.__version__} (1 thread), lleaves (n_jobs=1), ours: `timing` --profile {profile}")
        print(f"Python per-call floors at batch 1: onnxruntime {o_floor / 1e3:.2f} us, lleaves {l_floor / 1e3:.2f} us")
        print("batch 10000: ns per tree per row; batch 1: us per row. x/y: y's time / x's (> 1: x faster)\n")
        head = f"{'forest':<22}{'batch':>6}{'old':>9}{'ours':>9}{'ort':>9}{'lleaves':>9}{'old/ours':>9}{'ort/ours':>9}{'ll/ours':>9}{'ort-adj':>9}{'ll-adj':>9}"
        print(head)
        print("-" * len(head))
        for name, (trees, fit) in FORESTS.items():
            if only and name not in only:
                continue
            model, onx, booster = fit(x_tr, y_tr)
            path = tmp / f"{name}.onnx"
            # The Rust side reads a single [N, F] input's column names from this property.
            helper.set_model_props(onx, {"feature_names": json.dumps([f"x{j}" for j in range(FEATURES)])})
            path.write_bytes(onx.SerializeToString())
            new = ours(timing, path, rows)
            before = ours(Path(old), path, rows) if old else {}
            sess = session(path.read_bytes())
            iname = sess.get_inputs()[0].name
            ref = sess.run(None, {iname: x})[0].ravel()
            notes = []
            ll, compile_ms = {}, None
            if booster is not None:
                booster.save_model(tmp / f"{name}.txt")
                ll, compile_ms = lleaves(py, tmp / f"{name}.txt", rows, tmp / f"{name}.out")
                off = np.abs(np.fromfile(tmp / f"{name}.out", dtype="<f4") - ref).max()
                notes.append(f"lleaves compile {compile_ms:.0f} ms, max |lleaves - ort| {off:.1e}")
            for batch in BATCHES:
                o = ort_ns_per_row(sess, iname, x, batch)
                unit, per = (1e3, 1) if batch == 1 else (1, trees)
                cols = [before.get(batch), new[batch], o, ll.get(batch)]
                cells = "".join(f"{v / per / unit:>9.2f}" if v else f"{'-':>9}" for v in cols)
                ratios = "".join(f"{a / new[batch]:>9.2f}" if a else f"{'-':>9}" for a in [cols[0], o, cols[3]])
                adj = ""
                if batch == 1:
                    adj = f"{(o - o_floor) / new[1]:>9.2f}" + (f"{(ll[1] - l_floor) / new[1]:>9.2f}" if ll else f"{'-':>9}")
                print(f"{name if batch == 1 else '':<22}{batch:>6}{cells}{ratios}{adj}", flush=True)
            print(f"{'':<22}({trees} trees; {'; '.join(notes) or 'lleaves: LightGBM models only'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
