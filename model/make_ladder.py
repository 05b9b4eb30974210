"""Writes the cold-start ladder: tree forests of about 5, 30 and 100 MB, from
scikit-learn (skl2onnx), LightGBM and XGBoost (onnxmltools), that the predict
function serves against the demo wines (one [N, 11] float input named
`features`, `feature_names` in the metadata, as the demo model).

Run with the pinned venv (model/requirements.txt):

    .venv/bin/python model/make_ladder.py [OUT_DIR]     # default target/ladder

The files are large and reproducible (seeded): they go to an ignored directory,
never into git. A file already there is kept (delete it to make it again); each
kind is sized by a pilot fit of a few trees, then fitted with as many trees as
the target size needs. The 100 MB forest is the 30 MB one's trees, repeated
(a loader does the same work for a repeated tree as for a new one; training
1,000 deep trees would take most of an hour here). `ladder.json` in OUT_DIR lists the files with their kind,
trees and size, in ladder order.

Data: the 1,599 red wines (model/data/winequality-red.csv), resampled to
ROWS rows with a little noise on every feature and on the quality, so that deep
trees keep splitting (the wines alone give trees of a few hundred leaves).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from train import FEATURES, load

HERE = Path(__file__).resolve().parent
SEED = 2512
ROWS = 12_000
MB = 1_000_000

# name -> (kind, target size in MB). Ladder order: the demo model comes first (the
# bench adds it), then growing sizes, then the other libraries at ~30 MB.
LADDER = [
    ("rf_regressor_5mb", "rf_regressor", 5),
    ("rf_regressor_30mb", "rf_regressor", 30),
    ("rf_regressor_100mb", "rf_regressor", 100),
    ("rf_classifier_30mb", "rf_classifier", 30),
    ("lightgbm_multiclass_30mb", "lightgbm_multiclass", 30),
    ("xgboost_regressor_30mb", "xgboost_regressor", 30),
]


def data():
    x, y = load()
    rng = np.random.default_rng(SEED)
    pick = rng.integers(0, len(x), ROWS)
    noise = rng.normal(0.0, 0.05, (ROWS, x.shape[1])) * x.std(axis=0)
    xs = (x[pick] + noise).astype(np.float32)
    quality = y[pick]
    # Regression target: the quality with noise, so that leaves do not become pure.
    yr = quality + rng.normal(0.0, 0.3, ROWS)
    # Classes: the quality (3..8, six classes).
    yc = quality.astype(np.int64)
    return xs, yr, yc


def fit(kind, trees, x, yr, yc):
    if kind == "rf_regressor":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=trees, min_samples_leaf=4, max_features=0.5, random_state=SEED,
            n_jobs=2,
        ).fit(x, yr)
    if kind == "rf_classifier":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=trees, min_samples_leaf=4, max_features=0.5, random_state=SEED,
            n_jobs=2,
        ).fit(x, yc)
    if kind == "lightgbm_multiclass":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=trees, num_leaves=63, learning_rate=0.05, random_state=SEED,
            verbose=-1, n_jobs=1,
        ).fit(x, yc)
    if kind == "xgboost_regressor":
        from xgboost import XGBRegressor

        return XGBRegressor(
            n_estimators=trees, max_depth=8, learning_rate=0.05, random_state=SEED,
            n_jobs=1,
        ).fit(x, yr)
    raise ValueError(kind)


def export(kind, model):
    if kind.startswith("rf_"):
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        # Exported as users do: converter defaults (a classifier keeps its ZipMap).
        onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))])
    else:
        from onnxmltools import convert_lightgbm, convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType

        convert = convert_lightgbm if kind.startswith("lightgbm") else convert_xgboost
        onx = convert(model, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))])
    helper.set_model_props(onx, {"feature_names": json.dumps(FEATURES), "ladder_kind": kind})
    return onx


def per_class(kind):
    # LightGBM's multiclass grows one tree per class per round.
    return 6 if kind == "lightgbm_multiclass" else 1


FITTED = {}


def make(name, kind, target_mb, out, x, yr, yc):
    path = out / f"{name}.onnx"
    if path.exists():
        return path, None
    started = time.time()
    pilot_trees = 8
    pilot = export(kind, fit(kind, pilot_trees, x, yr, yc)).SerializeToString()
    per_tree = len(pilot) / pilot_trees
    trees = max(1, round(target_mb * MB / per_tree))
    base = FITTED.get(kind)
    if target_mb > 30 and base is not None and len(base.estimators_) < trees:
        # The forest fitted for a smaller size, its trees repeated (see the module doc).
        import copy

        model = copy.copy(base)
        k = len(base.estimators_)
        model.estimators_ = [base.estimators_[i % k] for i in range(trees)]
        model.n_estimators = trees
    else:
        model = fit(kind, trees, x, yr, yc)
        FITTED[kind] = model
    onx = export(kind, model)
    onnx.save(onx, path)
    print(
        f"{path}: {trees} rounds, {path.stat().st_size / MB:.1f} MB "
        f"in {time.time() - started:.0f} s",
        flush=True,
    )
    return path, trees * per_class(kind)


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "target" / "ladder"
    out.mkdir(parents=True, exist_ok=True)
    listing = out / "ladder.json"
    known = {e["name"]: e for e in json.loads(listing.read_text())} if listing.exists() else {}
    x, yr, yc = data()
    entries = []
    for name, kind, target_mb in LADDER:
        path, trees = make(name, kind, target_mb, out, x, yr, yc)
        trees = trees if trees is not None else known.get(name, {}).get("trees")
        entries.append({
            "name": name,
            "kind": kind,
            "file": path.name,
            "bytes": path.stat().st_size,
            "trees": trees,
        })
    listing.write_text(json.dumps(entries, indent=1) + "\n")
    print(f"wrote {listing}")


if __name__ == "__main__":
    main()
