"""Detectors on the 8 kHz int16 call stream: frame energy / silence, and in-band DTMF.

This module owns two things:

* **Silence classification** (docs/dsp.md "Silence"). A 20 ms frame of 160 samples is *active*
  when its energy ``sum(x**2)`` (exact, int64) is at or above ``ACTIVE_ENERGY``, the energy of a
  -45 dBm0 signal.  0 dBm0 is the contract's ``DBM0_RMS`` (16141.167 in 16-bit linear): the
  A-law digital milliwatt of ITU-T G.711, the same convention spandsp uses.  All comparisons are between integers;
  no logarithm is taken at run time.

* **DTMF detection** against the ITU-T Q.24 AT&T column (accept +-1.5 %, reject +-3.5 %; accept
  40 ms, reject 23 ms; 40 ms pauses; 10 ms interruptions bridged; 0..-25 dBm0; twist
  level_high - level_low in [-8, +4] dB).  ``DtmfDetector.scan`` is functional: it takes an
  immutable ``DtmfState`` and returns the events plus a new state, so a caller may scan ahead and
  later keep only the state after a committed prefix.

Detector design (details and measured results in docs/dsp.md):
  The stream is cut into 5 ms blocks of 40 samples.  An analysis window is 3 blocks (120 samples,
  Hann) starting at every block, i.e. a hop of 40 samples.  One matrix product of the blocks with
  an integer-valued basis gives, per block and per window position, the partial DFT at the 8 DTMF
  frequencies (and, only for surviving candidates, the 4 column second harmonics).  Because the
  basis holds integers below 2**14 and samples are int16, every product and partial sum is an
  integer below 2**53, so float64 BLAS results are exact whatever the summation order: the
  detector gives bit-identical decisions for any chunking and on any machine.
  A float32 pre-filter (``_prefilter``) first runs the per-window gate, level and tone-fraction
  tests on every window with each threshold loosened by a proven bound on float32 rounding; only
  the windows it keeps (a superset of those the exact tests accept; 0.3 % on speech) get the
  exact float64 product, so decisions are still taken on exact values only.
  A *span* is two consecutive windows (4 blocks, 20 ms).  A span is a hit for digit d when both
  windows pass level, twist and block-uniformity tests for the same row and column; the phase
  advance between the two windows puts both tones within 2.5 % of nominal (midway between the
  1.5 % accept and the 3.5 % reject limits; window magnitude alone cannot separate those across
  697..1633 Hz); the two tones, corrected for the window's droop at the measured offset, hold
  >= 80 % of the power; and neither the third-order products 2fr-fc, 2fc-fr nor the second
  harmonics are strong (a two-tone signal lacks them, voiced speech has them).
  A duration state machine then turns hits into digits (see ``K_ON`` and ``M_OFF``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from callsim.contract.units import (
    DBM0_RMS,
    FRAME,
    FULL_SCALE_SINE_DBM0,
    SILENCE_THRESHOLD_DBM0,
    TICKS_PER_SECOND,
    dbm0_to_energy,
)

__all__ = [
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "DBM0_RMS",
    "FULL_SCALE_SINE_DBM0",
    "SILENCE_THRESHOLD_DBM0",
    "ACTIVE_ENERGY",
    "dbm0_to_energy",
    "frame_energy",
    "is_active",
    "DTMF_KEYS",
    "DTMF_ROW_HZ",
    "DTMF_COL_HZ",
    "DtmfEvent",
    "DtmfState",
    "DtmfDetector",
    "detect_digits",
]

SAMPLE_RATE = TICKS_PER_SECOND
FRAME_SAMPLES = FRAME


#: A frame is active when its energy is at or above this (-45 dBm0 over 160 samples = 1318226).
ACTIVE_ENERGY: int = dbm0_to_energy(SILENCE_THRESHOLD_DBM0)
assert ACTIVE_ENERGY == 1_318_226, ACTIVE_ENERGY


def frame_energy(frames: np.ndarray) -> np.ndarray:
    """Exact energy ``sum(x**2)`` of each row of an ``(n, 160)`` int16 array, as int64.

    Exact integer arithmetic: squares in int32 (each at most 2**30), sums in int64.
    """
    a = np.asarray(frames)
    if a.dtype != np.int16:
        raise TypeError(f"frames must be int16, got {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"frames must be 2-D (n, samples), got shape {a.shape}")
    sq = a.astype(np.int32)
    sq *= sq  # each square <= 2**30 fits int32; the row sum is taken in int64
    return sq.sum(axis=1, dtype=np.int64)


def is_active(frames: np.ndarray, threshold: int = ACTIVE_ENERGY) -> np.ndarray:
    """Boolean per frame: energy at or above ``threshold`` (default -45 dBm0)."""
    return frame_energy(frames) >= threshold


# ------------------------------------------------------------------------------------- DTMF

DTMF_ROW_HZ: tuple[int, ...] = (697, 770, 852, 941)
DTMF_COL_HZ: tuple[int, ...] = (1209, 1336, 1477, 1633)
#: Keypad layout: row r, column c is DTMF_KEYS[4 * r + c].
DTMF_KEYS = "123A456B789C*0#D"

BLOCK = 40  # samples per block (5 ms): the hop between analysis windows
WIN_BLOCKS = 3  # blocks per analysis window (120 samples, 15 ms)
WIN = BLOCK * WIN_BLOCKS
_BLOCKS_PER_FRAME = FRAME_SAMPLES // BLOCK
_Q = 2.0**14  # basis scale; integer basis keeps the float64 products exact
_CHUNK_FRAMES = 2048  # internal processing chunk (bounded memory, cache friendly)

#: Hits (spans) needed to confirm a digit.  A 40 ms tone yields >= 4 hit spans at any alignment,
#: a 23 ms tone <= 2 (a span needs 20 ms of tone plus both windows uniformly covered).
K_ON = 3
#: A candidate run survives this many non-hit spans between hits (noise-robust onset).
CAND_GAP = 1
#: Consecutive spans without the current digit that end it.  A 10 ms interruption costs at most
#: 6 spans (bridged); a 40 ms pause costs at least 10 (digit ends, repeats are seen).
M_OFF = 8
#: Onset estimate = start of the first hit span + this bias (samples), calibrated on tones at
#: random sub-block offsets (docs/dsp.md, "Latency").
ONSET_BIAS = -1

#: Per-tone level gate, dBm0: Q.24 operates down to -25 dBm0 per tone with up to 8 dB twist, so
#: the weaker tone may be at -33; 3 dB margin below that.  -55 dBm0 must not operate.
MIN_TONE_DBM0 = -36.0
#: Twist window (level_high - level_low), dB: Q.24 AT&T accepts [-8, +4]; 2 dB margin each side
#: for the magnitude loss of off-nominal tones in the Hann window.
TWIST_MIN_DB = -10.0
TWIST_MAX_DB = 6.0
#: The two tones (corrected for the window's droop at the measured offset) must carry at least
#: this fraction of the span's power (speech rejection).
MIN_TONE_FRACTION = 0.80
PRE_TONE_FRACTION = 0.60
#: Every block of a window must hold at least this fraction of the window's loudest block
#: (rejects windows only partly covered by a tone; makes the duration counts sharp).
MIN_BLOCK_RATIO = 0.5
#: Frequency offset limit, midway between Q.24's 1.5 % (operate) and 3.5 % (must not operate).
MAX_FREQ_OFFSET = 0.025
#: Second harmonics must be this far below their fundamental (Q.23 transmitters keep harmonics
#: >= 20 dB down; a voice or instrument with a partial at f also has one at 2f).
MAX_HARMONIC_DB = -12.0
#: Third-order intermodulation products (2fr-fc, 2fc-fr) must be this far below the weaker tone
#: (Q.23: >= 20 dB down).  Clean tones measure <= -31 dB, tones in 15 dB SNR noise <= -19 dB,
#: two 0 dBm0 tones clipped in int16 -21 dB; espeak-ng speech near-misses mostly >= -13 dB.
MAX_IM3_DB = -16.0


def _hann_basis(freqs: tuple[float, ...]) -> tuple[np.ndarray, float]:
    """Integer-valued basis (BLOCK, WIN_BLOCKS * 2 * F) and the window sum (scaled by _Q).

    Column layout: [position p][re, im][frequency].  Position p is the block's place in the
    window; the phase reference is the window's first sample.
    """
    m = np.arange(WIN, dtype=np.float64)
    h = np.sin(np.pi * (m + 0.5) / WIN) ** 2
    w = 2.0 * np.pi * np.asarray(freqs, dtype=np.float64) / SAMPLE_RATE
    re = np.round(_Q * h[:, None] * np.cos(m[:, None] * w[None, :]))
    im = np.round(-_Q * h[:, None] * np.sin(m[:, None] * w[None, :]))
    nf = len(freqs)
    basis = np.empty((BLOCK, WIN_BLOCKS, 2, nf), dtype=np.float64)
    for p in range(WIN_BLOCKS):
        basis[:, p, 0, :] = re[p * BLOCK : (p + 1) * BLOCK]
        basis[:, p, 1, :] = im[p * BLOCK : (p + 1) * BLOCK]
    return np.ascontiguousarray(basis.reshape(BLOCK, -1)), float(_Q * h.sum())


_FUND_HZ = DTMF_ROW_HZ + DTMF_COL_HZ
_FUND_HZ_ARR = np.asarray(_FUND_HZ, dtype=np.float64)
_FUND_BASIS, _WSUM = _hann_basis(tuple(float(f) for f in _FUND_HZ))
# The same basis split by window position: _POS_BASIS[p] is (BLOCK, 2 * F) = [re | im].
_POS_BASIS = tuple(
    np.ascontiguousarray(_FUND_BASIS.reshape(BLOCK, WIN_BLOCKS, 2 * len(_FUND_HZ))[:, p, :])
    for p in range(WIN_BLOCKS)
)
# float32 copy for the pre-filter (entries are integers below 2**14: exact in float32).
_FUND_BASIS32 = _FUND_BASIS.astype(np.float32)
_M = np.arange(WIN, dtype=np.float64)
_HANN_Q = _Q * np.sin(np.pi * (_M + 0.5) / WIN) ** 2
# Power of a sine of mean square P in a bin: |X|^2 = P * WSUM^2 / 2.
_BIN_PER_POWER = _WSUM**2 / 2.0
_MIN_TONE_BIN = DBM0_RMS**2 * 10.0 ** (MIN_TONE_DBM0 / 10.0) * _BIN_PER_POWER
_TWIST_LO = 10.0 ** (TWIST_MIN_DB / 10.0)
_TWIST_HI = 10.0 ** (TWIST_MAX_DB / 10.0)
_HARM_RATIO = 10.0 ** (MAX_HARMONIC_DB / 10.0)
_IM_RATIO = 10.0 ** (MAX_IM3_DB / 10.0)
# 2.5 Hann bins: beyond it a tone's leakage is below the first sidelobe (-31 dB).
_HARM_GUARD_HZ = 2.5 * SAMPLE_RATE / WIN
# Window energy E (sum x^2 over WIN samples) vs bins: tones' power (Pr + Pc) >= FRAC * E / WIN.
_FRAC_K = MIN_TONE_FRACTION * _BIN_PER_POWER / WIN
# Cheap per-window form of that test before the offset is known: uncorrected, a tone pair 2.5 %
# off nominal keeps >= 0.73 of its power in the Hann bins, so 0.6 never drops a valid pair.
_PRE_FRAC_K = PRE_TONE_FRACTION * _BIN_PER_POWER / WIN
# Pre-gate: a window that can hold two tones each >= MIN_TONE_DBM0 has energy well above this.
_GATE_ENERGY = 0.5 * 2.0 * WIN * DBM0_RMS**2 * 10.0 ** (MIN_TONE_DBM0 / 10.0)
# Expected phase advance per hop, removed before measuring the offset: e^{-j w H}.
_HOP_ROT = np.exp(-2j * np.pi * np.asarray(_FUND_HZ, dtype=np.float64) * BLOCK / SAMPLE_RATE)
# |offset| <= MAX_FREQ_OFFSET * f  <=>  phase error <= this angle (all below pi/2).
_COS2_LIMIT = (
    np.cos(2.0 * np.pi * MAX_FREQ_OFFSET * np.asarray(_FUND_HZ) * BLOCK / SAMPLE_RATE) ** 2
)
_NO_SPAN = -(10**18)


@dataclass(frozen=True)
class DtmfEvent:
    """A confirmed digit.

    ``frame``: index, within the frames given to that ``scan`` call, of the frame in which the
    digit was confirmed.  ``onset_sample``: best estimate of the tone onset as a sample offset
    from the start of those frames (negative when the tone began in an earlier call).
    """

    frame: int
    digit: str
    onset_sample: int


@dataclass(frozen=True)
class DtmfState:
    """Immutable detector state between ``scan`` calls.

    ``tail`` holds the last ``WIN_BLOCKS`` blocks of samples (int16 little-endian bytes) so
    windows straddle call boundaries; ``blocks_done`` counts blocks consumed so far.
    ``cur`` is the digit currently on ("" when none) and ``miss`` the spans since it was last seen;
    ``cand``/``cand_hits``/``cand_first``/``cand_last`` describe the run of hits being counted.
    Span indices are absolute block indices of the span's first block.
    """

    tail: bytes = bytes(2 * WIN_BLOCKS * BLOCK)
    blocks_done: int = 0
    cur: str = ""
    miss: int = 0
    cand: str = ""
    cand_hits: int = 0
    cand_first: int = 0
    cand_last: int = _NO_SPAN


def _prefilter(xi: np.ndarray) -> np.ndarray:
    """Windows that *may* pass the exact per-window tests, from a float32 pass (superset).

    ``xi`` is (nb, BLOCK) int16.  The exact tests (gate, tone levels, uncorrected tone fraction)
    are repeated here on float32 energies and DFT bins, each loosened by a proven bound on the
    float32 rounding, so every window the exact float64 tests accept is returned (the float32
    result only decides which windows the exact path looks at, never a decision).  float32
    halves the memory traffic of the 48-column product and the window sums, the detector's
    dominant cost on speech, where 99.7 % of gated windows fail here.

    Bounds (u = 2**-24, any summation order or FMA): a block energy sums 40 squares, so with the
    2 window additions |ew32 - ew| <= 43 u ew; loosened by 1e-4 relative.  A window's bin sums 120
    products x_m b_m, |b_m| <= _Q, so each of re, im is off by <= 43 u S with
    S = sum |x_m b_m| <= _Q sqrt(WIN ew) (Cauchy-Schwarz); loosened to
    delta = 1e-5 _Q sqrt(WIN ew), and |X| by 1.5 delta plus 1e-6 relative for the power's own
    rounding.
    """
    nb = xi.shape[0]
    nw = nb - WIN_BLOCKS + 1
    xs = xi.astype(np.float32)
    eb = np.einsum("ij,ij->i", xs, xs)
    ew = (eb[:nw] + eb[1 : nw + 1] + eb[2 : nw + 2]).astype(np.float64)
    ew_hi = ew * (1.0 + 1e-4)
    gate = ew_hi >= _GATE_ENERGY
    if not gate.any():
        return gate
    nf2 = 2 * len(_FUND_HZ)
    y = xs @ _FUND_BASIS32
    z = y[:nw, :nf2] + y[1 : nw + 1, nf2 : 2 * nf2]
    z += y[2 : nw + 2, 2 * nf2 :]
    z *= z
    pw = z[:, : nf2 // 2] + z[:, nf2 // 2 :]  # |X|^2 per fundamental, float32
    pr = np.maximum(np.maximum(pw[:, 0], pw[:, 1]), np.maximum(pw[:, 2], pw[:, 3]))
    pc = np.maximum(np.maximum(pw[:, 4], pw[:, 5]), np.maximum(pw[:, 6], pw[:, 7]))
    delta = 1.5e-5 * _Q * np.sqrt(WIN * ew_hi)
    pr_hi = (np.sqrt(pr.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2
    pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2
    ok = gate & (pr_hi >= _MIN_TONE_BIN) & (pc_hi >= _MIN_TONE_BIN)
    ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))
    return ok


def _span_codes(xi: np.ndarray) -> np.ndarray:
    """Digit code 0..15 (or -1) of every span of the blocks ``xi`` (nb, BLOCK) int16.

    Returns an int array of length nb - WIN_BLOCKS: span i covers blocks i .. i + WIN_BLOCKS.
    A float32 pre-filter (``_prefilter``) picks the windows that may pass; every decision is
    then taken on exact float64 (integer-valued) values for those windows only.
    """
    nb = xi.shape[0]
    nw = nb - WIN_BLOCKS + 1  # windows
    ns = nw - 1  # spans
    codes = np.full(ns, -1, dtype=np.int64)
    if ns <= 0:
        return codes
    maybe = _prefilter(xi)
    # A span needs both of its windows to pass: keep windows with a passing neighbour.
    pair = maybe[:-1] & maybe[1:]
    if not pair.any():
        return codes
    look = np.zeros(nw, dtype=bool)
    look[:-1] |= pair
    look[1:] |= pair
    wl = np.flatnonzero(look)
    # Exact block energies for the blocks of those windows and of their neighbours (the gate
    # of a span looks at both windows); other entries stay 0 and are never read.
    blk = np.unique(np.clip(wl[:, None] + np.arange(-1, WIN_BLOCKS + 1)[None, :], 0, nb - 1))
    xb = xi[blk].astype(np.float64)
    eb = np.zeros(nb, dtype=np.float64)
    eb[blk] = np.einsum("ij,ij->i", xb, xb)
    ew = eb[:nw] + eb[1 : nw + 1] + eb[2 : nw + 2]
    gate = ew >= _GATE_ENERGY
    span_ok = gate[:-1] & gate[1:]
    need_w = np.zeros(nw, dtype=bool)
    need_w[:-1] |= span_ok
    need_w[1:] |= span_ok
    wi = wl[need_w[wl]]
    if wi.size == 0:
        return codes
    nf = len(_FUND_HZ)
    xf = xi.astype(np.float64) if wi.size * 8 > nw else None
    # Only the needed windows, each block against its window position's basis (exact).
    acc = _rows(xi, xf, wi) @ _POS_BASIS[0]
    for p in range(1, WIN_BLOCKS):
        acc += _rows(xi, xf, wi + p) @ _POS_BASIS[p]
    re, im = acc[:, :nf], acc[:, nf:]
    # Window sums are exact (integer-valued float64); powers per bin.
    pw = re * re + im * im
    pr = np.maximum(np.maximum(pw[:, 0], pw[:, 1]), np.maximum(pw[:, 2], pw[:, 3]))
    pc = np.maximum(np.maximum(pw[:, 4], pw[:, 5]), np.maximum(pw[:, 6], pw[:, 7]))
    # Cheap tests first on all windows, the rest only on the few that pass.  Decisions use
    # exact values only, so they never depend on chunking or on the pre-filter's rounding.
    k = np.flatnonzero(
        (pr >= _MIN_TONE_BIN)
        & (pc >= _MIN_TONE_BIN)
        & (pr + pc >= _PRE_FRAC_K * ew[wi])
    )
    pr, pc, kw = pr[k], pc[k], wi[k]
    r = np.argmax(pw[k, :4], axis=1)
    c = np.argmax(pw[k, 4:], axis=1)
    ebw = np.stack([eb[kw], eb[kw + 1], eb[kw + 2]])
    ok = (
        (pc >= _TWIST_LO * pr)
        & (pc <= _TWIST_HI * pr)
        & (ebw.min(axis=0) >= MIN_BLOCK_RATIO * ebw.max(axis=0))
    )
    k, r, c = k[ok], r[ok], c[ok]
    # Back to full window indexing, then spans: both windows agree on the same digit.
    full = np.full(nw, -1, dtype=np.int64)
    full[wi[k]] = 4 * r + c
    pos = np.full(nw, -1, dtype=np.int64)
    pos[wi[k]] = k
    s = np.flatnonzero((full[:-1] >= 0) & (full[:-1] == full[1:]))
    if s.size == 0:
        return codes
    a, b = pos[s], pos[s + 1]
    code = full[s]
    ri, ci = code // 4, 4 + code % 4
    keep = np.ones(s.size, dtype=bool)
    corr = []  # droop-corrected tone power per window: [(row_a, row_b), (col_a, col_b)]
    hz = []  # measured tone frequencies
    for fi in (ri, ci):
        # Phase advance between the two windows, minus the nominal advance: offset estimate.
        za = re[a, fi] + 1j * im[a, fi]
        zb = re[b, fi] + 1j * im[b, fi]
        z = zb * np.conj(za) * _HOP_ROT[fi]
        keep &= (z.real > 0.0) & (z.real * z.real >= _COS2_LIMIT[fi] * (z.real**2 + z.imag**2))
        ang = np.arctan2(z.imag, z.real)
        # Offset in bins of the window -> Hann main-lobe droop; undo it so the energy-fraction
        # test below does not depend on how far (within tolerance) the tone is off nominal.
        u = ang * (WIN_BLOCKS / (2.0 * np.pi))
        droop = (np.sinc(u) / (1.0 - u * u)) ** 2
        corr.append((pw[a, fi] / droop, pw[b, fi] / droop))
        hz.append(_FUND_HZ_ARR[fi] + ang * (SAMPLE_RATE / (2.0 * np.pi * BLOCK)))
    (ra, rb), (ca, cb) = corr
    keep &= ra + rb + ca + cb >= _FRAC_K * (ew[wi[a]] + ew[wi[b]])
    if not keep.any():
        return codes
    s, code, a, b = s[keep], code[keep], a[keep], b[keep]
    ra, rb, ca, cb = ra[keep], rb[keep], ca[keep], cb[keep]
    fr, fc = hz[0][keep], hz[1][keep]
    # Products a clean two-tone signal lacks (Q.23 keeps them >= 20 dB down) but voiced speech
    # has, because a speech "tone pair" is two harmonics k*f0, m*f0 of one voice: the third-order
    # intermodulation frequencies 2fr-fc, 2fc-fr and the column's second harmonic 2fc are then
    # harmonics of f0 too.  Measured at the tones' measured frequencies, for survivors only.
    # The row's second harmonic 2fr can sit within a bin of the column tone (2*697 vs 1336 Hz),
    # where the column tone's leakage would mask it; it is only tested when far enough away.
    probe = np.stack([np.abs(2.0 * fr - fc), 2.0 * fc - fr, 2.0 * fc, 2.0 * fr], axis=1)
    row_h = np.abs(2.0 * fr - fc) >= _HARM_GUARD_HZ
    ok = np.ones(s.size, dtype=bool)
    for w, pr_w, pc_w in ((wi[a], ra, ca), (wi[b], rb, cb)):
        pp = _probe_power(xi, w, probe)
        weaker = np.minimum(pr_w, pc_w)
        ok &= (pp[:, 0] <= _IM_RATIO * weaker) & (pp[:, 1] <= _IM_RATIO * weaker)
        ok &= pp[:, 2] <= _HARM_RATIO * pc_w
        ok &= ~row_h | (pp[:, 3] <= _HARM_RATIO * pr_w)
    codes[s[ok]] = code[ok]
    return codes


def _rows(xi: np.ndarray, xf: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """Blocks ``idx`` as float64 (from the converted array when there is one)."""
    return xf[idx] if xf is not None else xi[idx].astype(np.float64)


def _probe_power(xi: np.ndarray, w: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Hann-window power, on the basis scale of ``pw``, of windows ``w`` at per-window ``hz`` (n, k).

    ``xi``: the (nb, BLOCK) int16 blocks.

    A direct DFT (the frequencies differ per window); only used on the few surviving spans.
    Elementwise products and a last-axis sum keep it independent of how many rows there are.
    """
    blocks = xi[w[:, None] + np.arange(WIN_BLOCKS)[None, :]].astype(np.float64)
    seg = blocks.reshape(w.size, 1, WIN) * _HANN_Q
    ph = np.exp((-2j * np.pi / SAMPLE_RATE) * hz[:, :, None] * _M[None, None, :])
    v = np.sum(seg * ph, axis=-1)
    return v.real**2 + v.imag**2


def _run_machine(
    codes: np.ndarray, first_span: int, st: DtmfState
) -> tuple[list[tuple[int, int, str]], dict[str, int | str]]:
    """Duration state machine over span codes; returns (span, onset, digit) confirmations.

    Only hits are visited; runs of misses are applied in one step, so the cost is proportional
    to the number of distinct hit runs, not to the signal length.
    """
    cur, miss = st.cur, st.miss
    cand, cand_hits, cand_first, cand_last = st.cand, st.cand_hits, st.cand_first, st.cand_last
    out: list[tuple[int, int, str]] = []
    n = codes.size
    hits = np.flatnonzero(codes >= 0)
    pos = first_span  # next span not yet applied
    if hits.size:
        # Segments of consecutive equal codes.
        hc = codes[hits]
        brk = np.flatnonzero((np.diff(hits) != 1) | (np.diff(hc) != 0)) + 1
        starts = np.concatenate([[0], brk])
        ends = np.concatenate([brk, [hits.size]])
        for s0, e0 in zip(starts.tolist(), ends.tolist(), strict=True):
            j0 = first_span + int(hits[s0])
            length = e0 - s0
            d = DTMF_KEYS[int(hc[s0])]
            if cur:
                miss += j0 - pos
                if miss >= M_OFF:
                    cur = ""
            for i in range(length):
                j = j0 + i
                if cur == d:
                    # The digit is on and still present: nothing changes until the run ends.
                    miss = 0
                    break
                if cur:
                    miss += 1
                    if miss >= M_OFF:
                        cur = ""
                if cand == d and j - cand_last - 1 <= CAND_GAP:
                    cand_hits += 1
                else:
                    cand, cand_hits, cand_first = d, 1, j
                cand_last = j
                if not cur and cand_hits >= K_ON:
                    out.append((j, cand_first * BLOCK + ONSET_BIAS, d))
                    cur, miss = d, 0
                    cand, cand_hits, cand_last = "", 0, _NO_SPAN
            pos = j0 + length
    end = first_span + n
    if cur:
        miss += end - pos
        if miss >= M_OFF:
            cur = ""
    return out, {
        "cur": cur,
        "miss": miss if cur else 0,
        "cand": cand,
        "cand_hits": cand_hits,
        "cand_first": cand_first,
        "cand_last": cand_last,
    }


#: Controllers of the process's BLAS libraries, found at the first scan (numpy has loaded its
#: BLAS by then). Finding them costs about 0.5 ms, as much as a whole 10 s block's scan, so it
#: is done once (``threadpool_limits`` would do it on every call).
_BLAS_LIBS: list[Any] | None = None


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """A context in which BLAS runs on the calling thread only (the count is restored on exit).

    The detector's products are tall and thin ((n, 40) @ (40, 48)): OpenBLAS splits them over
    its worker threads, which on a 2-core machine shared with other work only fight over the
    cores (3-5x slower, docs/benchmarks.md). The limit is set here, around the products, rather
    than through an environment variable at import, so importing callsim changes nothing in the
    process and other BLAS users keep their threads. It reads and sets the libraries' thread
    counts directly (threadpoolctl's ``LibController``), skipping the set when every library
    already runs one thread: 1-3 us per scan, where a cached ``ThreadpoolController.limit``
    measured 3-4 times that (it also collects every library's info). The setting is
    process-wide while a scan runs; scans run on the simulation's one thread of control.
    """
    global _BLAS_LIBS
    if _BLAS_LIBS is None:
        # Imported here, not with this module: threadpoolctl sets KMP_DUPLICATE_LIB_OK in
        # os.environ when it is imported, and importing the recorder must change nothing.
        from threadpoolctl import ThreadpoolController

        _BLAS_LIBS = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    libs = _BLAS_LIBS
    saved = [lib.num_threads for lib in libs]
    if all(n == 1 for n in saved):
        yield
        return
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)


class DtmfDetector:
    """In-band DTMF detector at the ITU-T Q.24 (AT&T column) bar; see the module docstring."""

    def initial_state(self) -> DtmfState:
        """State before any audio: the detector has heard silence."""
        return DtmfState()

    def scan(self, frames: np.ndarray, state: DtmfState) -> tuple[list[DtmfEvent], DtmfState]:
        """Scan ``(n, 160)`` int16 frames after ``state``; return the digits confirmed and the new state.

        Pure: ``state`` is not modified.  Scanning a signal in any chunking of whole frames gives
        the same events (frame and onset re-expressed relative to each call's first frame).
        """
        a = np.asarray(frames)
        if a.dtype != np.int16:
            raise TypeError(f"frames must be int16, got {a.dtype}")
        if a.ndim != 2 or a.shape[1] != FRAME_SAMPLES:
            raise ValueError(f"frames must have shape (n, {FRAME_SAMPLES}), got {a.shape}")
        base = state.blocks_done * BLOCK  # absolute sample index of frames[0, 0]
        events: list[DtmfEvent] = []
        st = state
        with _one_blas_thread():
            for c0 in range(0, a.shape[0], _CHUNK_FRAMES):
                chunk = a[c0 : c0 + _CHUNK_FRAMES]
                new, st = self._scan_chunk(chunk, st)
                for span, onset, digit in new:
                    last_sample = (span + WIN_BLOCKS + 1) * BLOCK - 1
                    events.append(DtmfEvent((last_sample - base) // FRAME_SAMPLES, digit, onset - base))
        return events, st

    @staticmethod
    def _scan_chunk(
        chunk: np.ndarray, st: DtmfState
    ) -> tuple[list[tuple[int, int, str]], DtmfState]:
        carry = WIN_BLOCKS * BLOCK
        x = np.empty(carry + chunk.size, dtype=np.int16)
        x[:carry] = np.frombuffer(st.tail, dtype="<i2")
        x[carry:] = chunk.reshape(-1)
        codes = _span_codes(x.reshape(-1, BLOCK))
        first_span = st.blocks_done - WIN_BLOCKS
        out, m = _run_machine(codes, first_span, st)
        new_tail = chunk.reshape(-1)[-WIN_BLOCKS * BLOCK :].astype("<i2").tobytes()
        if chunk.shape[0] * FRAME_SAMPLES < WIN_BLOCKS * BLOCK:  # pragma: no cover - BLOCK*3 < 160
            raise AssertionError("a frame must hold at least one window of blocks")
        new = DtmfState(
            tail=new_tail,
            blocks_done=st.blocks_done + chunk.shape[0] * _BLOCKS_PER_FRAME,
            cur=str(m["cur"]),
            miss=int(m["miss"]),
            cand=str(m["cand"]),
            cand_hits=int(m["cand_hits"]),
            cand_first=int(m["cand_first"]),
            cand_last=int(m["cand_last"]),
        )
        return out, new


def detect_digits(
    samples: np.ndarray, detector: DtmfDetector | None = None
) -> list[tuple[int, str]]:
    """(onset sample, digit) for every digit in a 1-D int16 signal (convenience for tests).

    The signal is padded with zeros to whole frames plus one frame, so a digit that ends at the
    very end of the signal is still confirmed.
    """
    x = np.asarray(samples)
    if x.dtype != np.int16 or x.ndim != 1:
        raise TypeError("samples must be a 1-D int16 array")
    det = detector or DtmfDetector()
    n_frames = -(-x.size // FRAME_SAMPLES) + 1
    padded = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.int16)
    padded[: x.size] = x
    events, _ = det.scan(padded.reshape(n_frames, FRAME_SAMPLES), det.initial_state())
    return [(e.onset_sample, e.digit) for e in events]
