"""onnxruntime's load of each model file, beside the predict function's cold start:
the time to create an InferenceSession from the file (one intra-op thread, as the
function has) and how much resident memory it adds, peak and after.

    .venv/bin/python model/bench_ort_load.py [--runs 3] FILE...

Each measurement is a fresh Python process (onnxruntime imported, nothing loaded),
the files interleaved run by run so that they all see the same noise. Prints a
table on stderr and one line of JSON on stdout: per file, the median over runs of
`session_ms`, `rss_growth_kib` (VmRSS after minus before) and `peak_growth_kib`
(VmHWM after minus VmRSS before: what loading needed at its peak).
"""

import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import onnxruntime as ort

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
before = status("VmRSS")
start = time.perf_counter()
sess = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
elapsed = time.perf_counter() - start
print(json.dumps({
    "session_ms": elapsed * 1e3,
    "rss_growth_kib": status("VmRSS") - before,
    "peak_growth_kib": max(0, status("VmHWM") - before),
}))
"""


def main():
    args = sys.argv[1:]
    runs = 3
    if args[:1] == ["--runs"]:
        runs, args = int(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    samples = {f: [] for f in args}
    for _ in range(runs):
        for f in args:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, f], check=True, capture_output=True, text=True
            ).stdout
            samples[f].append(json.loads(out))
    result = {}
    for f, runs_of in samples.items():
        result[f] = {
            key: statistics.median(r[key] for r in runs_of)
            for key in ("session_ms", "rss_growth_kib", "peak_growth_kib")
        }
        r = result[f]
        print(
            f"{f}: session {r['session_ms']:.1f} ms, RSS +{r['rss_growth_kib'] / 1024:.1f} MiB, "
            f"peak +{r['peak_growth_kib'] / 1024:.1f} MiB",
            file=sys.stderr,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
