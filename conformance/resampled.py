"""Sample by sample: is a resampled file the caller's audio, band-limited to the file's rate?

The whole-file check (``conformance.grading``) takes a 6000/11000/11025 Hz file back to 8000 Hz
and asks for 18 dB SNR, a bound loose enough for any valid resampler. It misses what happens at
a few samples: an output that rounds to +32768 and wraps to -32768 when cast to 16 bits (one
click at full scale), or a resampler whose filter is too short (most of the error sits near the
band edge, where the SNR barely sees it). This module owns the sample-level view at the file's
own rate, against a band-limited reference built here from the 8000 Hz audio the recorder heard:
``scipy.signal.resample_poly`` with its default design (``lowpass``; the suite's own copy, not
the reference recorder's), output ``j`` at call tick ``start + j*down/up``.

A valid recorder may treat the audio beyond the file's edges two ways: resample what it kept
(zero before the first and after the last sample: the ``zero`` reference) or resample the call
and then cut (the call's audio continuing past both edges: ``cont``). Each sample and each
segment is judged against the nearer of the two.

* **gross** (``gross_errors``): samples further than full scale (32768) from both references:
  a sample on the other side of zero from a loud input, which no resampler produces (measured on
  the format cases' audio, clipped speech included: sox's ``rate -q``, a cubic interpolator,
  errs by at most 14 039; sox's default, ffmpeg's swr and scipy with other windows and lengths
  by 73 to 3 394); the caller's audio is not in such a sample (FAIL on SPEC-WAV and SPEC-FORMATS). Judged for PCM
  and G.711 files, whose codec error is a small fraction of it; an ADPCM encoder smears a click
  over many samples (and may itself lag a loud step by more), so those are left out.
* **in-band** (``inband_worst``): the error low-passed to ``PASS_FRACTION`` of the lower
  Nyquist (8000 Hz's or the file's), per ``SEGMENT_MS`` segment of the file (the last segment
  ends at the file's last sample), against the reference's level in that segment, for segments
  at or above ``LOUD_DBM0``. A resampler of sox's or scipy's default quality keeps it at least
  ``INBAND_DB`` below the audio (measured on the format cases' audio: 38.6 dB or more); a
  filter too short for the band (half the default length, sox's ``-l`` and ``-q``) shows 25.1 dB
  or less. Quality, not a sentence of the text: INFO on SD-RESAMPLE, PCM files only (a codec's
  own noise is larger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin, oaconvolve, resample_poly

from callsim.contract import DBM0_RMS, TICKS_PER_SECOND

__all__ = ["Gross", "Inband", "continued", "gross_errors", "heard_lengths", "inband_worst", "lowpass", "ratio",
           "references", "resample"]

FloatArray = npt.NDArray[np.float64]

#: FAIL: a sample further than this from both references (a full scale: the sign of a loud input lost)
GROSS = 32768.0
#: INFO: a loud segment's in-band error must be at least this far (dB) under the segment's level
INBAND_DB = 32.0
#: the in-band error: up to this fraction of the lower Nyquist (the band every good resampler keeps flat)
PASS_FRACTION = 0.9
SEGMENT_MS = 20
#: segments whose reference level is at or above this are judged (quieter ones: too little to measure)
LOUD_DBM0 = -24.0
#: audio beyond the file's edges taken into the ``cont`` reference (8000 Hz ticks, rounded up to ``down``)
_EDGE_TICKS = 64
_LOUD_MS2 = DBM0_RMS**2 * 10 ** (LOUD_DBM0 / 10)


def ratio(rate: int) -> tuple[int, int]:
    """(up, down) of ``rate`` over the call's 8000 Hz, in lowest terms."""
    g = gcd(rate, TICKS_PER_SECOND)
    return rate // g, TICKS_PER_SECOND // g


@lru_cache(maxsize=16)
def lowpass(up: int, down: int) -> FloatArray:
    """The filter ``resample_poly`` designs by default for ``up/down`` (designed once here)."""
    m = max(up, down)
    return np.asarray(firwin(2 * 10 * m + 1, 1.0 / m, window=("kaiser", 5.0)))


def resample(x: FloatArray, up: int, down: int) -> FloatArray:
    """``x`` resampled by ``up/down`` with the default design (zero phase, zero outside ``x``)."""
    return np.asarray(resample_poly(x, up, down, window=lowpass(up, down)))


def heard_lengths(n: int, rate: int) -> list[int]:
    """The 8000 Hz lengths whose resampled length, rounded up or down, is ``n``."""
    up, down = ratio(rate)
    lo, hi = max(0, (n - 1) * down // up), (n + 1) * down // up + 1
    return [k for k in range(lo, hi + 1) if n in (k * up // down, -(-k * up // down))]


def references(render: Callable[[int, int], npt.NDArray[Any]], start: int, n: int, rate: int) -> list[FloatArray]:
    """The band-limited references of ``n`` file samples at ``rate`` whose first sample is call
    tick ``start``, clipped to the 16-bit range; ``render(a, b)`` gives the call's 8000 Hz audio
    of ticks ``[a, b)``. The first is ``cont`` (the call's audio past both edges), then one
    ``zero`` reference per length of heard audio the file's length allows (``heard_lengths``)."""
    return _references(render, start, n, rate, zero=True)


def continued(render: Callable[[int, int], npt.NDArray[Any]], start: int, n: int, rate: int) -> FloatArray:
    """``references``' first one alone (the call's audio past both edges): enough to choose
    between nearby starts, at a fraction of the cost."""
    return _references(render, start, n, rate, zero=False)[0]


def _references(render: Callable[[int, int], npt.NDArray[Any]], start: int, n: int, rate: int, *,
                zero: bool) -> list[FloatArray]:
    up, down = ratio(rate)
    lengths = heard_lengths(n, rate)
    n8 = max(lengths, default=-(-n * down // up))
    edge = down * -(-_EDGE_TICKS // down)
    wide = np.asarray(render(start - edge, start + n8 + edge), dtype=np.float64)
    skip = edge * up // down
    out = [resample(wide, up, down)[skip: skip + n]]
    if zero:
        out += [resample(wide[edge: edge + k], up, down)[:n] for k in lengths]
    return [np.clip(np.pad(r, (0, max(0, n - r.size))), -32768.0, 32767.0) for r in out]


@dataclass(frozen=True)
class Gross:
    """Samples further than ``GROSS`` from both references: how many, of how many, and the
    first one (file sample, decoded value, the nearer reference's value)."""

    count: int
    of: int
    first: tuple[int, float, float] | None = None

    def words(self) -> str:
        if not self.first:
            return "none"
        k, d, r = self.first
        return f"{self.count} of {self.of} samples, the first at file sample {k}: decoded {d:g}, band-limited caller's audio {r:g}"


def gross_errors(d: FloatArray, refs: list[FloatArray]) -> Gross:
    """Samples of ``d`` (decoded, 16-bit scale) further than ``GROSS`` from every reference."""
    err = np.min([np.abs(d - r) for r in refs], axis=0)
    bad = np.flatnonzero(err > GROSS)
    if not bad.size:
        return Gross(0, int(d.size))
    k = int(bad[0])
    r = min((float(r[k]) for r in refs), key=lambda v: abs(float(d[k]) - v))
    return Gross(int(bad.size), int(d.size), (k, float(d[k]), r))


@dataclass(frozen=True)
class Inband:
    """The in-band error of the loud segments: how many fall short of ``INBAND_DB``, of how many,
    and the worst one (its first file sample, its error in dB under the audio)."""

    short: int
    of: int
    worst_at: int
    worst_db: float

    def words(self, rate: int) -> str:
        return (f"{self.short} of {self.of} loud {SEGMENT_MS} ms segments have an in-band error less than "
                f"{INBAND_DB:g} dB under the audio, the worst {self.worst_db:.1f} dB at file sample {self.worst_at} "
                f"({self.worst_at * 1000 / rate:.0f} ms)")


@lru_cache(maxsize=8)
def _band(rate: int) -> FloatArray:
    """A low-pass at ``PASS_FRACTION`` of the lower Nyquist, at the file's rate."""
    nyq = min(TICKS_PER_SECOND, rate) / 2
    return np.asarray(firwin(401, PASS_FRACTION * nyq / (rate / 2), window=("kaiser", 8.0)))


def _segment_sums(x: FloatArray, seg: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Sums of ``x`` over whole segments of ``seg`` samples; the last one ends at the file's end."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    starts = np.arange(0, x.size - seg + 1, seg)
    if x.size % seg and x.size >= seg:
        starts = np.append(starts, x.size - seg)
    return np.asarray(c[starts + seg] - c[starts]), starts.astype(np.int64)


def inband_worst(d: FloatArray, refs: list[FloatArray], rate: int) -> Inband:
    """The in-band error of ``d`` against the nearest reference, per loud segment."""
    seg = rate * SEGMENT_MS // 1000
    if d.size < seg:
        return Inband(0, 0, 0, float("inf"))
    h = _band(rate)
    errs = []
    for r in refs:
        e = oaconvolve(d - r, h, mode="same")
        sums, starts = _segment_sums(e * e, seg)
        errs.append(sums)
    level, _ = _segment_sums(np.max([r * r for r in refs], axis=0), seg)
    loud = level >= _LOUD_MS2 * seg
    if not loud.any():
        return Inband(0, 0, 0, float("inf"))
    err = np.min(errs, axis=0)[loud]
    db = 10 * np.log10(level[loud] / np.maximum(err, 1e-9))
    w = int(np.argmin(db))
    return Inband(int((db < INBAND_DB).sum()), int(loud.sum()), int(starts[loud][w]), float(db[w]))
