#!/usr/bin/env python3
"""lleaves' side of model/bench_vs_lleaves.py; runs in the lleaves venv (model/requirements-lleaves.txt).

Usage: lleaves_timing.py <model.txt> <rows.f32> <n_features> <out.f32> [batch ...]

Compiles the LightGBM model with LLVM once (its cold start, printed as `compile_ms`), writes
its predictions for all rows to <out.f32> (for the agreement check), then times `predict`
with one thread, the same loop as examples/timing.rs: best of 5 rounds of >= 0.3 s, cycling
through consecutive slices of the rows. One JSON line per batch on stdout.
"""

import json
import sys
import time

import lleaves
import numpy as np

ROUNDS = 5
ROUND_SECONDS = 0.3


def ns_per_row(model, x: np.ndarray, batch: int) -> float:
    slices = [x[o : o + batch] for o in range(0, len(x) - batch + 1, batch)]
    n = len(slices)
    best = float("inf")
    for _ in range(ROUNDS):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < ROUND_SECONDS:
            model.predict(slices[calls % n], n_jobs=1)
            calls += 1
        best = min(best, (time.perf_counter() - start) * 1e9 / (calls * batch))
    return best


def main() -> int:
    model_txt, rows, n_features, out, *batches = sys.argv[1:]
    # lleaves reads doubles: converting once here keeps the conversion out of the timed loop.
    x = np.fromfile(rows, dtype="<f4").reshape(-1, int(n_features)).astype(np.float64)
    started = time.perf_counter()
    model = lleaves.Model(model_file=model_txt)
    model.compile()
    compile_ms = (time.perf_counter() - started) * 1e3
    model.predict(x, n_jobs=1).astype("<f4").tofile(out)
    for batch in map(int, batches or ["1", "10000"]):
        print(json.dumps({"batch": batch, "ns_per_row": ns_per_row(model, x, batch), "compile_ms": compile_ms}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
