"""The LSTM of the fast path: :class:`skrnn.nn.cells.LSTMCell` for many steps at a time.

The math is that of :class:`~skrnn.nn.cells.LSTMCell`; what differs is how it is laid out:

- Gates are in the order (o, i, f, g) instead of PyTorch's (i, f, g, o), and the rows of the
  sigmoid gates (o, i, f) of every weight are halved, so that one ``np.tanh`` call over the
  whole (4H, n) gate block followed by ``* 0.5 + 0.5`` computes all three sigmoids, and the
  gates whose gradients are multiples of dc (i, f, g) are one block in the backward step.
- The cell states live next to the gates, in one buffer ``Z`` of (slots, 5H, B): the forward
  direction's rows are (o, i, f, g, c) and the reverse direction's (c, o, i, f, g), row t
  holding the gates of step t and cell-state slot t. Either way the g gate of a step is
  followed in memory by the cell state that step reads, so ``f * c_prev`` and ``i * g`` are one
  product of the adjacent blocks [i; f] and [g; c_prev].
- The loop over the steps is inside :meth:`forward_steps`: every step's arguments (views and
  bound GEMMs) are built beforehand by :meth:`forward_args`, right above it.
- The backward step's elementwise factors are computed for a chunk of steps at once
  (:meth:`backward_factors`).
"""

import numpy as np

from .buffers import bind_gemm_accs, cols_per_step, gate_blocks, step_views
from .weights import joined, scaled, transposed, with_bias

__all__ = ["LSTMKernel"]


class LSTMKernel:
    """Fast LSTM steps over (T, rows, B) buffers; see the module docstring."""

    name = "lstm"
    n_gates = 4
    order = (3, 0, 1, 2)  # PyTorch (i, f, g, o) -> (o, i, f, g)
    chunked = True  # projects a few steps at a time during inference, states may be a ring
    states = ("HS", "CS")
    private = ("Z", "TC", "pair")  # "A" and "CS" are views of Z
    inference_scratch = ("TC", "pair")

    def prepare(self, w, for_backward=True, empty=np.empty):
        """``Wb`` (4H, D+1) = [W_ih | b_ih + b_hh] and ``W_hh_s`` (4H, H), reordered with the
        sigmoid rows halved, for the forward pass; ``W_ih`` (4H, D) reordered and ``W_hhT``
        (H, 4H) = W_hh^T reordered, both unscaled, for the backward pass."""
        H = w.W_hh.shape[1]
        prepared = {"Wb": with_bias(w.W_ih, w.b_ih + w.b_hh, 3 * H, self.order, empty),
                    "W_hh_s": scaled(w.W_hh, 3 * H, self.order, empty((4 * H, H), w.W_hh.dtype)),
                    "half": w.W_hh.dtype.type(0.5)}
        if for_backward:
            prepared["W_ih"] = scaled(w.W_ih, 0, self.order)
            prepared["W_hhT"] = transposed(w.W_hh, self.order, empty)
        return prepared

    def step_gemvs(self, w):
        """For a stepper (:class:`~.loop.Stepper`): pairs ``(name, W)`` such that ``W @ [x;
        h_prev; 1]`` is step 0 of buffer ``name`` with the recurrent term added, here the
        gates ``A``."""
        return [("A", joined(w["Wb"], w["W_hh_s"]))]

    # -- forward -----------------------------------------------------------------------------
    def allocate(self, w, T, B, ws, keep, reverse, padded, chunk, slots, HS=None):
        """Buffers of one direction: ``Z`` (chunk+1, 5H, B) holds the gates ``A`` (chunk, 4H, B),
        which receive the input projection and become the activated gates, and the cell states
        ``CS`` (chunk+1, H, B), a ring unless chunk = T; ``G_C`` (chunk, 2H, B) views the g
        gate of each step with the cell state it reads, ``C_out`` (chunk, H, B) the slot each
        step writes and ``C_prev`` (chunk, H, B) the slot it reads. ``HS`` (slots, H, B) holds
        the states (the caller's, if given) and ``TC`` tanh(c) (T slots, one unless ``keep``).
        The caller initialises the state slots."""
        H = w["W_hh_s"].shape[1]
        dt = w["W_hh_s"].dtype
        Z = ws.empty((chunk + 1, 5 * H, B), dt)
        g0, c_row = (H, 0) if reverse else (0, 4 * H)  # first rows of the gates, of c
        A, CS = Z[:, g0 : g0 + 4 * H], Z[:, c_row : c_row + H]
        g = g0 + 3 * H  # [g; c_prev] of step t: rows g..g+2H of Z[t] and what follows it
        G_C = Z.reshape(-1, B)[g : g + chunk * 5 * H].reshape(chunk, 5 * H, B)[:, : 2 * H]
        TC = (ws.zeros if keep and padded else ws.empty)((T if keep else 1, H, B), dt)
        return {"Z": Z, "A": A[:chunk], "proj": A[:chunk], "CS": CS, "G_C": G_C,
                "C_prev": CS[1:] if reverse else CS[:chunk],
                "C_out": CS[:chunk] if reverse else CS[1:],
                "HS": ws.empty((slots, H, B), dt) if HS is None else HS,
                "TC": TC, "pair": ws.empty((2 * H, B), dt)}

    def forward_args(self, w, bufs, cols, gemms=bind_gemm_accs):
        """Per step, the arguments :meth:`forward_steps` unpacks, in its order (an iterator);
        ``gemms`` binds the recurrent GEMMs (:func:`~.buffers.no_gemms` skips them)."""
        t, i_prev, i_out, n = cols
        A, HS, TC, pair = bufs["A"], bufs["HS"], bufs["TC"], bufs["pair"]
        H = HS.shape[1]
        a = step_views(A, t, n)
        tanh_c = step_views(TC, t, n) if len(TC) > 1 else cols_per_step(TC[0], n)
        return zip(
            gemms(a, w["W_hh_s"], step_views(HS, i_prev, n)),  # recurrent
            a,
            step_views(A[:, : 3 * H], t, n),  # sig
            step_views(A[:, :H], t, n),  # o
            step_views(A[:, H : 3 * H], t, n),  # i_f
            step_views(bufs["G_C"], t, n),  # g_c
            cols_per_step(pair, n),  # pair
            cols_per_step(pair[:H], n),  # ig
            cols_per_step(pair[H:], n),  # fc
            step_views(bufs["C_out"], t, n),  # c
            tanh_c,
            step_views(HS, i_out, n),  # h
        )

    def forward_steps(self, w, args):
        """Steps over n sequences (columns), in order; each item of ``args`` is one step's
        ``(recurrent, a, sig, o, i_f, g_c, pair, ig, fc, c, tanh_c, h)``:

        recurrent : callable doing ``a += W_hh_s h_prev`` (h_prev (H, n), the previous state).
        a : (4H, n) scaled input projection; overwritten with the activated gates.
        sig, o, i_f : views of a: its sigmoid rows ``a[:3H]``, its o block (H, n) and its
        [i; f] blocks (2H, n).
        g_c : (2H, n), the g block of a followed by the previous cell state c_prev.
        pair : (2H, n) scratch for [i * g; f * c_prev]; ig, fc : (H, n) its halves.
        c, tanh_c, h : (H, n) outputs.
        """
        tanh, multiply, add, half = np.tanh, np.multiply, np.add, w["half"]
        for recurrent, a, sig, o, i_f, g_c, pair, ig, fc, c, tanh_c, h in args:
            recurrent()
            tanh(a, a)
            multiply(sig, half, sig)  # sigmoid(x) = tanh(x/2)/2 + 1/2, x/2 from the weights
            add(sig, half, sig)
            multiply(i_f, g_c, pair)
            add(fc, ig, c)  # c = f * c_prev + i * g
            tanh(c, tanh_c)
            multiply(o, tanh_c, h)

    # -- backward ----------------------------------------------------------------------------
    def start_backward(self, bufs, dY, chunk, ws):
        """Backward state: dY (T, H, B) accumulates the gradient w.r.t. each h_t; the
        gradients w.r.t. the gate pre-activations overwrite the gates ``A`` step by step."""
        T, H, B = dY.shape
        dt = dY.dtype
        return {"dH": dY, "P": ws.empty((chunk, 4 * H, B), dt), "F": ws.empty((chunk, 2 * H, B), dt),
                "dc": ws.zeros((H, B), dt), "tmp": ws.empty((H, B), dt)}

    def factors(self, bufs, bwd, lo, hi, reverse):
        """The elementwise factors of steps lo..hi-1 (:meth:`backward_factors`)."""
        CS = bufs["CS"]
        c_prev = CS[lo + 1 : hi + 1] if reverse else CS[lo:hi]
        self.backward_factors(bufs["A"][lo:hi], c_prev, bufs["TC"][lo:hi],
                              bwd["P"][: hi - lo], bwd["F"][: hi - lo])

    @staticmethod
    def backward_factors(gates, c_prev, tanh_c, P, F):
        """For a chunk of steps, from the activated gates (K, 4H, B) and c_prev, tanh_c
        (K, H, B), writes the factors of the gate gradients::

            P (K, 4H, B) = (tanh_c o(1-o), g i(1-i), c_prev f(1-f), i (1-g^2))
            F (K, 2H, B) = (o (1 - tanh_c^2), f)

        so that dZ = (dh P_o, dc P_i, dc P_f, dc P_g) and dc_t = dc_{t+1} f_{t+1} + dh F_o.
        (f is copied because the gradients overwrite the gates.)
        """
        H = tanh_c.shape[1]
        o, i, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 3 * H :]
        s, P_s = gates[:, : 3 * H], P[:, : 3 * H]
        np.subtract(1, s, out=P_s)
        P_s *= s
        P[:, :H] *= tanh_c
        P[:, H : 2 * H] *= g
        P[:, 2 * H : 3 * H] *= c_prev
        P_g = P[:, 3 * H :]
        np.multiply(g, g, out=P_g)
        np.subtract(1, P_g, out=P_g)
        P_g *= i
        F_o = F[:, :H]
        np.multiply(tanh_c, tanh_c, out=F_o)
        np.subtract(1, F_o, out=F_o)
        F_o *= o
        F[:, H:] = gates[:, 2 * H : 3 * H]

    def backward_args(self, w, bufs, bwd, cols, lo):
        """Per step, the arguments :meth:`backward_steps` unpacks, in its order (an iterator)."""
        t, t_prev, n, m = cols
        k = [i - lo for i in t]  # slots of the chunk's factors
        A, dH, F, P = bufs["A"], bwd["dH"], bwd["F"], bwd["P"]
        H = dH.shape[1]
        return zip(
            step_views(dH, t, n),  # dh
            cols_per_step(bwd["dc"], n),  # dc
            step_views(F[:, H:], k, n),  # f
            step_views(P[:, :H], k, n),  # P_o
            step_views(gate_blocks(P[:, H:], 3), k, n),  # P_ifg
            step_views(F[:, :H], k, n),  # F_o
            step_views(A[:, :H], t, n),  # dZ_o
            step_views(gate_blocks(A[:, H:], 3), t, n),  # dZ_ifg
            bind_gemm_accs(step_views(dH, t_prev, m), w["W_hhT"], step_views(A, t, m)),
            cols_per_step(bwd["tmp"], n),  # tmp
        )

    def backward_steps(self, w, args):
        """Backward steps over n sequences (columns), in order; each item of ``args`` is one
        step's ``(dh, dc, f, P_o, P_ifg, F_o, dZ_o, dZ_ifg, recurrent, tmp)``:

        dh : (H, n) gradient w.r.t. h_t. dc : (H, n) gradient w.r.t. c_t from later steps;
        overwritten in place with the gradient w.r.t. c_{t-1}. f : (H, n) forget gate.
        P_o (H, n), P_ifg (3, H, n), F_o (H, n): factors (:meth:`backward_factors`).
        dZ_o (H, n), dZ_ifg (3, H, n): outputs, the gradient w.r.t. the gate pre-activations
        (o and i, f, g: the blocks of one (4H, n) array dZ).
        recurrent : None, or a callable doing ``dh_prev += (W_hh^T dZ)[:, :m]``, dh_prev
        (H, m) being the gradient w.r.t. h_{t-1} of the m <= n sequences that have a previous
        step. tmp : (H, n) scratch.
        """
        multiply, add = np.multiply, np.add
        for dh, dc, f, P_o, P_ifg, F_o, dZ_o, dZ_ifg, recurrent, tmp in args:
            multiply(dh, F_o, tmp)
            add(dc, tmp, dc)  # dc_t = dc_{t+1} f_{t+1} + dh o tanh'(c)
            multiply(dh, P_o, dZ_o)
            multiply(dc, P_ifg, dZ_ifg)
            multiply(dc, f, dc)  # dc_{t-1}
            if recurrent is not None:
                recurrent()

    def clear_padding(self, bufs, bwd, n_active, lo, hi):
        """Zero the gradients at padded steps (where the gates of A were never overwritten)."""
        A = bufs["A"]
        for t in range(lo, hi):
            if n_active[t] < A.shape[2]:
                A[t, :, n_active[t] :] = 0

    def preactivation_grads(self, bufs, bwd, ws, lo, hi):
        """Gradients w.r.t. the input and the recurrent pre-activations of steps lo..hi-1,
        (4H, hi-lo, B) each (the same copy in ``ws``), and the scratch to give back."""
        A = bufs["A"][lo:hi]
        K, H4, B = A.shape
        Z = ws.empty((H4, K, B), A.dtype)
        np.copyto(Z, A.transpose(1, 0, 2))
        return Z, Z, (Z,)
