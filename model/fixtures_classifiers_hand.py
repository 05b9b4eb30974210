"""Hand-built single-node classifier graphs (onnx.helper only) for the attribute
combinations converters rarely or never emit: every post_transform, the binary-case
column rules, base_values of each length, opset-3 tensor attributes, SVM linear mode."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
OPSETS = {"": 21}


def graph_model(node, x_width, outputs, ml_opset=1, name="hand"):
    """X[N, width] float -> node -> outputs [(name, elem_type, shape)]."""
    graph = helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, x_width])],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )
    opsets = [helper.make_opsetid(d, v) for d, v in OPSETS.items()]
    opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    return helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION)


def label_output(labels, n_classes):
    string = isinstance(labels[0], str)
    return [
        ("label", TensorProto.STRING if string else TensorProto.INT64, [None]),
        ("scores", TensorProto.FLOAT, [None, n_classes]),
    ]


def random_trees(rng, x, n_trees, depth):
    """Trees as node lists (dicts), root first; thresholds drawn from `x` so both
    branches are taken; some NaN rows follow the true branch (missing tracks)."""
    trees = []
    for _ in range(n_trees):
        nodes = []

        def grow(rows, d):
            node = {"id": len(nodes)}
            nodes.append(node)
            if d == depth or len(rows) < 4 or (d > 0 and rng.random() < 0.15):
                node["mode"] = "LEAF"
                return node["id"]
            feat = int(rng.integers(x.shape[1]))
            vals = x[rows, feat]
            vals = vals[~np.isnan(vals)]
            thr = float(rng.choice(vals)) if len(vals) else 0.0
            track = int(rng.random() < 0.5)
            go = (x[rows, feat] <= thr) | (bool(track) & np.isnan(x[rows, feat]))
            node.update(mode="BRANCH_LEQ", feat=feat, thr=thr, track=track)
            node["true"] = grow(rows[go], d + 1)
            node["false"] = grow(rows[~go], d + 1)
            return node["id"]

        grow(np.arange(x.shape[0]), 0)
        trees.append(nodes)
    return trees


def tree_classifier(rng, x, *, labels, classes_at_leaf, weights, post_transform,
                    base_values=None, n_trees=8, depth=3, opset=1):
    """TreeEnsembleClassifier. `classes_at_leaf(rng)` gives the classes a leaf weighs,
    `weights(rng, k)` their k weights."""
    trees = random_trees(rng, x, n_trees, depth)
    nodes = {k: [] for k in ["treeids", "nodeids", "featureids", "modes", "values", "true", "false", "missing"]}
    cls = {k: [] for k in ["treeids", "nodeids", "ids", "weights"]}
    for tid, tree in enumerate(trees):
        for n in tree:
            leaf = n["mode"] == "LEAF"
            for key, v in [("treeids", tid), ("nodeids", n["id"]), ("featureids", 0 if leaf else n["feat"]),
                           ("modes", n["mode"]), ("values", 0.0 if leaf else n["thr"]),
                           ("true", 0 if leaf else n["true"]), ("false", 0 if leaf else n["false"]),
                           ("missing", 0 if leaf else n["track"])]:
                nodes[key].append(v)
            if leaf:
                ks = classes_at_leaf(rng)
                for c, w in zip(ks, weights(rng, len(ks))):
                    cls["treeids"].append(tid)
                    cls["nodeids"].append(n["id"])
                    cls["ids"].append(int(c))
                    cls["weights"].append(float(np.float32(w)))
    attrs = dict(
        nodes_treeids=nodes["treeids"], nodes_nodeids=nodes["nodeids"],
        nodes_featureids=nodes["featureids"], nodes_modes=nodes["modes"],
        nodes_truenodeids=nodes["true"], nodes_falsenodeids=nodes["false"],
        nodes_missing_value_tracks_true=nodes["missing"],
        class_treeids=cls["treeids"], class_nodeids=cls["nodeids"], class_ids=cls["ids"],
        post_transform=post_transform,
    )
    if isinstance(labels[0], str):
        attrs["classlabels_strings"] = list(labels)
    else:
        attrs["classlabels_int64s"] = [int(v) for v in labels]
    if opset == 3:
        # Float tensors: onnxruntime wants the input type (double tensors need double X).
        attrs["nodes_values_as_tensor"] = numpy_helper.from_array(np.array(nodes["values"], dtype=np.float32))
        attrs["class_weights_as_tensor"] = numpy_helper.from_array(np.array(cls["weights"], dtype=np.float32))
        if base_values is not None:
            attrs["base_values_as_tensor"] = numpy_helper.from_array(np.array(base_values, dtype=np.float32))
    else:
        attrs["nodes_values"] = nodes["values"]
        attrs["class_weights"] = cls["weights"]
        if base_values is not None:
            attrs["base_values"] = list(base_values)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
    return graph_model(node, x.shape[1], label_output(labels, len(labels)), ml_opset=opset)


def svm_classifier(x, *, labels, post_transform, kernel, coefficients, rho, support_vectors=None,
                   vectors_per_class=None, prob_a=None, prob_b=None, kernel_params=(0.1, 0.5, 3.0),
                   n_scores=None):
    attrs = dict(kernel_type=kernel, kernel_params=list(kernel_params), coefficients=list(coefficients),
                 rho=list(rho), post_transform=post_transform, classlabels_ints=list(labels))
    if support_vectors is not None:
        attrs.update(support_vectors=list(support_vectors), vectors_per_class=list(vectors_per_class))
    if prob_a is not None:
        attrs.update(prob_a=list(prob_a), prob_b=list(prob_b))
    node = helper.make_node("SVMClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
    return graph_model(node, x.shape[1], label_output(labels, n_scores or len(labels)))


def linear_classifier(x, *, labels, coefficients, intercepts, post_transform, multi_class=0):
    attrs = dict(coefficients=list(coefficients), intercepts=list(intercepts),
                 post_transform=post_transform, multi_class=multi_class, classlabels_ints=list(labels))
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
    n_scores = 2 if len(labels) == 2 else len(labels)
    return graph_model(node, x.shape[1], label_output(labels, n_scores))


def hand_built(x, xt):
    """(name, model, feeds) for every hand-built case; `x` designs, `xt` is fed."""
    rng = np.random.default_rng(42)
    feeds = {"X": xt}
    clean = {"X": np.nan_to_num(xt, nan=0.5)}
    out = []
    every3 = lambda r: [0, 1, 2]  # noqa: E731
    some3 = lambda r: sorted(r.choice(3, size=int(r.integers(1, 4)), replace=False))  # noqa: E731
    normal = lambda r, k: r.normal(0, 1, size=k)  # noqa: E731
    small_pos = lambda r, k: r.uniform(0, 1.0 / 8, size=k)  # noqa: E731

    # Multiclass, each post_transform; partial leaves make "has a score" row-dependent.
    for pt, base, w in [("NONE", None, normal), ("LOGISTIC", [0.1, -0.2, 0.3], normal),
                        ("SOFTMAX", [0.1, -0.2, 0.3], normal), ("SOFTMAX_ZERO", None, normal),
                        ("PROBIT", None, small_pos)]:
        name = f"tree_multiclass_{pt.lower()}"
        out.append((name, tree_classifier(rng, x, labels=[0, 1, 2], classes_at_leaf=some3, weights=w,
                                          post_transform=pt, base_values=base), feeds))
    out.append(("tree_multiclass_all_leaves_none", tree_classifier(
        rng, x, labels=[5, 6, 9], classes_at_leaf=every3, weights=normal, post_transform="NONE"), feeds))

    # Binary: one class named by the weights (the converters' layout), then both.
    only = lambda c: (lambda r: [c])  # noqa: E731
    both_some = lambda r: sorted(r.choice(2, size=int(r.integers(1, 3)), replace=False))  # noqa: E731
    for name, at_leaf, w, pt, base, labels in [
        ("tree_binary_class0_prob_none", only(0), small_pos, "NONE", None, [0, 1]),
        ("tree_binary_class0_prob_logistic", only(0), small_pos, "LOGISTIC", None, [0, 1]),
        ("tree_binary_class0_margin_logistic_base1", only(0), normal, "LOGISTIC", [0.3], [0, 1]),
        ("tree_binary_class0_margin_softmax_base1", only(0), normal, "SOFTMAX", [0.3], [0, 1]),
        ("tree_binary_class0_margin_softmax_zero", only(0), normal, "SOFTMAX_ZERO", None, [0, 1]),
        ("tree_binary_class1_margin_none_base1", only(1), normal, "NONE", [0.3], [0, 1]),
        ("tree_binary_class1_margin_none_base2", only(1), normal, "NONE", [0.1, 0.2], [0, 1]),
        ("tree_binary_class0_margin_logistic_base2", only(0), normal, "LOGISTIC", [0.1, 0.2], [0, 1]),
        ("tree_binary_both_partial_none_3_7", both_some, normal, "NONE", None, [3, 7]),
        ("tree_binary_both_partial_softmax_base2", both_some, normal, "SOFTMAX", [0.1, 0.2], [3, 7]),
        ("tree_binary_both_all_logistic_base2", lambda r: [0, 1], normal, "LOGISTIC", [0.1, 0.2], [0, 1]),
        ("tree_binary_strings_class0_margin", only(0), normal, "LOGISTIC", [0.2], ["no", "yes"]),
    ]:
        out.append((name, tree_classifier(rng, x, labels=labels, classes_at_leaf=at_leaf, weights=w,
                                          post_transform=pt, base_values=base), feeds))

    # Opset 3: double tensors for thresholds, weights and base values; string labels.
    out.append(("tree_opset3_strings_softmax", tree_classifier(
        rng, x, labels=["a", "b", "c"], classes_at_leaf=some3, weights=normal, post_transform="SOFTMAX",
        base_values=[0.25, 0.0, -0.25], opset=3), feeds))

    # SVMClassifier: linear mode (no support vectors), and SVC mode with each transform.
    f = x.shape[1]
    coef3 = rng.normal(0, 0.5, size=3 * f)
    for pt in ["NONE", "SOFTMAX", "LOGISTIC"]:
        out.append((f"svm_linear_mode_multiclass_{pt.lower()}", svm_classifier(
            x, labels=[0, 1, 2], post_transform=pt, kernel="LINEAR", coefficients=coef3, rho=[0.1]), clean))
    out.append(("svm_linear_mode_binary_none", svm_classifier(
        x, labels=[0, 1], post_transform="NONE", kernel="LINEAR", coefficients=coef3[: 2 * f], rho=[0.2]),
        clean))
    sv = rng.normal(0, 1, size=(9, f))
    vpc = [3, 4, 2]
    coefs = rng.normal(0, 1, size=(2, 9))
    for kernel, pt in [("RBF", "NONE"), ("POLY", "SOFTMAX"), ("SIGMOID", "LOGISTIC"), ("LINEAR", "SOFTMAX_ZERO")]:
        out.append((f"svm_svc_multiclass_{kernel.lower()}_{pt.lower()}", svm_classifier(
            x, labels=[0, 1, 2], post_transform=pt, kernel=kernel, coefficients=coefs.ravel(),
            rho=[0.1, -0.2, 0.05], support_vectors=sv.ravel(), vectors_per_class=vpc, n_scores=3), clean))
    for pt in ["NONE", "LOGISTIC"]:
        out.append((f"svm_svc_binary_{pt.lower()}", svm_classifier(
            x, labels=[4, 8], post_transform=pt, kernel="RBF", coefficients=coefs[0, :7],
            rho=[0.1], support_vectors=sv[:7].ravel(), vectors_per_class=[3, 4]), clean))
    out.append(("svm_svc_proba_binary_softmax", svm_classifier(
        x, labels=[4, 8], post_transform="SOFTMAX", kernel="RBF", coefficients=coefs[0, :7], rho=[0.1],
        support_vectors=sv[:7].ravel(), vectors_per_class=[3, 4], prob_a=[-2.0], prob_b=[0.1]), clean))

    # LinearClassifier layouts skl2onnx does not use: one model for two classes.
    for pt in ["NONE", "LOGISTIC", "SOFTMAX"]:
        out.append((f"linear_one_model_binary_{pt.lower()}", linear_classifier(
            x, labels=[0, 1], coefficients=coef3[:f], intercepts=[0.3], post_transform=pt), clean))
    out.append(("linear_multiclass_none", linear_classifier(
        x, labels=[0, 1, 2], coefficients=coef3, intercepts=[0.1, 0.0, -0.1], post_transform="NONE"), clean))
    return out


def refusals(x):
    """(name, model) pairs our loader must refuse, naming op and attribute."""
    rng = np.random.default_rng(7)
    f = x.shape[1]
    only0 = lambda r: [0]  # noqa: E731
    normal = lambda r, k: r.normal(0, 1, size=k)  # noqa: E731
    some3 = lambda r: [0, 1, 2]  # noqa: E731
    sv = rng.normal(0, 1, size=(4, f))
    regressor = helper.make_node(
        "SVMRegressor", ["X"], ["variable"], domain="ai.onnx.ml", kernel_type="RBF",
        kernel_params=[0.1, 0.0, 3.0], coefficients=[1.0, -1.0, 0.5, 0.2], rho=[0.1],
        support_vectors=list(sv.ravel()), n_supports=4, post_transform="LOGISTIC")
    return [
        ("refuse_tree_binary_probit", tree_classifier(
            rng, x, labels=[0, 1], classes_at_leaf=only0, weights=normal, post_transform="PROBIT")),
        ("refuse_tree_base_values_length", tree_classifier(
            rng, x, labels=[0, 1, 2], classes_at_leaf=some3, weights=normal, post_transform="NONE",
            base_values=[0.1, 0.2])),
        ("refuse_svm_regressor_post_transform",
         graph_model(regressor, f, [("variable", TensorProto.FLOAT, [None, 1])])),
        ("refuse_linear_one_model_probit", linear_classifier(
            x, labels=[0, 1], coefficients=[0.5] * f, intercepts=[0.1], post_transform="PROBIT")),
        ("refuse_svm_unknown_kernel", svm_classifier(
            x, labels=[0, 1], post_transform="NONE", kernel="CUBIC", coefficients=[1.0, -1.0, 0.5, 0.2],
            rho=[0.1], support_vectors=sv.ravel(), vectors_per_class=[2, 2])),
    ]
