"""Class labels found through what follows the classifier: exports whose classifier
operator names its classes in `classlabels_ints` (LinearClassifier, SVMClassifier) and
whose outputs reach it through a Normalizer, a Cast or an Identity, with ZipMap off.
Written as libs/scoring/tests/fixtures/class_labels/<name>.onnx + <name>.json in the
typed fixtures' format (typed_io.py: JSON rows, onnxruntime's answers), for
libs/scoring/tests/it/class_labels.rs; plus refusals.json (graphs with no classes to find).

Run with the pinned venv, no arguments: .venv/bin/python model/fixtures_class_labels.py
(make_fixtures.py runs it too). Everything is seeded."""

import json
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from skl2onnx.common.data_types import FloatTensorType

import typed_io
from fixture_io import OUT, session, with_feature_names
from fixtures_typed import classification_matrix, export_matrix, fnames, matrix_rows
from typed_io import canonical, write_typed

DIR = OUT / "class_labels"
NO_ZIPMAP = "zipmap"


def export(est, names):
    opts = {id(est): {NO_ZIPMAP: False}}
    return with_feature_names(export_matrix(est, len(names), FloatTensorType, opts), names)


def write(name, model, est, x_te, names, description):
    feats, rows = matrix_rows(x_te, names)
    return write_typed(name, model, description, "classifier", feats, rows, "matrix",
                       classes=est.classes_, zipmap=False,
                       reference=(est.predict(x_te), est.predict_proba(x_te)), tol=1e-4)


def rewire(model, output, ops):
    """Puts `ops` [(op_type, attrs)] between the node that writes graph output `output`
    and the output, as a converter would (a Cast or an Identity on the way out)."""
    graph = model.graph
    (writer,) = [n for n in graph.node if output in n.output]
    at = list(writer.output).index(output)
    tensor = f"{output}_raw"
    writer.output[at] = tensor
    for i, (op, attrs) in enumerate(ops):
        out = output if i == len(ops) - 1 else f"{output}_{i}"
        graph.node.append(helper.make_node(op, [tensor], [out], name=f"{output}_{op}_{i}", **attrs))
        tensor = out
    return model


def relabel(model):
    """The label through a LabelEncoder that maps the classes 0/1/2 to 10/20/30: the
    classifier's classes are no longer the label's, so none can be named."""
    for o in model.opset_import:
        if o.domain == "ai.onnx.ml":
            o.version = max(o.version, 2)  # LabelEncoder's int64 keys and values
    return rewire(model, "label", [("LabelEncoder", {
        "domain": "ai.onnx.ml", "keys_int64s": [0, 1, 2], "values_int64s": [10, 20, 30]})])


def main():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    # Same format as typed/, in its own directory with its own index (put back after, as
    # make_fixtures.py writes typed/ in the same process).
    saved = typed_io.TYPED, typed_io.INDEX
    typed_io.TYPED, typed_io.INDEX = DIR, []
    try:
        class_label_fixtures()
    finally:
        typed_io.TYPED, typed_io.INDEX = saved


def class_label_fixtures():
    names = fnames(8)

    x_tr, y_tr, x_te, _ = classification_matrix(seed=41, n_classes=3)
    lr = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
    write("logreg_ints_multiclass", export(lr, names), lr, x_te, names,
          "LogisticRegression, 3 int64 classes 0/1/2, zipmap=False: a LinearClassifier "
          "(classlabels_ints) whose probabilities go through a Normalizer.")
    write("logreg_ints_cast_identity", rewire(rewire(
        export(lr, names), "label", [("Cast", {"to": TensorProto.INT64}), ("Identity", {})]),
        "probabilities", [("Identity", {}), ("Cast", {"to": TensorProto.FLOAT})]),
        lr, x_te, names,
        "logreg_ints_multiclass with a Cast then an Identity after the label and an Identity "
        "then a Cast after the Normalizer (hand-edited export).")

    x_tr, y_tr, x_te, _ = classification_matrix(seed=42, n_classes=2)
    lr2 = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
    write("logreg_ints_binary", export(lr2, names), lr2, x_te, names,
          "LogisticRegression, 2 int64 classes 0/1, zipmap=False: a LinearClassifier "
          "(classlabels_ints) answering both outputs itself.")
    svc = SVC(probability=True, random_state=0).fit(x_tr[:600], np.array([1, 6])[y_tr[:600]])
    write("svc_ints_binary", export(svc, names), svc, x_te, names,
          "SVC(probability=True), 2 int64 classes 1/6, zipmap=False: an SVMClassifier "
          "(classlabels_ints) whose probabilities go through a Cast.")

    refusals = []
    m = canonical(relabel(export(lr, names)), "logreg_label_encoded")
    onnx.checker.check_model(m, full_check=True)
    labels, _ = session(m).run(None, {"X": x_te[:50]})
    assert set(labels) <= {10, 20, 30}, labels  # onnxruntime runs it: the graph is valid
    (DIR / "logreg_label_encoded.onnx").write_bytes(m.SerializeToString())
    refusals.append({"name": "logreg_label_encoded", "must_mention": ["names no classes"],
                     "why": "the label reaches the classifier only through a LabelEncoder"})
    (DIR / "index.json").write_text(json.dumps(typed_io.INDEX, indent=2) + "\n")
    (DIR / "refusals.json").write_text(json.dumps(refusals, indent=2) + "\n")


if __name__ == "__main__":
    main()
