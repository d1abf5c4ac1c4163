"""The GRU of the fast path: :class:`skrnn.nn.cells.GRUCell` for many steps at a time.

The math is that of :class:`~skrnn.nn.cells.GRUCell` (gates in PyTorch's order r, z, n);
what differs is how it is laid out:

- The rows of the sigmoid gates (r, z) of the weights are halved, and ``b_hr``, ``b_hz`` are
  folded into the input bias, so that one ``np.tanh`` call over the (2H, n) [r; z] block
  followed by ``* 0.5 + 0.5`` computes both sigmoids.
- The recurrent term of the candidate, ``W_hn h + b_hn``, is kept for every step (``HN``): the
  backward step needs it.
- The loop over the steps is inside :meth:`forward_steps`, its arguments built beforehand by
  :meth:`forward_args`, right above it; the backward step's elementwise factors are computed
  for a chunk of steps at once (:meth:`backward_factors`).
"""

import numpy as np

from .buffers import bind_gemm_accs, cols_per_step, gate_blocks, step_views
from .weights import joined, scaled, transposed, with_bias

__all__ = ["GRUKernel"]


class GRUKernel:
    """Fast GRU steps over (T, rows, B) buffers; see the module docstring."""

    name = "gru"
    n_gates = 3
    order = None  # PyTorch's gate order
    chunked = False
    states = ("HS",)
    private = ("A", "HN", "tmp")
    inference_scratch = private

    def prepare(self, w, for_backward=True, empty=np.empty):
        """``Wb`` (3H, D+1) = [W_ih | b_ih + (b_hr, b_hz, 0)] and ``W_hrz_s`` (2H, H) with the
        r and z rows halved, ``W_hn`` (H, H) and ``b_hn`` (H,) for the forward pass; ``W_ih``
        (3H, D) and ``W_hhT`` (H, 3H) = W_hh^T, unscaled, for the backward pass."""
        H = w.W_hh.shape[1]
        b = w.b_ih.copy()
        b[: 2 * H] += w.b_hh[: 2 * H]
        prepared = {"Wb": with_bias(w.W_ih, b, 2 * H, empty=empty),
                    "W_hrz_s": scaled(w.W_hh[: 2 * H], 2 * H, out=empty((2 * H, H), b.dtype)),
                    "W_hn": w.W_hh[2 * H :], "b_hn": w.b_hh[2 * H :],
                    "half": b.dtype.type(0.5)}
        if for_backward:
            prepared["W_ih"] = w.W_ih
            prepared["W_hhT"] = transposed(w.W_hh, empty=empty)
        return prepared

    def step_gemvs(self, w):
        """For a stepper (:class:`~.loop.Stepper`): pairs ``(name, W)`` such that ``W @ [x;
        h_prev; 1]`` is step 0 of buffer ``name`` with the recurrent term added, here the
        gates ``A`` (their n rows without a recurrent term) and ``HN`` = W_hn h_prev + b_hn."""
        W_hn, b_hn = w["W_hn"], w["b_hn"]
        H, D = W_hn.shape[0], w["Wb"].shape[1] - 1
        W_h = np.zeros((3 * H, H), W_hn.dtype)
        W_h[: 2 * H] = w["W_hrz_s"]
        b_hn_only = np.zeros((H, D + 1), W_hn.dtype)  # [0 | b_hn]: no input term
        b_hn_only[:, -1] = b_hn
        return [("A", joined(w["Wb"], W_h)), ("HN", joined(b_hn_only, W_hn))]

    # -- forward -----------------------------------------------------------------------------
    def allocate(self, w, T, B, ws, keep, reverse, padded, chunk, slots, HS=None):
        """Buffers of one direction: ``A`` (T, 3H, B) receives the input projection and
        becomes the activated gates (r, z, n); ``HS`` (T+1, H, B) the states; ``HN``
        (T, H, B) = W_hn h + b_hn; ``H_prev`` (T, H, B) views the state slot each step reads.
        ``HS`` is the caller's, if given. The caller initialises the state slots."""
        H = w["W_hn"].shape[0]
        dt = w["W_hn"].dtype
        A = ws.empty((T, 3 * H, B), dt)
        HN = ws.empty((T, H, B), dt)
        HN[...] = w["b_hn"][:, None]
        HS = ws.empty((slots, H, B), dt) if HS is None else HS
        return {"A": A, "proj": A, "HS": HS, "H_prev": HS[1:] if reverse else HS[:-1],
                "HN": HN, "tmp": ws.empty((H, B), dt)}

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step, the arguments :meth:`forward_steps` unpacks, in its order (an iterator);
        ``gemms`` binds the recurrent GEMMs (:func:`~.buffers.no_gemms` skips them)."""
        t, i_prev, i_out, n = cols
        A, HS = bufs["A"], bufs["HS"]
        H = HS.shape[1]
        rz, h_prev, hn = step_views(A[:, : 2 * H], t, n), step_views(HS, i_prev, n), \
            step_views(bufs["HN"], t, n)
        return zip(
            gemms(rz, w["W_hrz_s"], h_prev),  # recurrent_rz
            gemms(hn, w["W_hn"], h_prev),  # recurrent_n
            rz,
            step_views(A[:, :H], t, n),  # r
            step_views(A[:, H : 2 * H], t, n),  # z
            step_views(A[:, 2 * H :], t, n),  # n
            h_prev,
            hn,
            step_views(HS, i_out, n),  # h
            cols_per_step(bufs["tmp"], n),  # tmp
        )

    def forward_steps(self, w, args):
        """Steps over n sequences (columns), in order; each item of ``args`` is one step's
        ``(recurrent_rz, recurrent_n, rz, r, z, n, h_prev, hn, h, tmp)``:

        recurrent_rz, recurrent_n : callables doing ``rz += W_hrz_s h_prev`` and
        ``hn += W_hn h_prev``.
        rz : (2H, n) and n : (H, n), the blocks of the scaled input projection a (3H, n),
        overwritten with the activated gates; r, z : (H, n) the blocks of rz.
        h_prev : (H, n) previous state.
        hn : (H, n) holds b_hn on entry; overwritten with W_hn h_prev + b_hn (kept for the
        backward pass). h : (H, n) output. tmp : (H, n) scratch.
        """
        tanh, multiply, add, subtract, half = np.tanh, np.multiply, np.add, np.subtract, w["half"]
        for recurrent_rz, recurrent_n, rz, r, z, n, h_prev, hn, h, tmp in args:
            recurrent_rz()
            recurrent_n()
            tanh(rz, rz)
            multiply(rz, half, rz)  # sigmoid(x) = tanh(x/2)/2 + 1/2, x/2 from the weights
            add(rz, half, rz)
            multiply(r, hn, tmp)
            add(n, tmp, n)
            tanh(n, n)
            subtract(h_prev, n, h)
            multiply(h, z, h)
            add(h, n, h)  # h = (1 - z) n + z h_prev

    # -- backward ----------------------------------------------------------------------------
    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B) accumulates the gradient w.r.t. each h_t; dZn, the
        gradient w.r.t. the n gate's input pre-activation, overwrites the n gate of ``A``."""
        T, H, B = dY.shape
        dt = dY.dtype
        return {"dH": dY, "dGh": ws.empty((T, 3 * H, B), dt),
                "Q": ws.empty((chunk, 3 * H, B), dt), "F_n": ws.empty((chunk, H, B), dt),
                "tmp": ws.empty((H, B), dt)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """The elementwise factors of steps lo..hi-1 (:meth:`backward_factors`)."""
        HS = bufs["HS"]
        h_prev = HS[lo + 1 : hi + 1] if reverse else HS[lo:hi]
        self.backward_factors(bufs["A"][lo:hi], bufs["HN"][lo:hi], h_prev,
                              bwd["Q"][: hi - lo], bwd["F_n"][: hi - lo])

    @staticmethod
    def backward_factors(gates, hn, h_prev, Q, F_n):
        """For a chunk of steps, from the activated gates (K, 3H, B), hn and h_prev (K, H, B),
        writes the factors of the gate gradients::

            F_n (K, H, B) = (1 - z)(1 - n^2)                 d n-preactivation = dh F_n
            Q (K, 3H, B) = (F_n hn r(1-r), (h_prev - n) z(1-z), F_n r)

        so that the gradient w.r.t. (W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn) is dh Q.
        """
        H = hn.shape[1]
        r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
        rz, Q_rz = gates[:, : 2 * H], Q[:, : 2 * H]
        Q_r, Q_z, Q_n = Q[:, :H], Q[:, H : 2 * H], Q[:, 2 * H :]
        np.subtract(1, rz, out=Q_rz)
        Q_rz *= rz
        np.multiply(n, n, out=F_n)
        np.subtract(1, F_n, out=F_n)
        np.subtract(1, z, out=Q_n)  # Q_n as scratch
        F_n *= Q_n
        Q_r *= hn
        Q_r *= F_n
        np.subtract(h_prev, n, out=Q_n)
        Q_z *= Q_n
        np.multiply(F_n, r, out=Q_n)

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step, the arguments :meth:`backward_steps` unpacks, in its order (an iterator)."""
        t, t_prev, n, m = cols
        k = [i - lo for i in t]  # slots of the chunk's factors
        A, dH, dGh = bufs["A"], bwd["dH"], bwd["dGh"]
        H = dH.shape[1]
        dh_prev = step_views(dH, t_prev, m)
        return zip(
            step_views(dH, t, n),  # dh
            step_views(gate_blocks(bwd["Q"], 3), k, n),  # Q
            step_views(bwd["F_n"], k, n),  # F_n
            step_views(gate_blocks(dGh, 3), t, n),  # dGh
            step_views(A[:, 2 * H :], t, n),  # dZn
            step_views(dH, t, m),  # dh_m
            step_views(A[:, H : 2 * H], t, m),  # z_m
            dh_prev,
            bind_gemm_accs(dh_prev, w["W_hhT"], step_views(dGh, t, m)),  # recurrent
            cols_per_step(bwd["tmp"], m),  # tmp
        )

    def backward_steps(self, w, args):
        """Backward steps over n sequences (columns), in order; each item of ``args`` is one
        step's ``(dh, Q, F_n, dGh, dZn, dh_m, z_m, dh_prev, recurrent, tmp)``:

        dh : (H, n) gradient w.r.t. h_t. Q : (3, H, n) and F_n : (H, n) factors
        (:meth:`backward_factors`).
        dGh : (3, H, n) output, gradient w.r.t. (W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn).
        dZn : (H, n) output, gradient w.r.t. the n gate's input pre-activation W_in x + b_in.
        dh_m, z_m : (H, m), the columns of dh and of the update gate of the m <= n sequences
        that have a previous step; dh_prev : (H, m) their gradient w.r.t. h_{t-1}, or None
        (m = 0). ``dh_prev += dh z + W_hh^T dGh``, the GEMM by ``recurrent()``.
        tmp : (H, m) scratch.
        """
        multiply, add = np.multiply, np.add
        for dh, Q, F_n, dGh, dZn, dh_m, z_m, dh_prev, recurrent, tmp in args:
            multiply(dh, F_n, dZn)
            multiply(dh, Q, dGh)
            if dh_prev is not None:
                multiply(dh_m, z_m, tmp)
                add(dh_prev, tmp, dh_prev)
                recurrent()

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        """Zero the gradients at padded steps (never written by a step)."""
        A, dGh = bufs["A"], bwd["dGh"]
        H = dGh.shape[1] // 3
        for t in range(lo, hi):
            n = n_active[t]
            if n < A.shape[2]:
                dGh[t, :, n:] = 0
                A[t, 2 * H :, n:] = 0

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1,
        (3H, hi-lo, B) each (copies in ``ws``), and the scratch to give back.

        They differ only in the n block: dZn for the input, dh Q_n for the recurrent part.
        """
        dGh, A = bwd["dGh"][lo:hi], bufs["A"][lo:hi]
        K, H3, B = dGh.shape
        H = H3 // 3
        Zh, Zx = ws.empty((H3, K, B), dGh.dtype), ws.empty((H3, K, B), dGh.dtype)
        np.copyto(Zh, dGh.transpose(1, 0, 2))
        Zx[: 2 * H] = Zh[: 2 * H]
        np.copyto(Zx[2 * H :], A[:, 2 * H :].transpose(1, 0, 2))
        return Zx, Zh, (Zx, Zh)
