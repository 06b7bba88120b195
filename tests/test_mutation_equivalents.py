"""Mutants triaged *equivalent* in docs/conformance.md ("Mutation testing"), shown rather than argued.

Each test pins the fact that makes a surviving mutant equivalent, so the triage stays true as the
code changes.
"""

from __future__ import annotations

import math
import sys
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from callsim.contract.units import dbm0_to_rms
from recorder.filerecorder import FRAME, _Job
from recorder.resample import _ratio
from simulator.audio import dtmf_freqs

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@pytest.mark.parametrize("rate", [8000, 6000, 11000, 11025])
def test_size_frame_never_steps_back(rate: int) -> None:
    """``_Job._frames_for_samples`` is the smallest frame count whose output reaches the limit,
    and its second loop (stepping back) never runs: the first estimate is at or below the answer
    and the first loop stops at it. So the mutants of that loop's condition
    (``filerecorder.py:216``: ``&`` for ``*``, the unary minus deleted or made a plus) change
    nothing."""
    up, down = _ratio(rate)
    job = SimpleNamespace(resampler=SimpleNamespace(up=up, down=down))
    limits = list(range(0, 5000)) + [2**31 - 1 - k for k in range(0, 5000, 7)] + [10**6 + k for k in range(0, 5000, 3)]
    for limit in limits:
        want = 0 if limit <= 0 else ((limit - 1) * down) // (FRAME * up) + 1  # closed form
        f = (limit * down) // (FRAME * up)  # the first loop alone
        while -(-(f * FRAME * up) // down) < limit:
            f += 1
        assert _Job._frames_for_samples(job, limit) == f == want, limit
        # nor would the mutated conditions step back: ``&`` for ``*`` (first sample) and the
        # unary minus deleted (fresh sample)
        assert not (f > 0 and -(-((f - 1) & FRAME * up) // down) >= limit), limit
        assert not (f > 0 and -(((f - 1) * FRAME * up) // down) >= limit), limit
        # the inner minus made a plus (seed 1202): floor instead of ceiling, negative, never >= limit
        assert not (f > 0 and -(+((f - 1) * FRAME * up) // down) >= limit), limit


def test_ended_jobs_callbacks_are_inert() -> None:
    """A job's call-state and DTMF callbacks and its timer, left subscribed after the job ends
    (the mutant ``filerecorder.py:454``, ``for undo in []``), change nothing: each checks
    ``job.ended`` first. Shown on a recorder running five jobs with barge-in and timers, digits
    and a hold between and during them, and a hangup."""
    from recorder import FileRecorder
    from recorder.filerecorder import _Job as Job
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    class KeepsSubscriptions(FileRecorder):
        def _detach(self, job: Job) -> None:
            job.ended = True
            self._channel.remove_media_sink(job)
            self._unsubscribe = []

    s = (ScenarioBuilder(seed=3).speech(0, 9000, level_dbm0=-20).dtmf(1500, "1").dtmf(3200, "2").dtmf(5200, "3")
         .change(6000, "ON_HOLD").change(6400, "ANSWERED").hangup(8000)
         .record(filename="a.wav", barge_in=True, seconds_timeout=2, max_bytes=8000)
         .record(filename="b.wav", barge_in=True, seconds_timeout=1)
         .record(filename="c.wav", barge_in=True, seconds_timeout=3)
         .start(filename="d.wav", barge_in=True).wait_until_finished()
         .record(filename="e.wav", seconds_timeout=5)  # through the hold, ended by the hangup
         .build())
    ours, mutant = run_scenario(s, FileRecorder), run_scenario(s, KeepsSubscriptions)
    assert [st.returned for st in ours.steps] == ["SIZE", "BARGEIN", "BARGEIN", True, "BARGEIN", "HANGUP"]
    assert [(st.returned, st.raised) for st in mutant.steps] == [(st.returned, st.raised) for st in ours.steps]
    assert mutant.contents == ours.contents and mutant.final == ours.final


# -- mutants run on a corpus --------------------------------------------------------------------
# A mutant triaged equivalent because it changes speed or bookkeeping only is applied here to a
# copy of its module and run beside the original on a corpus chosen to reach the code it
# changes: identical outputs show the triage (for this corpus; the reason in
# mutation/triage.toml says why it holds in general).


def _mutated(module: ModuleType, before: str, after: str, *, within: str | None = None) -> ModuleType:
    """A fresh copy of ``module`` with the one line holding ``before`` changed to ``after``
    (the one inside the top-level function ``within`` when the line is written more than once)."""
    source = Path(module.__file__).read_text()
    text = source.splitlines()
    start, stop = 0, len(text)
    if within is not None:
        start = next(i for i, line in enumerate(text) if line.startswith(f"def {within}("))
        stop = next((i for i in range(start + 1, len(text)) if text[i][:1] not in ("", " ", "\t", ")")), len(text))
    lines = [i for i in range(start, stop) if text[i].strip() == before]
    assert len(lines) == 1, f"{before!r} is on {len(lines)} lines of {module.__name__}"
    text[lines[0]] = text[lines[0]].replace(before, after)
    copy = ModuleType(module.__name__ + "_mutant")
    copy.__dict__.update(__file__=module.__file__, __package__=module.__package__)
    sys.modules[copy.__name__] = copy  # dataclasses look their module up
    try:
        with warnings.catch_warnings():  # a mutant may compare with a literal by identity
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile("\n".join(text) + "\n", module.__file__, "exec")
        exec(code, copy.__dict__)
    finally:
        del sys.modules[copy.__name__]
    return copy


def _tones(f_lo: float, f_hi: float, ms: float, dbm0: float, twist_db: float = 0.0) -> np.ndarray:
    n = np.arange(int(ms * 8))
    a_lo = np.sqrt(2.0) * dbm0_to_rms(dbm0)
    a_hi = np.sqrt(2.0) * dbm0_to_rms(dbm0 + twist_db)
    return a_lo * np.sin(2 * np.pi * f_lo * n / 8000) + a_hi * np.sin(2 * np.pi * f_hi * n / 8000)


@cache
def _corpus() -> np.ndarray:
    """Speech in five languages (speech over digits too), every digit, and ITU-T Q.24's edges:
    frequency offsets, short tones, low levels, twist, 10 ms interruptions, 40 ms pauses, noise."""
    rng = np.random.default_rng(1202)
    speech = [sf.read(p, dtype="float64")[0] * 32767 for p in sorted(AUDIO.glob("speech_*.wav"))]
    parts: list[np.ndarray] = [np.concatenate(speech)]
    gap = np.zeros(400)
    for k, d in enumerate("123A456B789C*0#D"):
        lo, hi = dtmf_freqs(d)
        parts += [_tones(lo, hi, 45, -10.0), gap]
        for off in (-3.5, -2.5, -1.5, 1.5, 2.5, 3.5):
            parts += [_tones(lo * (1 + off / 100), hi * (1 + off / 100), 45, -20.0), gap]
        for ms, level, twist in ((20, -10, 0), (23, -10, 0), (30, -10, 0), (40, -25, 0), (45, -35, 0),
                                 (45, -45, 0), (45, -55, 0), (45, -25, 4), (45, -10, -8), (45, -10, 6),
                                 (45, -10, -10), (60, -10, 8)):
            parts += [_tones(lo, hi, ms, level, twist), gap]
        tone = _tones(lo, hi, 100, -15.0)
        parts += [tone[:400], np.zeros(80), tone[480:], gap]  # a 10 ms interruption
        parts += [tone[:400], np.zeros(320), tone[400:], gap]  # a 40 ms pause
        words = speech[k % len(speech)][:4000]
        parts += [words + np.concatenate([np.zeros(1000), _tones(lo, hi, 80, -20.0), np.zeros(2360)]), gap]
    parts.append(rng.normal(0.0, dbm0_to_rms(-30.0), 16000))
    x = np.concatenate(parts)
    x = np.concatenate([x, np.zeros(-x.size % 160)])
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _loud() -> np.ndarray:
    """One second of a 997 Hz sine at 1.5 times full scale, clipped: every cycle clips."""
    x = 1.5 * 32767 * np.sin(2 * np.pi * 997 * np.arange(8000) / 8000)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _digits(detect: ModuleType, chunk_frames: int) -> list[tuple[int, str, int]]:
    frames = _corpus().reshape(-1, 160)
    det = detect.DtmfDetector()
    state = det.initial_state()
    out = []
    for c0 in range(0, frames.shape[0], chunk_frames):
        events, state = det.scan(frames[c0 : c0 + chunk_frames], state)
        out += [(c0 + e.frame, e.digit, c0 * 160 + e.onset_sample) for e in events]
    return out


@pytest.mark.parametrize("before, after", [
    # the float32 pre-filter loosened or its margin changed: it keeps a superset of the windows
    # for the exact tests, which decide alone
    ("pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pc_hi = (np.sqrt(pc.astype(np.float64)) * ( 2.0 + 1e-6) + delta) ** 2"),
    ("pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 ** 1e-6) + delta) ** 2"),
    ("ok = gate & (pr_hi >= _MIN_TONE_BIN) & (pc_hi >= _MIN_TONE_BIN)",
     "ok = gate & (pr_hi >= _MIN_TONE_BIN) & (pc_hi is not _MIN_TONE_BIN)"),
    ("ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))",
     "ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1.0001))"),
    ("ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))",
     "ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew + (1.0 - 1e-4))"),
    # bookkeeping: a run's remaining iterations take the same branch; a size is never negative;
    # the first block's absolute index only shifts every index and the base alike
    ("break", "continue"),
    ("if wi.size == 0:", "if wi.size <= 0:"),
    ("blocks_done: int = 0", "blocks_done: int = 1"),
    ("& (pc <= _TWIST_HI * pr)", "& (pc < _TWIST_HI * pr)"),
    ("_NO_SPAN = -(10**18)", "_NO_SPAN = -( 9**18)"),
    # a span of two windows with no candidate points both of its ends at one window: the phase
    # advance between a window and itself is not a tone's, so no code is kept
    ("s = np.flatnonzero((full[:-1] >= 0) & (full[:-1] == full[1:]))",
     "s = np.flatnonzero((full[:-1] >= -1) & (full[:-1] == full[1:]))"),
    # seed 31: the pre-filter's energy margin and fraction threshold loosened, the window gate
    # raised 1.8 dB (still under the weakest pair Q.24 accepts), the early return skipped
    ("ew_hi = ew * (1.0 + 1e-4)", "ew_hi = ew * (1.0 + 1.0001)"),
    ("ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))",
     "ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * ( 0.0 - 1e-4))"),
    ("ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))",
     "ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew ** (1.0 - 1e-4))"),
    ("_GATE_ENERGY = 0.5 * 2.0 * WIN * DBM0_RMS**2 * 10.0 ** (MIN_TONE_DBM0 / 10.0)",
     "_GATE_ENERGY = 0.5 * 3.0 * WIN * DBM0_RMS**2 * 10.0 ** (MIN_TONE_DBM0 / 10.0)"),
    ("if s.size == 0:", "if s.size == -1:"),
    # seed 1203: the third block's rows sliced one past the end (y has exactly nw + 2 rows, so
    # the slice is the same); the window-position sentinel (read only where it was overwritten)
    ("z += y[2 : nw + 2, 2 * nf2 :]", "z += y[2 : nw + 3, 2 * nf2 :]"),
    ("pos = np.full(nw, -1, dtype=np.int64)", "pos = np.full(nw, not 1, dtype=np.int64)"),
    # seed 2718: the internal chunk one frame shorter (scanning is the same in any chunking; the
    # whole corpus at once crosses it); a state field's default that is written before it is read;
    # the third block energy sliced to nw ^ 2 (nw is a multiple of 4 there, so nw + 2); the
    # float32 pre-cut's margins shrunk or grown, one comparison made strict, the fraction test
    # always true (the exact float64 tests decide alone); the whole-chunk float64 copy taken
    # only when exactly 1/8 of the windows are needed (per block otherwise: same values)
    ("_CHUNK_FRAMES = 2048  # internal processing chunk (bounded memory, cache friendly)",
     "_CHUNK_FRAMES = 2047  # internal processing chunk (bounded memory, cache friendly)"),
    ("cand_first: int = 0", "cand_first: int = 1"),
    ("ew = (eb[:nw] + eb[1 : nw + 1] + eb[2 : nw + 2]).astype(np.float64)",
     "ew = (eb[:nw] + eb[1 : nw + 1] + eb[2 : nw ^ 2]).astype(np.float64)"),
    ("delta = 1.5e-5 * _Q * np.sqrt(WIN * ew_hi)", "delta = 1.5e-5 * _Q / np.sqrt(WIN * ew_hi)"),
    ("pr_hi = (np.sqrt(pr.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pr_hi = (np.sqrt(pr.astype(np.float64)) * (1.0 + 1e-6) * delta) ** 2"),
    ("ok = gate & (pr_hi >= _MIN_TONE_BIN) & (pc_hi >= _MIN_TONE_BIN)",
     "ok = gate & (pr_hi >= _MIN_TONE_BIN) & (pc_hi > _MIN_TONE_BIN)"),
    ("ok &= pr_hi + pc_hi >= _PRE_FRAC_K * (ew * (1.0 - 1e-4))",
     "ok &= pr_hi + pc_hi is not _PRE_FRAC_K * (ew * (1.0 - 1e-4))"),
    ("xf = xi.astype(np.float64) if wi.size * 8 > nw else None",
     "xf = xi.astype(np.float64) if wi.size * 8 == nw else None"),
    # seed 909: the pre-cut's gate always true, its row margin doubled, its column margin
    # multiplied (the superset argument again: the exact float64 tests decide alone)
    ("gate = ew_hi >= _GATE_ENERGY", "gate = ew_hi != _GATE_ENERGY"),
    ("pr_hi = (np.sqrt(pr.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pr_hi = (np.sqrt(pr.astype(np.float64)) * ( 2.0 + 1e-6) + delta) ** 2"),
    ("pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) * delta) ** 2"),
    # seed 4096: the pre-cut's column margin raised to a power instead of multiplied (the 1e-6
    # relative margin all but gone; the absolute one, delta, stays); the exact row test made
    # strict (equality with the float threshold never occurs)
    ("pc_hi = (np.sqrt(pc.astype(np.float64)) * (1.0 + 1e-6) + delta) ** 2",
     "pc_hi = (np.sqrt(pc.astype(np.float64)) ** (1.0 + 1e-6) + delta) ** 2"),
    ("(pr >= _MIN_TONE_BIN)", "(pr > _MIN_TONE_BIN)"),
    # seed 7: the span codes' and window positions' "none" sentinels -2 and 0 (only codes >= 0
    # and positions of kept windows are read); the exact block energies for one block more (a
    # superset) or from the window's first block (the block before it is not read by the tests
    # that decide); the whole-chunk float64 copy taken when few windows are needed (the same
    # values); the exact lower-twist test made strict (equality never occurs)
    ("codes = np.full(ns, -1, dtype=np.int64)", "codes = np.full(ns, - 2, dtype=np.int64)"),
    ("pos = np.full(nw, -1, dtype=np.int64)", "pos = np.full(nw, - 0, dtype=np.int64)"),
    ("blk = np.unique(np.clip(wl[:, None] + np.arange(-1, WIN_BLOCKS + 1)[None, :], 0, nb - 1))",
     "blk = np.unique(np.clip(wl[:, None] + np.arange(-1, WIN_BLOCKS + 2)[None, :], 0, nb - 1))"),
    ("blk = np.unique(np.clip(wl[:, None] + np.arange(-1, WIN_BLOCKS + 1)[None, :], 0, nb - 1))",
     "blk = np.unique(np.clip(wl[:, None] + np.arange(not 1, WIN_BLOCKS + 1)[None, :], 0, nb - 1))"),
    ("xf = xi.astype(np.float64) if wi.size * 8 > nw else None",
     "xf = xi.astype(np.float64) if wi.size * 8 <= nw else None"),
    ("(pc >= _TWIST_LO * pr)", "(pc > _TWIST_LO * pr)"),
    # seed 5: the pre-cut's margin negative (squared, it only grows: a superset); one span
    # returned early as none (no digit is confirmed from one span: K_ON needs three, and the
    # next call rescans it with the carried tail); the span gates multiplied instead of and-ed
    # (the same booleans); the windows' code sentinel +1 (only kept windows are read); the
    # carried tail reshaped to ~1 (-2: numpy takes any negative size as "the rest")
    ("delta = 1.5e-5 * _Q * np.sqrt(WIN * ew_hi)", "delta = -0.999985 * _Q * np.sqrt(WIN * ew_hi)"),
    ("if ns <= 0:", "if ns <= 1:"),
    ("span_ok = gate[:-1] & gate[1:]", "span_ok = gate[:-1] * gate[1:]"),
    ("full = np.full(nw, -1, dtype=np.int64)", "full = np.full(nw, +1, dtype=np.int64)"),
    ("x[carry:] = chunk.reshape(-1)", "x[carry:] = chunk.reshape(~1)"),
])  # fmt: skip
def test_detector_mutants_give_the_same_digits(before: str, after: str) -> None:
    import recorder.detect as detect

    want = _digits(detect, 7)
    assert len(want) >= 16 * 8  # the corpus reaches the detector's decisions
    mutant = _mutated(detect, before, after)
    with np.errstate(divide="ignore"):  # a mutated margin may divide by a silent window's 0
        assert _digits(mutant, 7) == want
        assert _digits(mutant, 1) == want
        assert _digits(mutant, 10**6) == want  # the whole corpus in one scan


def test_detector_chunk_loop_mutant_within_the_recorders_blocks() -> None:
    """The chunk loop bounded by ``a.shape[-1]`` (160) instead of the frame count (seed 1203):
    one chunk of up to 2048 frames either way, and the recorder never scans more than the
    simulator's largest media block (500 frames) or its pre-roll at once. (Scanning more frames
    at once does tell them apart: the whole corpus is 3 290 frames.)"""
    import recorder.detect as detect
    from recorder.filerecorder import PREROLL_FRAMES
    from simulator.clock import MAX_BLOCK_FRAMES

    assert max(MAX_BLOCK_FRAMES, PREROLL_FRAMES) <= detect._CHUNK_FRAMES
    mutant = _mutated(detect, "for c0 in range(0, a.shape[0], _CHUNK_FRAMES):",
                      "for c0 in range(0, a.shape[ -1], _CHUNK_FRAMES):")
    for chunk in (1, 7, MAX_BLOCK_FRAMES):
        assert _digits(mutant, chunk) == _digits(detect, chunk)


@pytest.mark.parametrize("before, after", [
    # the polyphase super-row size, the near-half tolerance, the window's retained input
    ("self.R = max(1, -(-256 // down))  # super-row: S >= 256 inputs keeps products long",
     "self.R = max(1, +(-256 // down))  # super-row: S >= 256 inputs keeps products long"),
    ("self.tol = 64.0 * (width + self.J) * 2.0**-53 * 32768.0 * phase_sum",
     "self.tol = 64.0 * (width + self.J) * 2.0**-53 * 32769.0 * phase_sum"),
    ("m_min = max(0, math.ceil((self._next * self.down - (self._h.size - 1)) / self.up))",
     "m_min = max(0, math.ceil((self._next * self.down - (self._h.size - 0)) / self.up))"),
    # the retained input never trimmed (memory only); outputs held back until the flush (the same
    # file, written at the end); the flush's zero padding rounded up to odd (_Polyphase pads its
    # own window with zeros)
    ("if new_base > self._base:", "if not new_base > self._base:"),
    ("return self._emit(-(-self._total * self.up // self.down))",
     "return self._emit(-(not self._total * self.up // self.down))"),
    ("need_total = ((end - 1) * self.down) // self.up + 1", "need_total = ((end - 1) * self.down) // self.up | 1"),
    # seed 31: the tolerance's width and scale (which near-half outputs are recomputed exactly),
    # a right padding that may be -1 (max(-1, ...) where it is never negative), the clip applied
    # to every block (clipping in range changes nothing)
    ("width = max(width, hi - lo + 1)", "width = max(width, hi - lo & 1)"),
    ("self.tol = 64.0 * (width + self.J) * 2.0**-53 * 32768.0 * phase_sum",
     "self.tol = 64.0 * (width + self.J) * 2.0**-53 * 32768.0 + phase_sum"),
    ("right = max(0, (t1 + 1) * self.S + pad - (pad + x.size))",
     "right = max( -1, (t1 + 1) * self.S + pad - (pad + x.size))"),
    ("if r.size and (r.min() < -32768.0 or r.max() > 32767.0):",
     "if r.size and (r.min() < -32768.0 or r.max() < 32767.0):"),
    # seed 1203: an empty group of outputs stops the table's construction (no rate has one); a
    # BLAS row count of 0 (no table is big enough to give 0); the flush's zero padding shorter, or
    # one sample longer (upfirdn and _Polyphase read zeros past the input anyway)
    ("continue", "break"),
    ("rows = max(1, _BLAS_SERIAL_MNK // mat.size)", "rows = max( 0, _BLAS_SERIAL_MNK // mat.size)"),
    ("need_total = ((end - 1) * self.down) // self.up + 1", "need_total = ((end - 1) // self.down) // self.up + 1"),
    ("pad = max(0, need_total - (self._base + self._buf.size))", "pad = max( 1, need_total - (self._base + self._buf.size))"),
    # seed 909: the taps made writable (a guard only); a width starting at -1 (the near-half
    # tolerance a little tighter: more outputs recomputed exactly);
    # a right padding of at least 1 (one more zero past the window, read by no output); a BLAS
    # row count of at least 2 (speed only); the flush's padding one sample shorter (the window
    # reads zeros past the input anyway)
    ("taps.setflags(write=False)", "taps.setflags(write=True)"),
    ("width = 0", "width = -1"),
    ("right = max(0, (t1 + 1) * self.S + pad - (pad + x.size))",
     "right = max( 1, (t1 + 1) * self.S + pad - (pad + x.size))"),
    ("rows = max(1, _BLAS_SERIAL_MNK // mat.size)", "rows = max( 2, _BLAS_SERIAL_MNK // mat.size)"),
    ("need_total = ((end - 1) * self.down) // self.up + 1", "need_total = ((end - 1) * self.down) // self.up + 0"),
    # seed 4096: half the filter's length as (size - 0) // 2: the taps are always odd in number
    ("half_len = (taps.size - 1) // 2", "half_len = (taps.size - 0) // 2"),
    # seed 7: no BLAS serial products (rows of 1: speed only); the window's right padding
    # computed short (zeros the outputs never read); near-half outputs recomputed exactly only
    # when there are none (the rounding of an exact .5 may differ); every block clipped (clipping
    # in range changes nothing)
    ("_BLAS_SERIAL_MNK = 4 * 65536 - 1", "_BLAS_SERIAL_MNK = 4 * 65536 & 1"),
    ("right = max(0, (t1 + 1) * self.S + pad - (pad + x.size))",
     "right = max(0, (t1 + 1) * self.S - pad - (pad + x.size))"),
    ("if near.any():", "if not near.any():"),
    ("if r.size and (r.min() < -32768.0 or r.max() > 32767.0):",
     "if r.size and (r.min() is not -32768.0 or r.max() > 32767.0):"),
    # seed 5: other BLAS serial thresholds (speed only); a super-row from 255 inputs (the same
    # row counts at every rate); fewer output groups (a wider tolerance width: more outputs
    # recomputed exactly); the retained input trimmed whenever the base moves (it only grows)
    ("_BLAS_SERIAL_MNK = 4 * 65536 - 1", "_BLAS_SERIAL_MNK = 3 * 65536 - 1"),
    ("_BLAS_SERIAL_MNK = 4 * 65536 - 1", "_BLAS_SERIAL_MNK = 4 / 65536 - 1"),
    ("self.R = max(1, -(-256 // down))  # super-row: S >= 256 inputs keeps products long",
     "self.R = max(1, -(- 255 // down))  # super-row: S >= 256 inputs keeps products long"),
    ("n_groups = max(1, self.S // (2 * self.J))", "n_groups = max(1, self.S // ( 3 * self.J))"),
    ("if new_base > self._base:", "if new_base != self._base:"),
])  # fmt: skip
@pytest.mark.parametrize("rate", [6000, 11000, 11025])
def test_resampler_mutants_give_the_same_samples(before: str, after: str, rate: int) -> None:
    import recorder.resample as resample

    x = np.concatenate([_corpus()[: 8000 * 30], _loud()])

    def run(mod: ModuleType) -> np.ndarray:
        r = mod.StreamResampler(rate)
        return np.concatenate([r.process(x[i : i + 160]) for i in range(0, x.size, 160)] + [r.flush()])

    want = run(resample)
    assert want.size == resample.output_length(rate, x.size)
    np.testing.assert_array_equal(run(_mutated(resample, before, after)), want)


def _pair(d: str, ms: float, lo_db: float, hi_db: float, lo_off: float = 0.0, hi_off: float = 0.0,
          lead: int = 0) -> np.ndarray:
    lo, hi = dtmf_freqs(d)
    return np.concatenate([np.zeros(lead), _tones(lo * (1 + lo_off / 100), hi * (1 + hi_off / 100), ms, lo_db,
                                                  hi_db - lo_db)])


@cache
def _decided() -> tuple[np.ndarray, tuple[tuple[int, int], ...], tuple[tuple[str, ...], ...]]:
    """Digit material whose outcome the text or ITU-T Q.24 decides, each item followed by 400 ms
    of silence: the signal, each item's span, and the digits each must give. Four digits cover
    every row and column, at five sub-block alignments: clean digits (45 ms -10 dBm0, 40 ms
    -25 dBm0, 100 ms -3 dBm0, twist -6 and +3 dB, 1 % off), Q.24's acceptance edges and the eight
    corners of its box (one digit each), what it rejects (3.5 % off, 20 and 23 ms, -55 dBm0:
    none), a 10 ms drop (bridged: one digit) and pauses of 40, 50 and 80 ms (two digits)."""
    items: list[tuple[np.ndarray, tuple[str, ...]]] = []
    for i, d in enumerate("159D"):
        for a in range(0, 40, 8):
            one = (d,)
            items += [(_pair(d, 45, -10, -10, lead=a), one), (_pair(d, 40, -25, -25, lead=a), one),
                      (_pair(d, 100, -3, -3, lead=a), one), (_pair(d, 45, -10, -16, lead=a), one),
                      (_pair(d, 45, -10, -7, lead=a), one), (_pair(d, 45, -10, -10, 1.0, 1.0, lead=a), one),
                      (_pair(d, 45, -10, -10, -1.0, -1.0, lead=a), one), (_pair(d, 45, -25, -21, lead=a), one),
                      (_pair(d, 45, -10, -18, lead=a), one)]
            items += [(_pair(d, 40, -25, -21, lo, hi, lead=a), one) for lo in (-1.5, 1.5) for hi in (-1.5, 1.5)]
            items += [(_pair(d, 40, -17, -25, lo, hi, lead=a), one) for lo in (-1.5, 1.5) for hi in (-1.5, 1.5)]
            items += [(_pair(d, 60, -10, -10, 3.5, 3.5, lead=a), ()), (_pair(d, 60, -10, -10, -3.5, -3.5, lead=a), ()),
                      (_pair(d, 60, -10, -10, 0.0, 3.5, lead=a), ()), (_pair(d, 20, -10, -10, lead=a), ()),
                      (_pair(d, 23, -10, -10, lead=a), ()), (_pair(d, 60, -55, -55, lead=a), ())]
            t = _pair(d, 120, -15, -15)
            items.append((np.concatenate([np.zeros(a + 8 * i), t[:480], np.zeros(80), t[560:]]), one))
            items += [(np.concatenate([np.zeros(a), t[:480], np.zeros(8 * p), t[480:]]), (d, d)) for p in (40, 50, 80)]
    parts, spans, pos = [], [], 0
    for x, _ in items:
        parts += [x, np.zeros(3200)]
        spans.append((pos, pos + x.size))
        pos += x.size + 3200
    sig = np.concatenate(parts)
    sig = np.concatenate([sig, np.zeros(-sig.size % 160)])
    return (np.clip(np.round(sig), -32768, 32767).astype(np.int16), tuple(spans), tuple(e for _, e in items))


def _decided_outcomes(detect: ModuleType, chunk_frames: int) -> list[tuple[str, ...]]:
    sig, spans, _ = _decided()
    frames = sig.reshape(-1, 160)
    det = detect.DtmfDetector()
    state = det.initial_state()
    got: list[list[str]] = [[] for _ in spans]
    for c0 in range(0, frames.shape[0], chunk_frames):
        events, state = det.scan(frames[c0 : c0 + chunk_frames], state)
        for e in events:
            onset = c0 * 160 + e.onset_sample
            k = max([i for i, (a, _b) in enumerate(spans) if a - 40 <= onset] or [0])  # onsets: +-3 ms
            got[k].append(e.digit)
    return [tuple(g) for g in got]


def _undecided_gaps() -> list[tuple[str, str]]:
    import tomllib

    table = tomllib.loads((Path(__file__).resolve().parents[1] / "mutation" / "triage.toml").read_text())
    return [(m["before"], m["after"]) for m in table["mutant"]
            if m.get("undecided") and m["module"] == "recorder/detect.py"]


@pytest.mark.parametrize("before, after", _undecided_gaps())
def test_detector_gaps_decide_every_decided_digit_alike(before: str, after: str) -> None:
    """The detector gaps triaged *undecided* in mutation/triage.toml change the detector only
    where neither the text nor ITU-T Q.24 decides: on every item of the decided corpus, scanned
    one frame at a time, in 7-frame chunks and in the recorder's largest blocks (500 frames), the
    mutant gives the digits the original gives, which are the digits Q.24 asks for."""
    import recorder.detect as detect

    _sig, _spans, want = _decided()
    mutant = _mutated(detect, before, after)
    for chunk in (1, 7, 500):
        original = _decided_outcomes(detect, chunk)
        assert original == list(want), [(i, w, g) for i, (w, g) in enumerate(zip(want, original, strict=True)) if w != g][:5]
        with np.errstate(all="ignore"):
            got = _decided_outcomes(mutant, chunk)
        assert got == original, [(i, w, g) for i, (w, g) in enumerate(zip(original, got, strict=True)) if w != g][:5]


def test_dtmf_pre_gate_never_decides_a_q24_edge() -> None:
    """The detector's window pre-gate (``_GATE_ENERGY``) cannot move a digit across an edge the
    suite grades (docs/dsp.md, "Talk-off"): the weakest pair Q.24 accepts (-25 dBm0 with 8 dB of
    twist, the weaker tone at -33) has window energy above the gate raised as the mutant
    ``MIN_TONE_DBM0 / 11.0`` raises it, and what Q.24 rejects on level (-55 dBm0) is rejected by
    the per-tone bin test (``_MIN_TONE_BIN``, -36 dBm0) whatever the gate (the mutant
    ``10.0 * (...)`` removes it). Only tones in Q.24's gray zone (below -32.7 dBm0 in total)
    could tell the gates apart."""
    from recorder import detect

    weakest = detect.WIN * detect.DBM0_RMS**2 * (10 ** (-25 / 10) + 10 ** (-33 / 10))
    mutant_gate = 0.5 * 2.0 * detect.WIN * detect.DBM0_RMS**2 * 10.0 ** (detect.MIN_TONE_DBM0 / 11.0)
    assert weakest > mutant_gate > detect._GATE_ENERGY
    # a -55 dBm0 tone's bin power: P * BIN_PER_POWER with P its mean square
    rejected = detect.DBM0_RMS**2 * 10 ** (-55 / 10) * detect._BIN_PER_POWER
    assert rejected < detect._MIN_TONE_BIN
    assert 10 * math.log10(weakest / mutant_gate) > 0.0


def test_codec_table_mutants_give_the_same_tables() -> None:
    """A-law's shift capped at 8 instead of 7 (seed 31): only segment 8 could use it, and that
    segment's code is replaced by 0x7F on the next line (seed 1203: no value reaches segment 8
    at all); OKI's top step index written
    ``len ^ 1`` (seed 31): 49 ^ 1 is 48, ``len - 1``."""
    import recorder.g711 as g711
    import recorder.oki as oki

    mutant = _mutated(g711, "code = (np.minimum(seg, 7) << 4) | ((mag >> np.minimum(shift, 7)) & 0x0F)",
                      "code = (np.minimum(seg, 7) << 4) | ((mag >> np.minimum(shift, 8)) & 0x0F)")
    np.testing.assert_array_equal(mutant.alaw_table(), g711.alaw_table())
    # seed 1203: A-law's magnitude ends at 0xFFF, the last segment's end, so no value reaches
    # segment 8 (the segment cap 7 -> 8 and that segment's code 0x7F -> 126 never apply), and
    # segment 1 shifts by 1 whether "seg < 2" or "seg < 1" picks it
    for before, after in (("code = np.where(seg >= 8, 0x7F, code)", "code = np.where(seg >= 8, 126, code)"),
                          ("code = np.where(seg >= 8, 0x7F, code)", "code = np.where(seg >= 8, 128, code)"),
                          ("code = (np.minimum(seg, 7) << 4) | ((mag >> np.minimum(shift, 7)) & 0x0F)",
                           "code = (np.minimum(seg, 8) << 4) | ((mag >> np.minimum(shift, 7)) & 0x0F)"),
                          ("shift = np.where(seg < 2, 1, seg)", "shift = np.where(seg < 1, 1, seg)")):
        mutant = _mutated(g711, before, after, within="alaw_table")
        np.testing.assert_array_equal(mutant.alaw_table(), g711.alaw_table())
    # seed 2718: mu-law's sign test "v < 1" makes inputs 0..3 negative zero (0x7F) instead of
    # positive zero (0xFF): other bytes, both G.711 codes of zero, so every decoder (the suite's
    # own included) reads the same samples
    from conformance.decoders import ULAW_TABLE

    mutant = _mutated(g711, "neg = v < 0", "neg = v < 1", within="ulaw_table")
    changed = np.flatnonzero(mutant.ulaw_table() != g711.ulaw_table())
    assert changed.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(ULAW_TABLE[mutant.ulaw_table()], ULAW_TABLE[g711.ulaw_table()])
    assert len(oki.OKI_STEPS) ^ 1 == len(oki.OKI_STEPS) - 1 == oki._TOP
    # seed 909: mu-law's magnitude clipped at 8158 (the same top code); negative magnitudes as ~v,
    # ITU-T G.191's one's complement: codes change only on decision boundaries, and no decoded
    # sample moves further from its input (another valid encoder, not a defect)
    mutant = _mutated(g711, "mag = np.minimum(np.where(neg, -v, v), 8159) + 33",
                      "mag = np.minimum(np.where(neg, -v, v), 8158) + 33", within="ulaw_table")
    np.testing.assert_array_equal(mutant.ulaw_table(), g711.ulaw_table())
    mutant = _mutated(g711, "mag = np.minimum(np.where(neg, -v, v), 8159) + 33",
                      "mag = np.minimum(np.where(neg, ~v, v), 8159) + 33", within="ulaw_table")
    x = np.arange(65536).astype(np.uint16).view(np.int16).astype(np.int64)
    ours = np.abs(ULAW_TABLE[g711.ulaw_table()].astype(np.int64) - x)
    theirs = np.abs(ULAW_TABLE[mutant.ulaw_table()].astype(np.int64) - x)
    assert 0 < np.count_nonzero(mutant.ulaw_table() != g711.ulaw_table()) < 1000
    assert (theirs <= ours).all()
    # seed 5: mu-law's last segment ending at 8190 instead of 0x1FFF (the clipped magnitude
    # 8192 is past both); A-law's segment and mantissa joined by ^ instead of | (no shared bits)
    mutant = _mutated(g711, "_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)",
                      "_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 8190], dtype=np.int32)")
    np.testing.assert_array_equal(mutant.ulaw_table(), g711.ulaw_table())
    mutant = _mutated(g711, "code = (np.minimum(seg, 7) << 4) | ((mag >> np.minimum(shift, 7)) & 0x0F)",
                      "code = (np.minimum(seg, 7) << 4) ^ ((mag >> np.minimum(shift, 7)) & 0x0F)", within="alaw_table")
    np.testing.assert_array_equal(mutant.alaw_table(), g711.alaw_table())
    # seed 4096: mu-law's sign test "v < -1": inputs -4..-1 take the code of zero (decoded 0, an
    # error of 1 to 4) instead of the smallest negative step (decoded -8, an error of 4 to 7):
    # both within the first quantisation step, the mutant's even closer
    mutant = _mutated(g711, "neg = v < 0", "neg = v < -1", within="ulaw_table")
    changed = np.flatnonzero(mutant.ulaw_table() != g711.ulaw_table())
    assert x[changed].tolist() == [-4, -3, -2, -1]
    theirs = np.abs(ULAW_TABLE[mutant.ulaw_table()].astype(np.int64) - x)
    assert (theirs[changed] <= ours[changed]).all() and (ours[changed] <= 8).all()


def test_oki_safe_limit_mutant_gives_the_same_codes() -> None:
    """Seed 4096: OKI_SAFE_LIMIT computed with << 3 (negative): every sample takes the careful
    path that checks for clipping, which gives the codes the fast path gives where no code can
    clip (speed only). Seed 7: the saturation-safe search's starting magnitude."""
    import recorder.oki as oki

    x = np.concatenate([_corpus()[: 8000 * 20], _loud()])
    want = oki.OkiEncoder()
    codes = want.encode(x) + want.flush()
    mutant = _mutated(oki, "OKI_SAFE_LIMIT = _MAX - (OKI_STEPS[-1] >> 3)  # 1853",
                      "OKI_SAFE_LIMIT = _MAX - (OKI_STEPS[-1] << 3)  # 1853")
    assert mutant.OKI_SAFE_LIMIT < 0
    got = mutant.OkiEncoder()
    assert got.encode(x) + got.flush() == codes
    # seed 7: the saturation-safe search started from magnitude 7 (code | 7) instead of the
    # nearest code's: every magnitude above the nearest code's clips further, so the search ends
    # on the same code; the loud sine clips on every cycle
    mutant = _mutated(oki, "sign, mag = code & 8, code & 7", "sign, mag = code & 8, code | 7")
    got = mutant.OkiEncoder()
    assert got.encode(x) + got.flush() == codes


@pytest.mark.parametrize("fmt", ["alaw", "ulaw", "s16bit", "u8bit", "ima", "oki"])
def test_empty_block_encodes_to_nothing(fmt: str) -> None:
    """Seed 909: a block that finds the size limit reached (room 0) encoded as zero samples
    instead of skipped: every encoder gives no bytes for it and goes on as if it had not been
    called (the recorder's _store drops empty data)."""
    from recorder.codecs import make_encoder

    x = _corpus()[:8000]
    a, b = make_encoder(fmt), make_encoder(fmt)
    out_a = a.encode(x[:1234]) + a.encode(x[1234:]) + a.flush()
    first = b.encode(x[:1234])
    assert b.encode(np.zeros(0, np.int16)) == b""
    assert first + b.encode(x[1234:]) + b.flush() == out_a
