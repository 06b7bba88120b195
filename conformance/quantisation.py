"""Sample by sample: is each decoded sample one the codec's quantisation allows for the input?

A whole-file SNR misses a codec table that is wrong in a narrow band (an A-law segment boundary
moved: a click on a few inputs) or by a little everywhere (an ADPCM step off by one: most
samples off by a few units, the SNR still above its bound). This module owns the sample-level
view, computed from the file's own codes with the suite's independent decoders
(``conformance.decoders``), at 8000 Hz where each file sample is one input sample:

* G.711 (A-law, mu-law): every correct encoder, whichever way it rounds, decodes to one of the
  two codec levels that bracket the input (the level of the input's quantisation interval is
  one of them). ``g711_outside`` counts the samples that do not: the FAIL line.
* ADPCM (IMA, OKI): at each sample the decoder's state (predictor, step size) offers 16 values,
  one per code. ``adpcm_check`` returns two counts: samples further from the input than the
  closest offered value plus one decoder step (no encoder following the codec's step sizes
  errs by that much: the FAIL line; an IMA block header, whose sample is sent verbatim, is held
  to the same line from the state the previous block left: an encoder sends the input there, so
  a header that repeats an earlier sample or lags the input by one shows), and samples whose
  value is not one of the offered values
  bracketing the input (a greedy encoder's choice, also when it avoids a code that would
  saturate the predictor; a look-ahead encoder may choose otherwise, so this is a quality
  finding, INFO).

Tolerances: 2 units of the codec's own scale (rounding of the integer step arithmetic), and
OKI's 12-bit input (``x >> 4``) is compared in 16-bit units with its 16-unit grain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .decoders import (
    _IMA_DIFF,
    _OKI_DIFF,
    ALAW_TABLE,
    IMA_STEPS,
    OKI_STEPS,
    ULAW_TABLE,
    _adpcm_steps,
)

__all__ = ["Outside", "g711_outside", "adpcm_states", "adpcm_check"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Outside:
    """Samples outside a bound: how many, of how many, and the first one (index, input,
    decoded, the allowed range)."""

    count: int
    of: int
    first: tuple[int, float, float, float, float] | None = None

    def words(self, unit: str = "") -> str:
        if not self.first:
            return "none"
        k, x, d, lo, hi = self.first
        return (f"{self.count} of {self.of} samples, the first at sample {k}: input {x:g}, decoded {d:g}, "
                f"allowed {lo:g}..{hi:g}{unit}")


def _first(bad: npt.NDArray[np.bool_], x: FloatArray, d: FloatArray, lo: FloatArray, hi: FloatArray) -> Outside:
    idx = np.flatnonzero(bad)
    if not idx.size:
        return Outside(0, int(bad.size))
    k = int(idx[0])
    return Outside(int(idx.size), int(bad.size), (k, float(x[k]), float(d[k]), float(lo[k]), float(hi[k])))


def _bracket(levels: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per sample, the nearest level at or below ``x`` and at or above it (rows of ``levels``
    sorted ascending; a single 1-D ``levels`` is shared by every sample); beyond the extreme
    levels both are the extreme one."""
    if levels.ndim == 1:
        i_hi = np.clip(np.searchsorted(levels, x, side="left"), 0, levels.size - 1)
        i_lo = np.clip(np.searchsorted(levels, x, side="right") - 1, 0, levels.size - 1)
        return levels[i_lo], levels[i_hi]
    below = np.where(levels <= x[:, None], levels, -np.inf).max(axis=1)
    above = np.where(levels >= x[:, None], levels, np.inf).min(axis=1)
    below = np.where(np.isfinite(below), below, levels.min(axis=1))
    above = np.where(np.isfinite(above), above, levels.max(axis=1))
    return below, above


def g711_outside(fmt: str, x: FloatArray, d: FloatArray) -> Outside:
    """Samples of ``d`` (decoded G.711) that are not one of the two levels bracketing the input
    ``x`` (both int16 scale, aligned), within 2 units of the 13/14-bit scale."""
    table = ALAW_TABLE if fmt == "alaw" else ULAW_TABLE
    levels = np.unique(table.astype(np.float64))
    tol = 2 * (8 if fmt == "alaw" else 4)
    lo, hi = _bracket(levels, x)
    return _first((d < lo - tol) | (d > hi + tol), x, d, lo, hi)


@dataclass(frozen=True)
class AdpcmStates:
    """Per decoded sample, the decoder's state before it (predictor, step index) and whether
    the sample is free (an IMA block header: the value itself is sent); ``offer`` turns a slice
    of it into the 16 values the decoder could produce there."""

    prev_value: npt.NDArray[np.int64]
    prev_index: npt.NDArray[np.int64]
    free: npt.NDArray[np.bool_]
    diff: npt.NDArray[np.int64]  # (steps, 16) signed predictor change per (step index, code)
    steps: npt.NDArray[np.int64]
    vmin: int
    vmax: int
    grain: float  # the codec's unit in int16 scale (1 for IMA, 16 for OKI)

    def offer(self, sl: slice) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]:
        """(values (n, 16) as the decoder clamps them, in int16 scale; which would saturate the
        predictor; the decoder's step in int16 scale) for the samples ``sl``."""
        raw = self.prev_value[sl, None] + self.diff[self.prev_index[sl]]
        saturating = (raw < self.vmin) | (raw > self.vmax)
        values = np.clip(raw, self.vmin, self.vmax).astype(np.float64) * self.grain
        return values, saturating, self.steps[self.prev_index[sl]].astype(np.float64) * self.grain


def adpcm_states(fmt: str, raw: bytes, block_align: int = 256) -> AdpcmStates:
    """The decoder's offer at every sample of an IMA (``block_align``) or OKI data chunk, in the
    order ``conformance.decoders.decode`` outputs the samples."""
    buf = np.frombuffer(bytes(raw), dtype=np.uint8)
    if fmt == "oki":
        codes = np.empty(2 * buf.size, dtype=np.int64)
        codes[0::2] = buf >> 4
        codes[1::2] = buf & 15
        vals, idx = _adpcm_steps(codes, np.zeros(1, np.int64), np.zeros(1, np.int64), None, _OKI_DIFF,
                                 len(OKI_STEPS) - 1, -2048, 2047)
        prev_v = np.concatenate([[0], vals[:-1]])
        prev_i = np.concatenate([[0], idx[:-1]])
        free = np.zeros(codes.size, dtype=bool)
        diff, steps, vmin, vmax, scale = _OKI_DIFF, OKI_STEPS, -2048, 2047, 16
    else:
        n_full, rest = divmod(buf.size, block_align)
        width = block_align
        blocks = buf[: n_full * width].reshape(n_full, width)
        parts = [blocks] + ([buf[n_full * width:].reshape(1, rest)] if rest >= 4 else [])
        prev_vs, prev_is, frees = [], [], []
        for bl in parts:
            w = bl.shape[1]
            nb = bl.shape[0]
            pred = bl[:, 0].astype(np.int64) | (bl[:, 1].astype(np.int64) << 8)
            pred = np.where(pred >= 0x8000, pred - 0x10000, pred)
            per = 2 * (w - 4) + 1
            codes = np.zeros((nb, per), dtype=np.int64)
            codes[:, 1::2] = bl[:, 4:] & 15
            codes[:, 2::2] = bl[:, 4:] >> 4
            reset = np.zeros((nb, per), dtype=bool)
            reset[:, 0] = True
            r_i = np.zeros((nb, per), dtype=np.int64)
            r_i[:, 0] = np.minimum(bl[:, 2], 88)
            r_v = np.zeros((nb, per), dtype=np.int64)
            r_v[:, 0] = pred
            vals, idx = _adpcm_steps(codes.ravel(), r_i.ravel(), r_v.ravel(), reset.ravel(), _IMA_DIFF, 88,
                                     -32768, 32767)
            prev_vs.append(np.concatenate([[0], vals[:-1]]))
            prev_is.append(np.concatenate([[0], idx[:-1]]))
            frees.append(reset.ravel())
        prev_v = np.concatenate(prev_vs) if prev_vs else np.zeros(0, np.int64)
        prev_i = np.concatenate(prev_is) if prev_is else np.zeros(0, np.int64)
        free = np.concatenate(frees) if frees else np.zeros(0, bool)
        diff, steps, vmin, vmax, scale = _IMA_DIFF, IMA_STEPS, -32768, 32767, 1
    return AdpcmStates(prev_v, prev_i, free, diff.reshape(len(steps), 16), np.asarray(steps, dtype=np.int64),
                       vmin, vmax, float(scale))


#: Samples per slice of ``adpcm_check`` (bounds its memory on long recordings).
_CHUNK = 1 << 15


def adpcm_check(states: AdpcmStates, x: FloatArray, d: FloatArray, start: int = 0) -> tuple[Outside, Outside]:
    """``(beyond one step, not a bracketing value)`` for the decoded samples ``d`` (file samples
    ``start .. start + len(d)``) against the aligned input ``x``."""
    n = max(0, min(len(d), states.prev_value.size - start))
    far_parts: list[tuple[npt.NDArray[np.bool_], FloatArray, FloatArray, FloatArray, FloatArray]] = []
    loose_parts: list[tuple[npt.NDArray[np.bool_], FloatArray, FloatArray, FloatArray, FloatArray]] = []
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        far, loose = _check_slice(states, np.asarray(x[a:b], np.float64), np.asarray(d[a:b], np.float64),
                                  slice(start + a, start + b))
        far_parts.append(far)
        loose_parts.append(loose)
    return _join(far_parts, n), _join(loose_parts, n)


def _join(parts: list[tuple[npt.NDArray[np.bool_], FloatArray, FloatArray, FloatArray, FloatArray]], n: int) -> Outside:
    count, first, offset = 0, None, 0
    for bad, x, d, lo, hi in parts:
        idx = np.flatnonzero(bad)
        if idx.size and first is None:
            k = int(idx[0])
            first = (offset + k, float(x[k]), float(d[k]), float(lo[k]), float(hi[k]))
        count += int(idx.size)
        offset += bad.size
    return Outside(count, n, first)


def _check_slice(states: AdpcmStates, x: FloatArray, d: FloatArray, sl: slice) -> tuple[Any, Any]:
    vals, sat, step = states.offer(sl)
    free = states.free[sl]
    # OKI sees the input as x >> 4: compare against the value the encoder saw
    xs = np.floor(x / states.grain) * states.grain if states.grain > 1 else x
    tol = 2 * states.grain
    best = np.abs(vals - xs[:, None]).min(axis=1)
    loose_lo = xs - best - step - tol
    loose_hi = xs + best + step + tol
    # a block header sends its sample verbatim: every encoder sends the input there (or a value
    # its decoder could have reached from the previous block), so headers share the FAIL line
    far = (d < loose_lo) | (d > loose_hi)
    lo, hi = _bracket(vals, xs)
    # an encoder may also avoid a code that would saturate the predictor: bracket among the
    # others (a row where every code saturates keeps them all)
    sat = np.asarray(sat & ~np.asarray(sat.all(axis=1))[:, None])
    nearest_safe = np.where(sat, np.take_along_axis(vals, np.argmin(np.where(sat, np.inf, np.abs(vals - xs[:, None])),
                                                                      axis=1)[:, None], axis=1), vals)
    s_lo, s_hi = _bracket(nearest_safe, xs)
    in_full = (d >= lo - tol) & (d <= hi + tol)
    in_safe = (d >= s_lo - tol) & (d <= s_hi + tol)
    loose = ~free & ~(in_full | in_safe)
    return (far, xs, d, loose_lo, loose_hi), (loose, xs, d, lo, hi)
