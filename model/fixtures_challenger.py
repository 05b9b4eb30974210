"""Challenger models for the champion/challenger tests, written to model/challengers/:

- wine_quality_white.onnx: the demo regressor's recipe (same 11 inputs, same layout as
  model/wine_quality.onnx) trained on the white wines: it disagrees with the champion on
  the red wines of the demo products.
- wine_quality_refit.onnx: the demo model trained again (same rows, same seed): its answers
  equal the champion's; only its metadata (model_name) differs, so the file does too.
- wine_quality_vintage.onnx: the demo features plus `vintage` (a synthesized year, numeric),
  an attribute the demo products do not have: it cannot answer for them.
- wine_grade_classifier.onnx: a classifier on the demo features (one [N, 11] input, red and
  white wines) with classes "low" (quality <= 5), "medium" (6), "high" (>= 7), unlike
  model/wine_good_classifier.onnx's "bad"/"good"; ZipMap off (label + probability matrix).

Each carries a model card like the demo models (model_card.py). Every export is checked
against scikit-learn with onnxruntime; the script exits non-zero on a disagreement.

Run with the pinned venv, no arguments: .venv/bin/python model/fixtures_challenger.py
(`make fixtures` runs it). Everything is seeded.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import train_test_split

import train
from model_card import model_card, write_model_card
from train import FEATURES, SEED, TARGET, snake

HERE = Path(__file__).resolve().parent
OUT = HERE / "challengers"
WHITE = HERE / "data" / "winequality-white.csv"
RED = HERE / "data" / "winequality-red.csv"
# As train.py: both walk the same float32 thresholds; only the float32 sum differs.
MAX_ABS_DIFF = 1e-3
# As train_classifier.py: a value one ulp from a threshold may take the other branch.
MAX_PROBA_DIFF = 1e-4
MAX_ROWS_OFF = 0.02
MAX_LABELS_OFF = 0.005
CITATION = "Data: Cortez et al. 2009, UCI Wine Quality, CC BY 4.0."


def read(path):
    df = pd.read_csv(path)
    df.columns = [snake(c) for c in df.columns]
    if list(df.columns) != FEATURES + [TARGET]:
        sys.exit(f"unexpected CSV header in {path.name}: {list(df.columns)}")
    return df


def session(onx):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def finish(onx, names, props, doc):
    """Feature names (the scoring function reads the [N, k] input's columns from them),
    the other metadata, and byte-stable opset imports (skl2onnx lists them in set order)."""
    helper.set_model_props(onx, {"feature_names": json.dumps(names), **props})
    onx.doc_string = doc
    imports = sorted(onx.opset_import, key=lambda o: o.domain)
    del onx.opset_import[:]
    onx.opset_import.extend(imports)
    onnx.checker.check_model(onx, full_check=True)


def save(onx, name):
    out = OUT / f"{name}.onnx"
    onnx.save(onx, out)
    print(f"wrote {out.relative_to(HERE.parent)} ({out.stat().st_size:,} bytes)")
    return out


def export_regressor(name, model, names, x_train, x_test, props, doc):
    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(names)]))])
    finish(onx, names, {"model_name": name, "target": TARGET, **props}, doc)
    sess = session(onx)
    (onnx_pred,) = sess.run(None, {"features": x_test})
    diff = float(np.max(np.abs(onnx_pred.ravel() - model.predict(x_test))))
    print(f"{name}: onnxruntime vs scikit-learn on the test set: max abs diff {diff:.2e}")
    if diff > MAX_ABS_DIFF:
        sys.exit(f"{name}: export mismatch: {diff} > {MAX_ABS_DIFF}")
    (train_scores,) = sess.run(None, {"features": x_train})
    card = model_card({n: x_train[:, i] for i, n in enumerate(names)}, scores=train_scores,
                      model=onx, feeds={"features": x_train})
    write_model_card(onx, card)
    return save(onx, name), sess


def red_answers(sess, extra=None):
    """The model's answers on every red wine (the demo products), in file order."""
    x = read(RED)[FEATURES].to_numpy(dtype=np.float32)
    if extra is not None:
        x = np.hstack([x, extra])
    return sess.run(None, {"features": x})[0].ravel()


def refit(champion_scores):
    """The demo model's own training (train.py: same split, same recipe, same seed)."""
    x, y = train.load()
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=SEED)
    model = train.fit(x_train, y_train)
    _, sess = export_regressor(
        "wine_quality_refit", model, FEATURES, x_train, x_test,
        {"training_rows": str(len(x_train)), "note": "model/train.py's model trained again"},
        "Red wine quality: the demo model (model/train.py) trained again with the same "
        "rows and seed, a challenger that agrees with it. " + CITATION,
    )
    diff = float(np.max(np.abs(red_answers(sess) - champion_scores)))
    print(f"wine_quality_refit vs the champion on the red wines: max abs diff {diff:.2e}")
    if diff > 1e-6:
        sys.exit("the refit does not answer like model/wine_quality.onnx: retrain the demo model")


def white(champion_scores):
    df = read(WHITE)
    x = df[FEATURES].to_numpy(dtype=np.float32)
    y = df[TARGET].to_numpy(dtype=np.float64)
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=SEED)
    model = train.fit(x_train, y_train)
    _, sess = export_regressor(
        "wine_quality_white", model, FEATURES, x_train, x_test,
        {"training_rows": str(len(x_train)), "note": "trained on the white wines"},
        "White wine quality (0-10) from the demo model's 11 measurements, the demo "
        "model's recipe (GradientBoostingRegressor, 150 trees, depth 3) on the other "
        "colour: a challenger that disagrees with it on red wines. " + CITATION,
    )
    d = np.abs(red_answers(sess) - champion_scores)
    print(f"wine_quality_white vs the champion on the red wines: mean abs diff {d.mean():.3f}, "
          f"p99 {np.quantile(d, 0.99):.3f}, {np.mean(d > 0.25):.1%} of rows off by > 0.25")


def vintage():
    """Red wines with a synthesized `vintage` (a year, 1995-2010) that leans with quality,
    so the trees split on it: the model cannot score a row without it."""
    df = read(RED)
    rng = np.random.default_rng(SEED)
    years = 2003 + (df[TARGET].to_numpy() - 5.6) * 2 + rng.normal(0, 2.5, len(df))
    df["vintage"] = np.clip(np.round(years), 1995, 2010)
    names = FEATURES + ["vintage"]
    x = df[names].to_numpy(dtype=np.float32)
    y = df[TARGET].to_numpy(dtype=np.float64)
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=SEED)
    model = train.fit(x_train, y_train)
    used = model.feature_importances_[-1]
    print(f"wine_quality_vintage: vintage's importance {used:.3f}")
    if used <= 0:
        sys.exit("the vintage model does not use vintage")
    export_regressor(
        "wine_quality_vintage", model, names, x_train, x_test,
        {"training_rows": str(len(x_train)), "note": "vintage is synthesized, not data"},
        "Red wine quality from the demo model's 11 measurements and `vintage` (a year; "
        "synthesized for the tests, not in the data): a challenger that needs an attribute "
        "the demo products do not have. " + CITATION,
    )


def grade(quality):
    return np.where(quality <= 5, "low", np.where(quality >= 7, "high", "medium"))


def grade_classifier():
    df = pd.concat([read(RED), read(WHITE)], ignore_index=True)
    x = df[FEATURES].to_numpy(dtype=np.float32)
    y = grade(df[TARGET].to_numpy())
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y
    )
    # Small on purpose: 60 depth-3 trees per class keep the file near 100 KB.
    model = GradientBoostingClassifier(
        n_estimators=60, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=SEED
    ).fit(x_train, y_train)
    pred = model.predict(x_test)
    acc = float(np.mean(pred == y_test))
    print(f"wine_grade_classifier: test accuracy {acc:.4f} (majority class "
          f"{pd.Series(y_test).value_counts(normalize=True).max():.4f})")
    name = "wine_grade_classifier"
    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
                  options={id(model): {"zipmap": False}})
    finish(onx, FEATURES, {
        "model_name": name,
        "target": f"{TARGET}: low <= 5, medium 6, high >= 7",
        "classes": json.dumps([str(c) for c in model.classes_]),
        "training_rows": str(len(x_train)),
        "test_accuracy": f"{acc:.4f}",
    }, "Wine grade (low: quality <= 5, medium: 6, high: >= 7) from the demo model's 11 "
       "measurements, red and white wines; scikit-learn GradientBoostingClassifier (60 "
       "trees per class, depth 3), ZipMap off. " + CITATION)
    sess = session(onx)
    labels, proba = sess.run(None, {"features": x_test})
    rows_off = float(np.mean(np.abs(proba - model.predict_proba(x_test)).max(1) > MAX_PROBA_DIFF))
    agree = float(np.mean(labels == pred))
    print(f"{name}: onnxruntime vs scikit-learn: labels agree on {agree:.2%} of rows; "
          f"{rows_off:.2%} rows with a probability off by > {MAX_PROBA_DIFF}")
    if rows_off > MAX_ROWS_OFF or agree < 1 - MAX_LABELS_OFF:
        sys.exit(f"{name}: export mismatch")
    train_labels, _ = sess.run(None, {"features": x_train})
    card = model_card({n: x_train[:, i] for i, n in enumerate(FEATURES)}, labels=train_labels,
                      model=onx, feeds={"features": x_train})
    write_model_card(onx, card)
    save(onx, name)


def main():
    OUT.mkdir(exist_ok=True)
    champion = session(onnx.load(HERE / "wine_quality.onnx"))
    champion_scores = red_answers(champion)
    refit(champion_scores)
    white(champion_scores)
    vintage()
    grade_classifier()


if __name__ == "__main__":
    main()
