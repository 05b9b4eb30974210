"""Trains the demo model (red wine quality, gradient boosting) and exports it
to model/wine_quality.onnx for the scoring function.

Run with the pinned venv (model/requirements.txt), no arguments:

    .venv/bin/python model/train.py

Data: model/data/winequality-red.csv (see model/data/README.md for the source
and citation). The model file carries its model card (model_card.py): the
training range and deciles of each feature and of the scores, and the cover of
each tree node (training rows reaching it) for the explanations.

It also writes model/wine_quality_wrong_units.onnx: the same model trained on
sulfur dioxide in g/dm3 instead of mg/dm3 and alcohol as a fraction instead of
% vol, a unit mistake the canary's out-of-range alarm must catch (the tests
serve it against the demo products). The export is checked against scikit-learn with onnxruntime;
the script exits non-zero if they disagree.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from model_card import model_card, write_model_card
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "winequality-red.csv"
OUT = HERE / "wine_quality.onnx"
WRONG_UNITS_OUT = HERE / "wine_quality_wrong_units.onnx"
# The unit mistake: column -> factor applied to the training data.
WRONG_UNITS = {"free_sulfur_dioxide": 1e-3, "total_sulfur_dioxide": 1e-3, "alcohol": 1e-2}
SEED = 42
# ONNX vs scikit-learn tolerance: both walk the same float32 thresholds, so
# only the float32 summation of leaf values differs.
MAX_ABS_DIFF = 1e-3

# Column order of the CSV, renamed to snake_case; this order is the model's
# input order and is stored in the ONNX metadata.
FEATURES = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "ph",
    "sulphates",
    "alcohol",
]
TARGET = "quality"


def snake(name: str) -> str:
    return "_".join(name.strip().lower().split())


def load():
    with DATA.open(newline="") as f:
        reader = csv.reader(f)
        header = [snake(h) for h in next(reader)]
        rows = [[float(v) for v in row] for row in reader if row]
    # Fail loudly if the file's columns are not the ones the model promises.
    if header != FEATURES + [TARGET]:
        sys.exit(f"unexpected CSV header: {header}")
    data = np.array(rows, dtype=np.float64)
    # float32 is what the model sees at serving time; train on the same values.
    return data[:, :-1].astype(np.float32), data[:, -1]


def rmse(y, p):
    return float(np.sqrt(np.mean((y - p) ** 2)))


def export(model, x_train, x_test, pred, props, out):
    """Exports `model`, checks it against scikit-learn and writes it with its card."""
    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))])
    # The scoring function reads the column names of its single [N, 11]
    # input from `feature_names`; the rest is informational.
    helper.set_model_props(onx, {"feature_names": json.dumps(FEATURES), **props})
    onx.doc_string = (
        "Red wine quality (0-10 sensory score) from 11 physicochemical measurements; "
        "scikit-learn GradientBoostingRegressor (150 trees, depth 3). Data: Cortez et al. "
        "2009, UCI Wine Quality (red), CC BY 4.0."
    )
    onnx.checker.check_model(onx, full_check=True)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    (onnx_pred,) = sess.run(None, {"features": x_test})
    diff = float(np.max(np.abs(onnx_pred.ravel() - pred)))
    print(f"onnxruntime vs scikit-learn on the test set: max abs diff {diff:.2e}")
    if diff > MAX_ABS_DIFF:
        sys.exit(f"export mismatch: {diff} > {MAX_ABS_DIFF}")

    # The card: the training rows as the model saw them, and its own (float32) answers.
    (train_scores,) = sess.run(None, {"features": x_train})
    # With the model and its training rows the card also holds every tree node's cover
    # (how many of these rows reach it), which explanations weigh by.
    card = model_card({n: x_train[:, i] for i, n in enumerate(FEATURES)}, scores=train_scores,
                      model=onx, feeds={"features": x_train})
    write_model_card(onx, card)
    onnx.save(onx, out)
    print(f"wrote {out.relative_to(HERE.parent)} ({out.stat().st_size:,} bytes)")


def fit(x_train, y_train):
    # Small on purpose: ~150 depth-3 trees keep the ONNX file in the tens of KB.
    return GradientBoostingRegressor(
        n_estimators=150,
        max_depth=3,
        learning_rate=0.05,
        subsample=0.8,
        random_state=SEED,
    ).fit(x_train, y_train)


def main():
    x, y = load()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED
    )
    model = fit(x_train, y_train)

    pred = model.predict(x_test)
    baseline = np.full_like(y_test, y_train.mean())
    test_rmse = rmse(y_test, pred)
    print(f"rows: {len(x_train)} train, {len(x_test)} test")
    print(f"test RMSE {test_rmse:.4f}  (mean-predictor baseline {rmse(y_test, baseline):.4f})")
    print(
        f"test MAE  {np.mean(np.abs(y_test - pred)):.4f}  "
        f"(mean-predictor baseline {np.mean(np.abs(y_test - baseline)):.4f})"
    )
    props = {
        "model_name": "wine_quality",
        "target": TARGET,
        "training_rows": str(len(x_train)),
        "test_rmse": f"{test_rmse:.4f}",
    }
    export(model, x_train, x_test, pred, props, OUT)

    # The unit mistake: the same recipe on rescaled columns.
    scale = np.array([WRONG_UNITS.get(n, 1.0) for n in FEATURES], dtype=np.float32)
    wx_train, wx_test = x_train * scale, x_test * scale
    wrong = fit(wx_train, y_train)
    props = {**props, "model_name": "wine_quality_wrong_units",
             "note": "trained on the wrong units: " + json.dumps(WRONG_UNITS)}
    export(wrong, wx_train, wx_test, wrong.predict(wx_test), props, WRONG_UNITS_OUT)


if __name__ == "__main__":
    main()
