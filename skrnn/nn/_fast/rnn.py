"""The vanilla RNN of the fast path: :class:`skrnn.nn.cells.RNNCell` for many steps at a time.

The input projection of every step, bias included, is written into the state buffer itself,
where each step adds the recurrent term ``W_hh h_prev`` (one bound GEMM) and activates in place:
a step is two calls. The backward step is two calls too; the activation's derivative is
computed for a chunk of steps at once (:meth:`backward_factors`).
"""

import numpy as np

from .buffers import bind_gemm_accs, step_views
from .weights import joined, transposed, with_bias

__all__ = ["RNNKernel"]


class RNNKernel:
    """Fast vanilla RNN steps over (T, rows, B) buffers; see the module docstring.

    Parameters
    ----------
    activation : {"tanh", "relu"}
        The nonlinearity.
    """

    n_gates = 1
    order = None
    chunked = False
    # The weight gradients copy the pre-activation gradients and the previous states of a
    # group of steps (the gated cells copy their gradients anyway): groups of about 512 KB
    # keep those copies in cache (measured: up to 30% less time at T=500, H=16-64, and a
    # fifth less memory at T=500, H=256).
    group_elements = 1 << 17
    states = ("HS",)
    private = ()
    inference_scratch = ()

    def __init__(self, activation):
        self.activation = activation
        self.name = f"rnn_{activation}"

    def prepare(self, w, for_backward=True, empty=np.empty):
        """``Wb`` (H, D+1) = [W_ih | b_ih + b_hh] and ``W_hh`` (H, H) for the forward pass;
        ``W_ih`` (H, D) and ``W_hhT`` (H, H) = W_hh^T for the backward pass."""
        prepared = {"Wb": with_bias(w.W_ih, w.b_ih + w.b_hh, empty=empty),
                    "W_hh": np.ascontiguousarray(w.W_hh), "zero": w.W_hh.dtype.type(0)}
        if for_backward:
            prepared["W_ih"] = w.W_ih
            prepared["W_hhT"] = transposed(w.W_hh, empty=empty)
        return prepared

    def step_gemvs(self, w):
        """For a stepper (:class:`~.loop.Stepper`): pairs ``(name, W)`` such that ``W @ [x;
        h_prev; 1]`` is step 0 of buffer ``name`` with the recurrent term added, here the
        output state (``proj``), which the step activates in place."""
        return [("proj", joined(w["Wb"], w["W_hh"]))]

    # -- forward -----------------------------------------------------------------------------
    def allocate(self, w, T, B, ws, keep, reverse, padded, chunk, slots, HS=None):
        """``HS`` (T+1, H, B) holds the states; the input projection goes into the T slots the
        steps write, ``H_out`` (zero at padded steps, as ``X1`` is); ``HS`` is the caller's,
        if given."""
        H = w["W_hh"].shape[0]
        HS = ws.empty((T + 1, H, B), w["W_hh"].dtype) if HS is None else HS
        outputs = HS[:T] if reverse else HS[1:]
        return {"HS": HS, "proj": outputs, "H_out": outputs}

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step, the arguments :meth:`forward_steps` unpacks, in its order (an iterator);
        ``gemms`` binds the recurrent GEMMs (:func:`~.buffers.no_gemms` skips them)."""
        t, i_prev, i_out, n = cols
        HS = bufs["HS"]
        h = step_views(HS, i_out, n)
        return zip(gemms(h, w["W_hh"], step_views(HS, i_prev, n)), h)

    def forward_steps(self, w, args):
        """Steps in order; each item of ``args`` is one step's ``(recurrent, h)``.

        h : (H, n) holds the input projection; ``recurrent()`` adds ``W_hh h_prev``, h_prev
        (H, n) being the previous state, and h is overwritten with its activation act(h).
        """
        if self.activation == "tanh":
            tanh = np.tanh
            for recurrent, h in args:
                recurrent()
                tanh(h, h)
        else:
            maximum, zero = np.maximum, w["zero"]
            for recurrent, h in args:
                recurrent()
                maximum(h, zero, out=h)  # (np.maximum deprecates a positional out)

    # -- backward ----------------------------------------------------------------------------
    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B) accumulates the gradient w.r.t. each h_t and is
        overwritten, step by step, with dZ, the gradient w.r.t. the pre-activation."""
        T, H, B = dY.shape
        return {"dZ": dY, "D": ws.empty((chunk, H, B), dY.dtype)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """The activation's derivative at steps lo..hi-1 (:meth:`backward_factors`)."""
        HS = bufs["HS"]
        self.backward_factors(HS[lo:hi] if reverse else HS[lo + 1 : hi + 1], bwd["D"][: hi - lo])

    def backward_factors(self, h, D):
        """For a chunk of steps: D = d act / d pre-activation, from the outputs h (K, H, B)."""
        if self.activation == "tanh":
            np.multiply(h, h, out=D)
            np.subtract(1, D, out=D)
        else:
            np.greater(h, 0, out=D)

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step, the arguments :meth:`backward_steps` unpacks, in its order (an iterator)."""
        t, t_prev, n, m = cols
        dZ = bwd["dZ"]
        return zip(
            step_views(dZ, t, n),  # dh
            step_views(bwd["D"], [i - lo for i in t], n),  # D
            bind_gemm_accs(step_views(dZ, t_prev, m), w["W_hhT"], step_views(dZ, t, m)),
        )

    def backward_steps(self, w, args):
        """Backward steps in order; each item of ``args`` is one step's ``(dh, D, recurrent)``.

        dh : (H, n) gradient w.r.t. h_t; overwritten with dZ = dh * act', the gradient w.r.t.
        the pre-activation. recurrent : None, or a callable doing ``dh_prev += W_hh^T dZ[:, :m]``,
        dh_prev (H, m) being the gradient w.r.t. h_{t-1} of the m <= n sequences that have a
        previous step.
        """
        multiply = np.multiply
        for dh, D, recurrent in args:
            multiply(dh, D, dh)
            if recurrent is not None:
                recurrent()

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        """Nothing to do: dZ is dY, zero where padded, and steps write only active columns."""

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1
        (the same (H, hi-lo, B) copy in ``ws``), and the scratch to give back."""
        dZ = bwd["dZ"][lo:hi]
        K, H, B = dZ.shape
        Z = ws.empty((H, K, B), dZ.dtype)
        np.copyto(Z, dZ.transpose(1, 0, 2))
        return Z, Z, (Z,)
