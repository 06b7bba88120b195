"""Streaming resampler from the call's 8000 Hz to the file rate (6000, 11000, 11025 or 8000).

This module owns the rate conversion between the 20 ms call frames and the encoder. The
definition is the whole-signal reference::

    np.clip(np.round(scipy.signal.resample_poly(x, up, down, window=filter_taps(rate))),
            -32768, 32767).astype(np.int16)

with ``(up, down)`` = (3, 4), (11, 8), (441, 320) and identity at 8000. ``filter_taps`` is
exactly resample_poly's default design (``firwin(2*10*max(up, down) + 1, 1/max(up, down),
window=('kaiser', 5.0))``), passed explicitly so the reference cannot drift with scipy's
default. :class:`StreamResampler` reproduces that reference **bit for bit** for any chunking:

* it keeps the input history still needed and calls ``scipy.signal.upfirdn`` (the routine
  resample_poly itself uses) on history + new chunk, with the history start a multiple of
  ``down`` so the window's output grid is the global one. upfirdn sums each output's terms
  oldest to newest from zero, so an output whose whole filter support lies inside the window
  gets the same float64 value as in the whole-signal call; samples outside the window only
  ever meet zero taps or the implicit zero padding that resample_poly also uses;
* ``process`` emits every output whose support is complete (output ``i`` of the padded filter
  needs inputs up to ``floor(i*down/up)``); ``flush`` zero-extends like resample_poly
  (padtype 'constant') and emits the rest, for ``ceil(n*up/down)`` outputs in total;
* rounding is round-half-to-even (``np.round``) then clipping to int16.

The filter is linear-phase and resample_poly centres it, so there is no group delay: output
``j`` is aligned with input time ``j*down/up``. The price is latency: ``process`` holds back
about ``half_len/up`` input samples (10 at 6000, 10 at 11000, 7 at 11025) until more input or
``flush``. Measured responses are in ``tests/test_resample.py``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin, upfirdn

from callsim.contract import RATES, TICKS_PER_SECOND

try:  # scipy's own upfirdn engine, prepared once per stream (saves ~35 us per call)
    from scipy.signal._upfirdn import _UpFIRDn
except ImportError:  # pragma: no cover - private name moved; public upfirdn gives equal sums
    _UpFIRDn = None

__all__ = ["RATIOS", "StreamResampler", "filter_taps", "output_length", "resample_whole"]

#: (up, down) of each file rate over the call's 8000 Hz, in lowest terms (11025: 441/320).
RATIOS: dict[int, tuple[int, int]] = {
    rate: (Fraction(rate, TICKS_PER_SECOND).numerator, Fraction(rate, TICKS_PER_SECOND).denominator)
    for rate in RATES
}


def _ratio(rate: int) -> tuple[int, int]:
    try:
        return RATIOS[rate]
    except KeyError:
        raise ValueError(f"unsupported rate {rate}; expected one of {sorted(RATIOS)}") from None


@cache
def _taps(rate: int) -> npt.NDArray[np.float64]:
    up, down = _ratio(rate)
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps: npt.NDArray[np.float64] = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def filter_taps(rate: int) -> npt.NDArray[np.float64]:
    """The anti-alias FIR for ``rate`` (a copy): resample_poly's default design."""
    if rate == 8000:
        raise ValueError("8000 Hz is the identity; no filter")
    return _taps(rate).copy()


def output_length(rate: int, n_in: int) -> int:
    """Number of output samples for ``n_in`` input samples once flushed: ceil(n*up/down)."""
    up, down = _ratio(rate)
    return -(-n_in * up // down)


def _to_int16(y: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def resample_whole(x: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    """The whole-signal reference (what the streaming output must equal)."""
    from scipy.signal import resample_poly

    up, down = _ratio(rate)
    if up == down:
        return np.array(x, dtype=np.int16, copy=True)
    return _to_int16(resample_poly(np.asarray(x, dtype=np.float64), up, down, window=_taps(rate)))


# OpenBLAS runs a product of m*n*k below 4 * 65536 on the calling thread (GEMM threshold);
# larger ones wake its worker threads, which on a busy 2-core machine costs 5-30x (bench/notes.md,
# finding 1). The products are cut into row slices under that size, so the resampler's speed
# does not depend on OPENBLAS_NUM_THREADS being set before numpy was imported.
_BLAS_SERIAL_MNK = 4 * 65536 - 1


class _Polyphase:
    """upfirdn's outputs as a few dense matrix products (BLAS), equal up to ``tol``.

    Output ``i`` of ``upfirdn(h, x, up, down)`` is ``sum_j h[ph + j*up] * x[c - j]`` with
    ``c = i*down // up`` and ``ph = i*down % up``. Outputs are taken in *super-rows* of
    ``O = R*up`` outputs, which read inputs from ``t*S`` (``S = R*down``) on, with the same
    phases in every super-row. A super-row's outputs are split into ``G`` column groups; a
    group's inputs are a contiguous run of ``W_g <= S`` samples at a fixed offset, so the
    matrix of all super-rows is a strided view of the input (row stride ``S``, no copy) and
    the group is one ``(rows, W_g) @ (W_g, O_g)`` product with the taps placed in it.

    ``tol`` bounds ``|product - upfirdn|``: both sum the same terms (the product adds exact
    zeros), each within ``n * 2**-53 * sum|terms|`` of the exact sum, ``n <= W_g + J``
    terms, ``sum|terms| <= 32768 * max_phase sum|h|``; times 64 for safety.
    """

    def __init__(self, h: npt.NDArray[np.float64], up: int, down: int) -> None:
        self.up, self.down = up, down
        n_h = h.size
        self.J = -(-n_h // up)  # most taps in one phase
        self.R = max(1, -(-256 // down))  # super-row: S >= 256 inputs keeps products long
        self.S, self.O = self.R * down, self.R * up
        n_groups = max(1, self.S // (2 * self.J))
        edges = np.linspace(0, self.O, n_groups + 1).round().astype(int)
        o = np.arange(self.O)
        c, ph = (o * down) // up, (o * down) % up
        self.groups: list[tuple[int, int, int, npt.NDArray[np.float64]]] = []
        width = 0
        for g0, g1 in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            if g1 <= g0:
                continue
            lo = int(c[g0]) - self.J + 1  # lowest input offset any output of the group reads
            hi = int(c[g1 - 1])
            mat = np.zeros((hi - lo + 1, g1 - g0), dtype=np.float64)
            for col, oi in enumerate(range(g0, g1)):
                taps = h[ph[oi] :: up]
                rows = int(c[oi]) - np.arange(taps.size) - lo
                mat[rows, col] = taps
            self.groups.append((g0, g1, lo, mat))
            width = max(width, hi - lo + 1)
        phase_sum = max(float(np.abs(h[p::up]).sum()) for p in range(up))
        self.tol = 64.0 * (width + self.J) * 2.0**-53 * 32768.0 * phase_sum

    def outputs(self, x: npt.NDArray[np.float64], a: int, b: int) -> npt.NDArray[np.float64]:
        """Outputs ``[a, b)`` of ``upfirdn(h, x, up, down)`` (b within the valid range)."""
        t0, t1 = a // self.O, -(-b // self.O)
        pad = self.J  # zeros before x: outputs near the start read x[-J+1 ..] as zeros
        right = max(0, (t1 + 1) * self.S + pad - (pad + x.size))
        xp = np.concatenate((np.zeros(pad), x, np.zeros(right)))
        y = np.empty((t1 - t0, self.O), dtype=np.float64)
        stride = xp.strides[0]
        for g0, g1, lo, mat in self.groups:
            rows = max(1, _BLAS_SERIAL_MNK // mat.size)
            for r0 in range(0, t1 - t0, rows):
                r1 = min(t1 - t0, r0 + rows)
                start = pad + (t0 + r0) * self.S + lo
                view = np.lib.stride_tricks.as_strided(
                    xp[start:], shape=(r1 - r0, mat.shape[0]), strides=(self.S * stride, stride)
                )
                np.matmul(view, mat, out=y[r0:r1, g0:g1])
        return y.reshape(-1)[a - t0 * self.O : b - t0 * self.O]


class StreamResampler:
    """Chunk-wise 8000 -> ``rate`` conversion equal to :func:`resample_whole` on the whole."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.up, self.down = _ratio(rate)
        self._identity = self.up == self.down
        self._total = 0  # input samples seen
        self._closed = False
        if self._identity:
            return
        taps = _taps(rate)
        half_len = (taps.size - 1) // 2
        # Same scaling and front padding as resample_poly, so the padded-filter output index
        # ``i`` means the same thing here as there.
        n_pre_pad = self.down - half_len % self.down
        self._h = np.concatenate((np.zeros(n_pre_pad), taps * self.up))
        self._n_pre_remove = (half_len + n_pre_pad) // self.down
        self._engine = (
            None if _UpFIRDn is None else _UpFIRDn(self._h, np.float64, self.up, self.down)
        )
        self._poly = _Polyphase(self._h, self.up, self.down)
        self._buf = np.zeros(0, dtype=np.float64)  # retained input, global index _base onwards
        self._base = 0  # a multiple of ``down``: keeps the window's output grid global
        self._next = self._n_pre_remove  # next padded-filter output index to emit

    def _exact(self, buf: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """upfirdn's outputs of the window (the definition's float64 sums)."""
        if self._engine is not None:
            return np.asarray(self._engine.apply_filter(buf))
        return np.asarray(upfirdn(self._h, buf, self.up, self.down))

    def latency(self) -> int:
        """Input samples accepted but whose outputs are not yet emitted (upper bound)."""
        if self._identity:
            return 0
        return self._total - (self._next * self.down) // self.up

    def _emit(self, end: int) -> npt.NDArray[np.int16]:
        """Emit padded-filter outputs [_next, end) from the current window, then trim it."""
        if end <= self._next:
            return np.zeros(0, dtype=np.int16)
        offset = self._base * self.up // self.down  # global index of window output 0
        a, b = self._next - offset, end - offset
        y = self._poly.outputs(self._buf, a, b)
        r = np.rint(y)  # np.round's rounding (half to even)
        # Outputs within ``tol`` of a rounding boundary (k + 0.5) may round differently from
        # upfirdn's own sum: recompute those exactly (rare: about 1e-7 of the outputs).
        np.subtract(y, r, out=y)
        np.abs(y, out=y)
        near = y >= 0.5 - self._poly.tol
        if near.any():
            r[near] = np.rint(self._exact(self._buf)[a:b][near])
        if r.size and (r.min() < -32768.0 or r.max() > 32767.0):
            np.clip(r, -32768.0, 32767.0, out=r)
        out = r.astype(np.int16)
        self._next = end
        # Output i needs inputs m with m*up >= i*down - (len(h) - 1); older ones can go.
        m_min = max(0, math.ceil((self._next * self.down - (self._h.size - 1)) / self.up))
        new_base = (m_min // self.down) * self.down
        if new_base > self._base:
            self._buf = self._buf[new_base - self._base :]
            self._base = new_base
        return out

    def process(self, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Feed more 8 kHz samples; return every output sample that is now final."""
        if self._closed:
            raise RuntimeError("resampler already flushed")
        arr = np.asarray(x)
        if arr.ndim != 1 or arr.dtype != np.int16:
            raise TypeError(f"x must be a 1-D int16 array, got {arr.dtype} {arr.shape}")
        self._total += arr.size
        if self._identity:
            return arr.copy()
        if not arr.size:
            return np.zeros(0, dtype=np.int16)
        self._buf = np.concatenate((self._buf, arr.astype(np.float64)))
        # Output i is final once input floor(i*down/up) has arrived: i < ceil(total*up/down).
        return self._emit(-(-self._total * self.up // self.down))

    def flush(self) -> npt.NDArray[np.int16]:
        """Zero-extend the input like resample_poly and return the remaining outputs."""
        if self._closed:
            return np.zeros(0, dtype=np.int16)
        self._closed = True
        if self._identity:
            return np.zeros(0, dtype=np.int16)
        end = self._n_pre_remove + output_length(self.rate, self._total)
        if end <= self._next:
            return np.zeros(0, dtype=np.int16)
        # Append explicit zeros until every remaining output has full support; zeros add only
        # +-0.0 terms, which leave upfirdn's sums unchanged.
        need_total = ((end - 1) * self.down) // self.up + 1
        pad = max(0, need_total - (self._base + self._buf.size))
        self._buf = np.concatenate((self._buf, np.zeros(pad)))
        return self._emit(end)
