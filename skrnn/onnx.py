"""Export fitted skrnn estimators to ONNX, and register them with skl2onnx.

:func:`to_onnx` writes an :class:`~skrnn.RNNClassifier`, :class:`~skrnn.RNNRegressor`,
:class:`~skrnn.RNNSequenceTagger` or :class:`~skrnn.RNNSequenceRegressor` as an ONNX model
that any ONNX runtime runs without skrnn, scikit-learn or PyTorch. :func:`register_skl2onnx`
teaches skl2onnx the estimators and
:class:`~skrnn.SequenceScaler`, so that ``skl2onnx.to_onnx`` converts a
:class:`~sklearn.pipeline.Pipeline` of them like any scikit-learn pipeline.

This module needs the optional packages ``onnx`` (and ``skl2onnx`` for the registration);
``pip install skrnn[onnx]`` installs them with ``onnxruntime``. Importing :mod:`skrnn` never
imports this module.

.. rubric:: The graph

Input ``X``: the NaN-padded array of shape (n_sequences, T, n_features) of
:func:`skrnn.sequences.to_nan_padded` (any T, any number of sequences); for a model of token
ids (``embedding_dim`` set), the int64 ids (n_sequences, T) padded with 0, a sequence's
length being the position after its last non-zero id, read through the embedding table with a
``Gather``. Inside the graph:

1. each sequence's length is the index of its last step that is not all NaN, plus one (the
   padding rule of :func:`skrnn.sequences.check_sequences`). The graph does not reject what
   skrnn's ``predict`` rejects: NaN inside a sequence is read as 0, and a sequence that is
   all NaN as one step of zeros;
2. NaN becomes 0 and the batch is transposed to time-major (T, n_sequences, n_features);
3. each layer is one ONNX ``LSTM``, ``GRU`` or ``RNN`` operator (float32) given the lengths
   as ``sequence_lens``, so that padded steps never enter a state; a bidirectional layer's
   output (T, 2, n, H) is reshaped to (T, n, 2H) for the next layer;
4. the dense head reads, as skrnn's does, the top layer's final states (the forward
   direction's state after the last real step joined with the backward direction's state
   after step 0), with ``pooling="mean"`` or ``"max"`` a ``ReduceSum`` divided by the
   lengths or a ``ReduceMax`` of the top layer's outputs over the steps before each length
   (a mask built from the lengths), or, for the per-step estimators, the top layer's output
   at every step.

The weights are PyTorch's, reordered to ONNX's gate orders (LSTM: i, o, f, c for PyTorch's
i, f, g, o; GRU: z, r, h for PyTorch's r, z, n, with ``linear_before_reset=1``). A
regressor's target scaling (``scale_target``) is folded into the head's weights, as
:func:`skrnn.interchange.to_torch_state_dict` folds it, so that ``variable`` holds
predictions in the targets' units.

onnxruntime implements the recurrent operators in float32 only. A float64 export therefore
writes the same equations step by step inside a ``Scan`` operator (matrix products,
sigmoid, tanh), masking padded steps, which onnxruntime runs in float64.

Outputs, named as skl2onnx names them for scikit-learn's estimators:

- classifier: ``label`` (n,) and ``probabilities`` (n, n_classes), a tensor (no ZipMap);
- regressor: ``variable`` (n, n_outputs);
- sequence regressor: ``variable`` (n, T, n_outputs), NaN at padded steps;
- tagger: ``label`` (n, T) and ``probabilities`` (n, T, n_classes); probabilities are NaN at
  padded steps and the labels there are meaningless (the head applied to a zero state).

Class labels must be integers (int64 in the graph), booleans (int64 0/1) or strings.

The model declares IR version :data:`IR_VERSION` and opset :data:`TARGET_OPSET` (the newest
``onnx`` writes by default an IR version that current onnxruntime releases reject).

.. rubric:: Examples

>>> import numpy as np
>>> from skrnn import RNNClassifier
>>> from skrnn.onnx import to_onnx
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 6, 2)).astype(np.float32)
>>> X[::3, 4:] = np.nan  # every third sequence is 4 steps long
>>> y = (np.nansum(X[:, :, 0], axis=1) > 0).astype(int)
>>> clf = RNNClassifier("lstm", (8,), max_iter=20, random_state=0).fit(X, y)
>>> model = to_onnx(clf)  # doctest: +SKIP
>>> import onnxruntime  # doctest: +SKIP
>>> session = onnxruntime.InferenceSession(model.SerializeToString())  # doctest: +SKIP
>>> label, proba = session.run(None, {"X": X})  # doctest: +SKIP
>>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)  # doctest: +SKIP
True
"""

import numpy as np

__all__ = ["to_onnx", "register_skl2onnx", "TARGET_OPSET", "IR_VERSION"]

TARGET_OPSET = 17
IR_VERSION = 8

# PyTorch's gate blocks, in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_ONNX_GATES = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}
_ONNX_OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
_MIN_OPSET = 14


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("skrnn.onnx needs the package onnx: pip install skrnn[onnx] "
                          "(or pip install onnx onnxruntime skl2onnx).") from exc
    return onnx


def _estimators():
    from ._classifier import RNNClassifier
    from ._regressor import RNNRegressor
    from ._sequence_regressor import RNNSequenceRegressor
    from ._tagger import RNNSequenceTagger

    return RNNClassifier, RNNRegressor, RNNSequenceTagger, RNNSequenceRegressor


# ------------------------------------------------------------------------------------------
# Emitting nodes: into a standalone graph, or into skl2onnx's container
# ------------------------------------------------------------------------------------------


class _Graph:
    """Collects the nodes and constants of a standalone ONNX graph."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes, self.initializers, self._used = [], [], set()

    def name(self, hint):
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def const(self, hint, value):
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, n_outputs=1, outputs=None, **attrs):
        """Add a node; returns its output name (or list of names for n_outputs > 1)."""
        from onnx import helper

        outputs = outputs or [self.name(f"{op_type.lower()}_out") for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=self.name(op_type), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs


class _Container(_Graph):
    """Adds nodes and constants to skl2onnx's scope and container."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container
        self.opset = container.target_opset

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def const(self, hint, value):
        from onnx import numpy_helper

        name = self.name(hint)
        tensor = numpy_helper.from_array(np.asarray(value), name)
        self.container.add_initializer(name, tensor.data_type, list(tensor.dims), tensor)
        return name

    def op(self, op_type, inputs, n_outputs=1, outputs=None, **attrs):
        outputs = outputs or [self.name(f"{op_type.lower()}_out") for _ in range(n_outputs)]
        self.container.add_node(op_type, list(inputs), outputs,
                                name=self.scope.get_unique_operator_name(op_type),
                                op_version=self.opset, **attrs)
        return outputs[0] if len(outputs) == 1 else outputs


# ------------------------------------------------------------------------------------------
# The estimator's graph
# ------------------------------------------------------------------------------------------


def _check_estimator(estimator):
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(estimator, _estimators()):
        raise TypeError(f"to_onnx exports RNNClassifier, RNNRegressor, RNNSequenceTagger and "
                        f"RNNSequenceRegressor estimators, got {type(estimator).__name__}.")
    check_is_fitted(estimator, "theta_")
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        _label_values(classes)


def _label_values(classes):
    """The class labels as an array ONNX can hold: int64 or str."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "U" or (classes.dtype == object
                                     and all(isinstance(c, str) for c in classes)):
        return classes.astype(object)
    raise TypeError(f"ONNX export supports integer, boolean and string class labels; "
                    f"classes_ has dtype {classes.dtype}.")


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    return dtype


def _write_estimator(g, estimator, X, dtype, outputs):
    """Write the graph from input name X to the output names in ``outputs`` (a dict with
    "label" and "probabilities", or "variable")."""
    net = estimator.network_
    # a regressor's target scaling folded into the head: the graph predicts in target units
    P = {name: w.astype(dtype) for name, w in estimator._exported_state_dict().items()}
    if net.n_tokens is None:
        is_nan = g.op("IsNaN", [X])
        real, lengths = _lengths(g, X, is_nan, dtype)
        zero = g.const("zero", np.zeros(1, dtype=dtype))
        X0 = g.op("Where", [is_nan, zero, X])
    else:  # token ids (n, T), 0-padded: their rows of the embedding table
        real, lengths = _token_lengths(g, X, dtype)
        X0 = g.op("Gather", [g.const("embedding_weight", P["embedding.weight"]), X], axis=0)
    inputs = g.op("Transpose", [X0], perm=[1, 0, 2])  # (T, n, F)
    mask = None if dtype == np.float32 else g.op("Transpose", [real], perm=[1, 0, 2])
    for k, H in enumerate(net.hidden_sizes):
        if mask is None:
            inputs, last = _standard_layer(g, net, P, k, H, inputs, lengths)
        else:
            inputs, last = _scan_layer(g, net, P, k, H, inputs, mask, dtype)
    W_out = g.const("head_weight_T", np.ascontiguousarray(P["head.weight"].T))
    b_out = g.const("head_bias", P["head.bias"])
    if net.output == "sequence":
        Z = g.op("Add", [g.op("MatMul", [inputs, W_out]), b_out])  # (T, n, K)
        Z = g.op("Transpose", [Z], perm=[1, 0, 2])                  # (n, T, K)
    else:
        if net.pooling != "last":
            last = _pool(g, inputs, lengths, net.pooling, dtype)
        Z = g.op("Add", [g.op("MatMul", [last, W_out]), b_out])    # (n, K)
    if "variable" in outputs:
        if net.output == "sequence":  # NaN at padded steps, as the tagger's probabilities
            nan = g.const("nan", np.full(1, np.nan, dtype=dtype))
            g.op("Where", [g.op("Cast", [real], to=_onnx().TensorProto.BOOL), Z, nan],
                 outputs=[outputs["variable"]])
        else:
            g.op("Identity", [Z], outputs=[outputs["variable"]])
        return
    classes = g.const("classes", _label_values(estimator.classes_))
    code = g.op("ArgMax", [Z], axis=-1, keepdims=0)
    g.op("Gather", [classes, code], outputs=[outputs["label"]], axis=0)
    if net.output == "sequence":
        proba = g.op("Softmax", [Z], axis=-1)
        nan = g.const("nan", np.full(1, np.nan, dtype=dtype))
        g.op("Where", [g.op("Cast", [real], to=_onnx().TensorProto.BOOL), proba, nan],
             outputs=[outputs["probabilities"]])
    else:
        g.op("Softmax", [Z], axis=-1, outputs=[outputs["probabilities"]])


def _pool(g, Y, lengths, pooling, dtype):
    """The head input of pooling "mean" or "max" (n, F): the mean or the maximum of the top
    outputs Y (T, n, F) over the steps t < length of each sequence (lengths (n,) int32);
    what the other steps hold never counts."""
    i64 = _onnx().TensorProto.INT64
    zero, one = (g.const(f"{name}_i64", np.array(v, dtype=np.int64))
                 for name, v in (("zero", 0), ("one", 1)))
    T = g.op("Gather", [g.op("Shape", [Y]), zero])
    steps = g.op("Reshape", [g.op("Range", [zero, T, one]),
                             g.const("steps_shape", np.array([-1, 1, 1], dtype=np.int64))])
    L = g.op("Reshape", [g.op("Cast", [lengths], to=i64),
                         g.const("lengths_shape", np.array([1, -1, 1], dtype=np.int64))])
    real = g.op("Less", [steps, L])  # (T, n, 1)
    axes = np.array([0], dtype=np.int64)
    if pooling == "mean":
        S = g.op("ReduceSum", [g.op("Where", [real, Y, g.const("zero", np.zeros(1, dtype))]),
                               g.const("time_axis", axes)], keepdims=0)  # (n, F)
        return g.op("Div", [S, g.op("Cast", [g.op("Reshape", [L, g.const(
            "column", np.array([-1, 1], dtype=np.int64))])], to=_tensor_type(dtype))])
    masked = g.op("Where", [real, Y, g.const("minus_inf", np.full(1, -np.inf, dtype))])
    if g.opset >= 18:  # ReduceMax takes its axes as an input from opset 18 on
        return g.op("ReduceMax", [masked, g.const("time_axis", axes)], keepdims=0)
    return g.op("ReduceMax", [masked], axes=[0], keepdims=0)


def _lengths(g, X, is_nan, dtype):
    """Real steps (n, T, 1) as 0/1 in ``dtype``, and lengths (n,) int32: a step is real if
    not all its features are NaN, a sequence's length is its last real step plus one."""
    shape = g.op("Shape", [X])
    T = g.op("Gather", [shape, g.const("one", np.array(1, dtype=np.int64))])
    F = g.op("Gather", [shape, g.const("two", np.array(2, dtype=np.int64))])
    n_nan = g.op("ReduceSum", [g.op("Cast", [is_nan], to=_tensor_type(dtype)),
                               g.const("feature_axis", np.array([2], dtype=np.int64))],
                 keepdims=1)  # (n, T, 1)
    real = g.op("Cast", [g.op("Less", [n_nan, g.op("Cast", [F], to=_tensor_type(dtype))])],
                to=_tensor_type(dtype))
    one = g.const("one_i64", np.array(1, dtype=np.int64))
    steps = g.op("Range", [one, g.op("Add", [T, one]), one])  # 1, ..., T
    steps = g.op("Reshape", [g.op("Cast", [steps], to=_tensor_type(dtype)),
                             g.const("column", np.array([-1, 1], dtype=np.int64))])
    last = g.op("ArgMax", [g.op("Mul", [real, steps])], axis=1, keepdims=0)  # (n, 1)
    lengths = g.op("Add", [g.op("Reshape", [last, g.const("flat", np.array([-1],
                                                                         dtype=np.int64))]),
                           one])
    return real, g.op("Cast", [lengths], to=_onnx().TensorProto.INT32)


def _token_lengths(g, X, dtype):
    """:func:`_lengths` of token ids X (n, T) int64: a sequence's length is the position
    after its last non-zero id, and every step before it is real."""
    shape = g.op("Shape", [X])
    T = g.op("Gather", [shape, g.const("one", np.array(1, dtype=np.int64))])
    zero, one = (g.const(f"{name}_i64", np.array(v, dtype=np.int64))
                 for name, v in (("zero", 0), ("one", 1)))
    nonzero = g.op("Cast", [g.op("Not", [g.op("Equal", [X, zero])])], to=_tensor_type(dtype))
    steps = g.op("Cast", [g.op("Range", [one, g.op("Add", [T, one]), one])],
                 to=_tensor_type(dtype))  # 1, ..., T
    lengths = g.op("Add", [g.op("ArgMax", [g.op("Mul", [nonzero, steps])], axis=1,
                                keepdims=1), one])  # (n, 1)
    real = g.op("Less", [g.op("Range", [zero, T, one]), lengths])  # (n, T)
    real = g.op("Unsqueeze", [g.op("Cast", [real], to=_tensor_type(dtype)),
                              g.const("last_axis", np.array([2], dtype=np.int64))])
    lengths = g.op("Reshape", [lengths, g.const("flat", np.array([-1], dtype=np.int64))])
    return real, g.op("Cast", [lengths], to=_onnx().TensorProto.INT32)


def _tensor_type(dtype):
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _suffixes(net):
    return ["", "_reverse"][:net.n_directions]


def _gates(W, cell):
    """PyTorch's gate blocks (along axis 0) in ONNX's order."""
    blocks = np.split(W, len(_ONNX_GATES[cell]))
    return np.concatenate([blocks[i] for i in _ONNX_GATES[cell]])


def _standard_layer(g, net, P, k, H, inputs, lengths):
    """Layer k as one ONNX LSTM / GRU / RNN operator: outputs (T, n, nd*H), finals (n, nd*H)."""
    names = [f"l{k}{s}" for s in _suffixes(net)]
    W = np.stack([_gates(P[f"weight_ih_{n}"], net.cell) for n in names])
    R = np.stack([_gates(P[f"weight_hh_{n}"], net.cell) for n in names])
    B = np.stack([np.concatenate([_gates(P[f"bias_ih_{n}"], net.cell),
                                  _gates(P[f"bias_hh_{n}"], net.cell)]) for n in names])
    attrs = dict(hidden_size=H, direction="bidirectional" if net.bidirectional else "forward")
    if net.cell == "gru":
        attrs["linear_before_reset"] = 1
    if net.cell == "rnn":
        attrs["activations"] = [net.activation.capitalize()] * net.n_directions
    Y, Y_h = g.op(_ONNX_OPS[net.cell],
                  [inputs, g.const(f"W_l{k}", W), g.const(f"R_l{k}", R),
                   g.const(f"B_l{k}", B), lengths], n_outputs=2, **attrs)
    Y = g.op("Transpose", [Y], perm=[0, 2, 1, 3])                   # (T, n, nd, H)
    Y = g.op("Reshape", [Y, g.const("shape_tn", np.array([0, 0, -1], dtype=np.int64))])
    last = g.op("Transpose", [Y_h], perm=[1, 0, 2])                 # (n, nd, H)
    last = g.op("Reshape", [last, g.const("shape_n", np.array([0, -1], dtype=np.int64))])
    return Y, last


def _scan_layer(g, net, P, k, H, inputs, mask, dtype):
    """Layer k written step by step in a Scan (float64): the same outputs as
    :func:`_standard_layer`. Padded steps keep the state and output zero."""
    from onnx import numpy_helper

    N = g.op("Slice", [g.op("Shape", [inputs]), g.const("i1", np.array([1], dtype=np.int64)),
                       g.const("i2", np.array([2], dtype=np.int64))])
    shape = g.op("Concat", [N, g.const(f"H_l{k}", np.array([H], dtype=np.int64))], axis=0)
    zeros = g.op("ConstantOfShape", [shape],
                 value=numpy_helper.from_array(np.zeros(1, dtype=dtype)))
    Ys, finals = [], []
    for suffix in _suffixes(net):
        name = f"l{k}{suffix}"
        W_ih = g.const(f"weight_ih_T_{name}", np.ascontiguousarray(P[f"weight_ih_{name}"].T))
        XW = g.op("Add", [g.op("MatMul", [inputs, W_ih]), g.const(f"bias_ih_{name}",
                                                                   P[f"bias_ih_{name}"])])
        body = _scan_body(g, net, P[f"weight_hh_{name}"], P[f"bias_hh_{name}"], H, dtype)
        n_states = 2 if net.cell == "lstm" else 1
        reverse = int(suffix == "_reverse")
        out = g.op("Scan", [zeros] * n_states + [XW, mask], n_outputs=n_states + 1,
                   body=body, num_scan_inputs=2, scan_input_directions=[reverse, reverse],
                   scan_output_directions=[reverse])
        finals.append(out[0])
        Ys.append(out[-1])
    Y = Ys[0] if len(Ys) == 1 else g.op("Concat", Ys, axis=2)
    last = finals[0] if len(finals) == 1 else g.op("Concat", finals, axis=1)
    return Y, last


def _scan_body(g, net, W_hh, b_hh, H, dtype):
    """One step of PyTorch's cell on (n, ...) tensors: state(s), x @ W_ih^T + b_ih (n, G*H)
    and the real-step mask m (n, 1) in; new state(s) and output m * h out."""
    from onnx import helper, numpy_helper

    prefix = g.name("step")
    nodes, t, consts = [], _tensor_type(dtype), set()

    def const(hint, value):
        name = f"{prefix}_{hint}"
        if name not in consts:
            consts.add(name)
            nodes.append(helper.make_node("Constant", [], [name],
                                          value=numpy_helper.from_array(np.asarray(value), name)))
        return name

    def op(op_type, *inputs, **attrs):
        name = f"{prefix}_{len(nodes)}"
        nodes.append(helper.make_node(op_type, list(inputs), [name], **attrs))
        return name

    def gates(Z, G):  # the G blocks of width H along axis 1
        names = [f"{prefix}_{len(nodes)}_{j}" for j in range(G)]
        nodes.append(helper.make_node("Split", [Z, const(f"split{G}", np.full(G, H, np.int64))],
                                      names, axis=1))
        return names

    h, c, xw, m = (f"{prefix}_{v}" for v in ("h", "c", "xw", "m"))
    R = const("R_T", np.ascontiguousarray(W_hh.T))
    hr = op("Add", op("MatMul", h, R), const("b_hh", b_hh))  # (n, G*H)
    if net.cell == "lstm":
        Z_i, Z_f, Z_g, Z_o = gates(op("Add", xw, hr), 4)
        i, f, g_, o = op("Sigmoid", Z_i), op("Sigmoid", Z_f), op("Tanh", Z_g), op("Sigmoid", Z_o)
        c_new = op("Add", op("Mul", f, c), op("Mul", i, g_))
        h_new = op("Mul", o, op("Tanh", c_new))
    elif net.cell == "gru":
        (x_r, x_z, x_n), (h_r, h_z, h_n) = gates(xw, 3), gates(hr, 3)
        r = op("Sigmoid", op("Add", x_r, h_r))
        z = op("Sigmoid", op("Add", x_z, h_z))
        n = op("Tanh", op("Add", x_n, op("Mul", r, h_n)))
        h_new = op("Add", n, op("Mul", z, op("Sub", h, n)))  # (1 - z) * n + z * h
    else:
        h_new = op("Tanh" if net.activation == "tanh" else "Relu", op("Add", xw, hr))

    def keep(new, old):  # m * new + (1 - m) * old = old + m * (new - old)
        return op("Add", old, op("Mul", m, op("Sub", new, old)))

    states_out = [op("Identity", keep(h_new, h))]
    if net.cell == "lstm":
        states_out.append(op("Identity", keep(c_new, c)))
    y = op("Mul", m, h_new)
    state_in = [h, c] if net.cell == "lstm" else [h]
    return helper.make_graph(
        nodes, prefix,
        [helper.make_tensor_value_info(v, t, None) for v in state_in + [xw, m]],
        [helper.make_tensor_value_info(v, t, None) for v in states_out + [y]])


# ------------------------------------------------------------------------------------------
# Public functions
# ------------------------------------------------------------------------------------------


def to_onnx(estimator, *, dtype=None, input_name="X"):
    """Export a fitted skrnn estimator to ONNX.

    Parameters
    ----------
    estimator : RNNClassifier, RNNRegressor, RNNSequenceTagger or RNNSequenceRegressor
        The fitted estimator.
    dtype : {numpy.float32, numpy.float64} or None, default=None
        The input's and the computation's float type; by default the type the estimator
        was fitted in (that of ``theta_``). float32 uses ONNX's recurrent operators,
        float64 a ``Scan`` of the same equations (see the module docstring).
    input_name : str, default="X"
        Name of the graph's input.

    Returns
    -------
    onnx.ModelProto
        The model, with IR version :data:`IR_VERSION` and opset :data:`TARGET_OPSET`. Its
        input is the NaN-padded array (n_sequences, T, n_features) (for a model of token ids,
        int64 ids (n_sequences, T) padded with 0); its outputs are
        ``label`` and ``probabilities`` (classifier, tagger) or ``variable`` (regressors).

    Raises
    ------
    TypeError
        If ``estimator`` is not one of skrnn's estimators, or its class labels are not
        integers, booleans or strings.
    ValueError
        If ``dtype`` is not float32 or float64.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> X = np.random.default_rng(0).normal(size=(30, 5, 1)).astype(np.float32)
    >>> reg = RNNRegressor("gru", (4,), max_iter=5, random_state=0).fit(X, X[:, -1, 0])
    >>> from skrnn.onnx import to_onnx
    >>> model = to_onnx(reg)  # doctest: +SKIP
    >>> [o.name for o in model.graph.output]  # doctest: +SKIP
    ['variable']
    """
    onnx = _onnx()
    from onnx import helper

    _check_estimator(estimator)
    dtype = _check_dtype(estimator.theta_.dtype if dtype is None else dtype)
    g = _Graph(TARGET_OPSET)
    g.name(input_name)
    classifier = hasattr(estimator, "classes_")
    names = {"label": g.name("label"), "probabilities": g.name("probabilities")} \
        if classifier else {"variable": g.name("variable")}
    _write_estimator(g, estimator, input_name, dtype, names)
    t = _tensor_type(dtype)
    F = estimator.network_.input_size
    sequence = estimator.network_.output == "sequence"
    if classifier:
        label_type = onnx.TensorProto.STRING if _label_values(estimator.classes_).dtype == object \
            else onnx.TensorProto.INT64
        K = len(estimator.classes_)
        outputs = [helper.make_tensor_value_info(names["label"], label_type,
                                                 ["N", "T"] if sequence else ["N"]),
                   helper.make_tensor_value_info(names["probabilities"], t,
                                                 ["N", "T", K] if sequence else ["N", K])]
    else:
        K = estimator.network_.n_outputs
        outputs = [helper.make_tensor_value_info(names["variable"], t,
                                                 ["N", "T", K] if sequence else ["N", K])]
    inputs = (helper.make_tensor_value_info(input_name, t, ["N", "T", F])
              if estimator.network_.n_tokens is None else  # token ids, 0-padded
              helper.make_tensor_value_info(input_name, onnx.TensorProto.INT64, ["N", "T"]))
    graph = helper.make_graph(g.nodes, f"skrnn_{type(estimator).__name__}", [inputs],
                              outputs, initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", TARGET_OPSET)],
                              ir_version=IR_VERSION, producer_name="skrnn",
                              producer_version=_version())
    onnx.checker.check_model(model)
    return model


def _version():
    from . import __version__

    return __version__


# ------------------------------------------------------------------------------------------
# skl2onnx
# ------------------------------------------------------------------------------------------


def _shape_estimator(operator):
    """skl2onnx shape calculator of the three estimators."""
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    estimator = operator.raw_operator
    input_type = operator.inputs[0].type
    N = input_type.shape[0] if input_type.shape else None
    T = input_type.shape[1] if input_type.shape and len(input_type.shape) > 1 else None
    sequence = estimator.network_.output == "sequence"
    lead = [N, T] if sequence else [N]
    if hasattr(estimator, "classes_"):
        labels = _label_values(estimator.classes_)
        label_type = StringTensorType if labels.dtype == object else Int64TensorType
        operator.outputs[0].type = label_type(lead)
        operator.outputs[1].type = input_type.__class__(lead + [len(labels)])
    else:
        operator.outputs[0].type = input_type.__class__(lead + [estimator.network_.n_outputs])


def _convert_estimator(scope, operator, container):
    """skl2onnx converter of the three estimators."""
    estimator = operator.raw_operator
    _check_estimator(estimator)
    if container.target_opset < _MIN_OPSET:
        raise ValueError(f"skrnn's ONNX export needs opset >= {_MIN_OPSET}, got target opset "
                         f"{container.target_opset}.")
    dtype = _check_dtype(_numpy_type(operator.inputs[0].type))
    g = _Container(scope, container)
    outputs = [v.full_name for v in operator.outputs]
    names = dict(zip(["label", "probabilities"], outputs)) if hasattr(estimator, "classes_") \
        else {"variable": outputs[0]}
    _write_estimator(g, estimator, operator.inputs[0].full_name, dtype, names)


def _numpy_type(tensor_type):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if isinstance(tensor_type, DoubleTensorType):
        return np.float64
    if isinstance(tensor_type, FloatTensorType):
        return np.float32
    raise TypeError(f"skrnn's ONNX converters take float or double tensors, got "
                    f"{type(tensor_type).__name__}.")


def _shape_scaler(operator):
    """skl2onnx shape calculator of SequenceScaler: the input's shape and type."""
    operator.outputs[0].type = operator.inputs[0].type.__class__(operator.inputs[0].type.shape)


def _convert_scaler(scope, operator, container):
    """skl2onnx converter of SequenceScaler: (x - mean_) / scale_, NaN padding stays NaN."""
    scaler = operator.raw_operator
    dtype = _check_dtype(_numpy_type(operator.inputs[0].type))
    mean = scaler.mean_ if scaler.with_mean else np.zeros(1)
    scale = scaler.scale_ if scaler.with_std else np.ones(1)
    g = _Container(scope, container)
    centred = g.op("Sub", [operator.inputs[0].full_name, g.const("mean", mean.astype(dtype))])
    g.op("Div", [centred, g.const("scale", scale.astype(dtype))],
         outputs=[operator.outputs[0].full_name])


def register_skl2onnx():
    """Register skrnn's estimators and SequenceScaler with skl2onnx.

    After this call, ``skl2onnx.to_onnx`` converts :class:`~skrnn.RNNClassifier`,
    :class:`~skrnn.RNNRegressor`, :class:`~skrnn.RNNSequenceTagger` and
    :class:`~skrnn.SequenceScaler`, alone or in a :class:`~sklearn.pipeline.Pipeline`,
    from a 3-D NaN-padded float or double input. The classifiers' ``probabilities`` are a
    tensor (skl2onnx's ``zipmap=False``); the graphs are those of :func:`to_onnx`. Calling
    it again is harmless.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrnn import RNNClassifier, SequenceScaler
    >>> X = np.random.default_rng(0).normal(3, 2, size=(30, 6, 2)).astype(np.float32)
    >>> y = (X[:, -1, 0] > 3).astype(int)
    >>> pipe = make_pipeline(SequenceScaler(), RNNClassifier("gru", (4,), max_iter=5,
    ...                                                      random_state=0)).fit(X, y)
    >>> import skl2onnx  # doctest: +SKIP
    >>> from skrnn.onnx import register_skl2onnx
    >>> register_skl2onnx()  # doctest: +SKIP
    >>> model = skl2onnx.to_onnx(pipe, X[:1])  # doctest: +SKIP
    >>> [o.name for o in model.graph.output]  # doctest: +SKIP
    ['label', 'probabilities']
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("register_skl2onnx needs the package skl2onnx: pip install "
                          "skrnn[onnx].") from exc
    from .preprocessing import SequenceScaler

    for cls in _estimators():
        update_registered_converter(cls, f"Skrnn{cls.__name__}", _shape_estimator,
                                    _convert_estimator)
    update_registered_converter(SequenceScaler, "SkrnnSequenceScaler", _shape_scaler,
                                _convert_scaler)
