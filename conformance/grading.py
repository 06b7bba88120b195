"""Grade one scenario run against the oracle: steps, final state, files, post-conditions.

``grade_scenario(scenario, factory)`` runs the scenario with the implementation under test,
asks the oracle (``conformance.model``) what every reading of the spec allows, and turns each
difference into a ``Finding``: outside what any reading allows is FAIL (the text's clause),
allowed by some reading but not ours is NON-STRICT (our decision's clause, and the readings that
explain the behaviour as evidence). Files are read with the suite's own WAV reader and decoders
(``conformance.wavread``, ``conformance.decoders``) and compared with the far-end audio the
scenario describes; the implementation is never asked to describe its output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from callsim.contract import Cipher
from simulator.build import build_audio
from simulator.runner import RunResult, run_scenario
from simulator.scenario import Scenario
from simulator.store import StoreWrite

from .decoders import decode_wav
from .grades import Finding, Grade
from .model import FRAME, OURS, JobOutcome, Reading, ScriptOutcome, predict
from .wavread import WavFormatError, check_wav

__all__ = ["grade_scenario", "PlaintextSpy", "CAUSE_CLAUSE"]

CAUSE_CLAUSE = {
    "SILENCE": "SPEC-SILENCE", "SIZE": "SPEC-SIZE", "TIMEOUT": "SPEC-RECORD-TIMEOUT",
    "BARGEIN": "SPEC-BARGEIN", "HANGUP": "SPEC-HANGUP-CAUSE", "ABORTED": "SPEC-STOP",
    "ERROR": "SPEC-STATE-ERROR", "NONE": "SPEC-CAUSE-FN",
}
STEP_CLAUSE = {
    "record": "SPEC-RECORD", "start": "SPEC-START", "stop": "SPEC-STOP", "wait_until_finished": "SPEC-WAIT",
    "state": "SPEC-STATE-FN", "cause": "SPEC-CAUSE-FN", "audio_detected_in_recording": "SPEC-AUDIO",
}
FLAG_DECISION = {
    "aligned_start": "SD-START", "unsure_is_audio": "SD-SILENCE", "leading_silence_counts": "SD-INITIAL-SILENCE",
    "frame_limits_first": "SD-TIES", "size_before_silence": "SD-TIES", "early_dtmf": "SD-DTMF-FILE",
    "old_digit_bargein": "SD-DTMF-BUFFER", "onset_slack": "SD-DTMF-BUFFER", "calls_see_old_state": "SD-TIES",
    "max_silence_during_initial": "SD-INITIAL-SILENCE", "hold_ends_job": "SD-HOLD",
    "wait_timeout_ends_job": "SD-WAIT-TIMEOUT",
}
TOL = FRAME  # one frame either way for anything the text fixes
DTMF_LATENCY_TOL = 3 * FRAME  # 60 ms: the detection latency window of an in-band digit


class PlaintextSpy:
    """A store write observer that remembers the files any plaintext WAV bytes were written to
    (an encrypted recording must never put its header or audio in the store in the clear)."""

    def __init__(self) -> None:
        self.plain_writes: list[str] = []

    def __call__(self, write: StoreWrite) -> None:
        if any(mark in write.data for mark in (b"RIFF", b"WAVEfmt", b"fmt ")):
            self.plain_writes.append(write.name)


#: Flags that are uncertainty of measurement, not interpretation: their outcomes span a range.
UNCERTAIN = ("unsure_is_audio", "early_dtmf")


def _group_key(r: Reading) -> tuple[Any, ...]:
    return tuple(v for k, v in asdict(r).items() if k not in UNCERTAIN)


def _windows(alls: list[ScriptOutcome], readings: list[Reading], value: Callable[[ScriptOutcome], Any],
             tick: Callable[[ScriptOutcome], int], ours_only: bool = False) -> dict[Any, list[tuple[int, int]]]:
    """For each observable value, the tick ranges the readings allow (one range per group)."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    ours_key = _group_key(OURS)
    for o, r in zip(alls, readings):
        if ours_only and _group_key(r) != ours_key:
            continue
        groups.setdefault((_group_key(r), value(o)), []).append(tick(o))
    out: dict[Any, list[tuple[int, int]]] = {}
    for (_, v), ticks in groups.items():
        out.setdefault(v, []).append((min(ticks), max(ticks)))
    return out


def _within(t: int, ranges: list[tuple[int, int]], tol: int) -> bool:
    return any(lo - tol <= t <= hi + tol for lo, hi in ranges)


def _explain(alls: list[ScriptOutcome], readings: list[Reading], pick: Callable[[ScriptOutcome], bool]) -> list[str]:
    """Decision clauses whose other reading explains an observation."""
    out: set[str] = set()
    for o, r in zip(alls, readings):
        if pick(o):
            for k, v in asdict(r).items():
                if getattr(OURS, k) != v:
                    out.add(FLAG_DECISION[k])
    return sorted(out)


def _fmt_ms(t: float) -> str:
    return f"{t / 8:g} ms"


def grade_scenario(scenario: Scenario, factory: Any, *, clauses: tuple[str, ...] = ()) -> tuple[list[Finding], RunResult]:
    """Run ``scenario`` with ``factory`` and grade everything observable."""
    from .model import _readings, _World, script_of  # the same readings predict() used

    findings: list[Finding] = []
    ours, alls = predict(scenario)
    world = _World(scenario)
    readings = _readings(world, script_of(scenario))
    # In-band detection latency is measurement, not interpretation: after an in-band digit with
    # barge-in, times are compared with our decisions within DTMF_LATENCY_TOL (the oracle only
    # samples the earliest and latest detection instants).
    dec_tol = DTMF_LATENCY_TOL if world.inband and any(
        a.kwargs().get("barge_in") for a in scenario.actions if a.call in ("record", "start")) else 0
    spy = PlaintextSpy()
    try:
        result = run_scenario(scenario, factory, on_write=spy)
    except Exception as exc:  # the implementation crashed the simulation
        return [Finding(Grade.FAIL, clauses or ("SPEC-RECORD",), f"the run crashed: {type(exc).__name__}: {exc}")], RunResult([], {}, [], [])
    # -- steps -------------------------------------------------------------------
    for i, step in enumerate(result.steps):
        exp = ours.steps[i]
        clause = STEP_CLAUSE.get(step.call, "SPEC-RECORD")
        observed = (step.returned, step.raised)
        val = lambda o, i=i: (o.steps[i].returned, o.steps[i].raised)  # noqa: E731
        at_end = lambda o, i=i: o.steps[i].end  # noqa: E731
        allowed = _windows(alls, readings, val, at_end)
        ours_w = _windows(alls, readings, val, at_end, ours_only=True)
        end_t = int(round(step.end_ms * 8))
        ev = {"step": i, "call": step.call, "observed": {"returned": step.returned, "raised": step.raised, "end_ms": step.end_ms},
              "expected": {"returned": exp.returned, "raised": exp.raised, "end_ms": exp.end / 8}}
        if step.raised and step.raised not in ("Hangup", "Error") and not any(a[1] == step.raised for a in allowed):
            findings.append(Finding(Grade.FAIL, (clause,), f"step {i} {step.call}() raised {step.raised}: {step.message}", ev))
            continue
        if observed not in allowed:
            cl = {clause}
            if step.raised or exp.raised:
                cl.add("SPEC-EXC-HANGUP" if "Hangup" in (step.raised, exp.raised) else "SPEC-EXC-NOTANSWERED")
            for v in (step.returned, exp.returned):
                if isinstance(v, str) and v in CAUSE_CLAUSE and step.call in ("record", "wait_until_finished", "cause"):
                    cl.add(CAUSE_CLAUSE[v])
            findings.append(Finding(Grade.FAIL, tuple(sorted(cl)),
                                    f"step {i} {step.call}() gave {_show(observed)}, the spec allows {sorted(map(_show, allowed))}", ev))
            continue
        if not _within(end_t, allowed[observed], TOL):
            cl = {clause} | ({CAUSE_CLAUSE[step.returned]} if isinstance(step.returned, str) and step.returned in CAUSE_CLAUSE else set())
            findings.append(Finding(Grade.FAIL, tuple(sorted(cl)),
                                    f"step {i} {step.call}() returned at {_fmt_ms(end_t)}, the spec allows "
                                    f"{', '.join(_fmt_range(r) for r in allowed[observed])} (± 20 ms)", ev))
            continue
        if observed not in ours_w or not _within(end_t, ours_w[observed], dec_tol):
            def explains(o: ScriptOutcome, v: Any = val, ob: Any = observed, ae: Any = at_end, et: int = end_t) -> bool:
                return bool(v(o) == ob and abs(ae(o) - et) <= TOL)

            sds = _explain(alls, readings, explains)
            findings.append(Finding(Grade.NON_STRICT, tuple(sds or ["SD-TIES"]),
                                    f"step {i} {step.call}() gave {_show(observed)} at {_fmt_ms(end_t)}; our decisions give "
                                    f"{_show((exp.returned, exp.raised))} at {_fmt_ms(exp.end)}", ev))
    # -- final observable state ------------------------------------------------
    if result.final:
        fin = result.final
        # our decisions, with frames within 3 dB of the threshold (and digit timing) either way
        ours_group = [o for o, r in zip(alls, readings) if _group_key(r) == _group_key(OURS)] or [ours]
        checks: list[tuple[str, str, Any, set[Any], set[Any]]] = [
            ("state", "SPEC-STATE-FN", ours.state, {o.state for o in alls}, {o.state for o in ours_group}),
            ("cause", "SPEC-CAUSE-FN", ours.cause, {o.cause for o in alls}, {o.cause for o in ours_group}),
            ("audio_detected", "SPEC-AUDIO", ours.audio, {o.audio for o in alls}, {o.audio for o in ours_group}),
        ]
        for key, clause, exp_v, allowed_v, ours_v in checks:
            got = fin.get(key)
            if key == "audio_detected" and None in allowed_v and ours.state != "RECORDING":
                allowed_v = allowed_v | {True, False}
            if got not in allowed_v:
                fcl: tuple[str, ...] = (clause, "SPEC-AUDIO-TRUE" if exp_v is True else "SPEC-AUDIO-FALSE") if key == "audio_detected" else (clause,)
                findings.append(Finding(Grade.FAIL, fcl, f"final {key}() is {got!r}, the spec allows {sorted(map(repr, allowed_v))}",
                                        {"observed": got, "expected": exp_v}))
            elif got not in ours_v and not (key == "audio_detected" and None in ours_v):
                findings.append(Finding(Grade.NON_STRICT, ("SD-AUDIO",) if key == "audio_detected" else ("SD-TIES",),
                                        f"final {key}() is {got!r}; our decisions give {exp_v!r}", {}))
    # -- post-conditions -------------------------------------------------------
    if result.open_writers and result.final.get("state") != "RECORDING":
        findings.append(Finding(Grade.FAIL, ("SPEC-WAV",), f"{result.open_writers} store writer(s) left open after the run", {}))
    findings.extend(_check_files(scenario, result, _files_reading(result, ours, alls), alls, readings, spy))
    return findings, result


def _fmt_range(r: tuple[int, int]) -> str:
    return _fmt_ms(r[0]) if r[0] == r[1] else f"{_fmt_ms(r[0])}..{_fmt_ms(r[1])}"


def _show(o: tuple[Any, Any]) -> str:
    return f"raised {o[1]}" if o[1] else f"returned {o[0]!r}"


# -- files --------------------------------------------------------------------------------
#: (minimum SNR in dB, or an absolute error RMS floor in LSB) per format at 8000 Hz.
SNR_MIN = {"s16bit": 60.0, "alaw": 28.0, "ulaw": 28.0, "u8bit": 20.0, "ima": 10.0, "oki": 10.0}
#: u8bit: a truncating encoder ((x >> 8) + 128, as libsndfile and ffmpeg do) errs by up to one
#: 8-bit step (256) per sample, so near-silent audio may show an error RMS close to 256.
ERR_FLOOR = {"s16bit": 1.0, "alaw": 24.0, "ulaw": 24.0, "u8bit": 256.0, "ima": 96.0, "oki": 160.0}
RESAMPLED_SNR = 18.0  # a different (valid) resampler differs from scipy's near the band edge


def _ratio(rate: int) -> tuple[int, int]:
    from math import gcd

    g = gcd(rate, 8000)
    return rate // g, 8000 // g


def _files_reading(result: RunResult, ours: ScriptOutcome, alls: list[ScriptOutcome]) -> ScriptOutcome:
    """The outcome whose jobs the stored files are checked against: ours, unless the run ended
    in another record state that another reading allows (say an in-band digit our detector
    would take but the implementation did not, so its job is still running at the end and the
    file of that name is still the previous job's); then the first such reading's."""
    seen = result.final.get("state")
    if ours.state == seen:
        return ours
    return next((o for o in alls if o.state == seen), ours)


def _check_files(scenario: Scenario, result: RunResult, ours: ScriptOutcome, alls: list[ScriptOutcome], readings: list[Reading], spy: PlaintextSpy) -> list[Finding]:
    findings: list[Finding] = []
    expected_names = {j.file for o in alls for j in o.jobs}
    for name in result.contents:
        if name not in expected_names:
            findings.append(Finding(Grade.FAIL, ("SPEC-RECORD",), f"stray file {name!r} in the store (no job records it)", {}))
    ciphers = {a.kwargs().get("filename"): a.kwargs().get("cipher") for a in scenario.actions if a.call in ("record", "start")}
    timeline = None
    for k, job in enumerate(ours.jobs):
        alt_jobs = [o.jobs[k] for o in alls if len(o.jobs) > k]
        data = result.contents.get(job.file)
        later_same = [j for j in ours.jobs[k + 1:] if j.file == job.file]
        if later_same:
            continue  # overwritten by a later job; the last one is checked
        if data is None:
            if job.cause == "ERROR":
                continue
            grade = Grade.FAIL if job.cause in ("SILENCE", "SIZE", "TIMEOUT") else Grade.NON_STRICT
            findings.append(Finding(grade, ("SPEC-RECORD",) if grade is Grade.FAIL else ("SD-FILES-LEFT",),
                                    f"no file {job.file!r} after a job that ended with {job.cause}", {}))
            continue
        if job.cause == "ERROR":
            findings.append(Finding(Grade.NON_STRICT, ("SD-FILES-LEFT",), f"file {job.file!r} published after an ERROR job", {}))
            continue
        cipher = ciphers.get(job.file)
        if isinstance(cipher, dict):
            if job.file in spy.plain_writes:
                findings.append(Finding(Grade.FAIL, ("SPEC-CIPHER", "SD-CIPHER"), f"plaintext WAV bytes were written to the store for {job.file!r}", {}))
            try:  # the suite decrypts with the user's key, as a user would
                data = Cipher(cipher["key"], cipher["iv"]).decrypt(data)
            except Exception as exc:
                findings.append(Finding(Grade.FAIL, ("SPEC-CIPHER",), f"{job.file!r} does not decrypt with the job's cipher: {exc}", {}))
                continue
        check = check_wav(data, job.fmt, job.rate)
        if check.problems:
            findings.append(Finding(Grade.FAIL, ("SPEC-WAV", "SPEC-FORMATS", "SPEC-RATES"),
                                    f"{job.file!r} is not a valid {job.fmt} WAV at {job.rate} Hz: {'; '.join(check.problems)}",
                                    {"problems": list(check.problems)}))
            continue
        try:
            info, pcm = decode_wav(data)
        except (WavFormatError, ValueError) as exc:
            findings.append(Finding(Grade.FAIL, ("SPEC-WAV",), f"{job.file!r} cannot be decoded: {exc}", {}))
            continue
        n = len(pcm)
        # size: never above max_bytes (data only, SD-SIZE; header included would be stricter)
        mb = _max_bytes(scenario, k, result)
        if mb and info.data_bytes > mb:
            findings.append(Finding(Grade.FAIL, ("SPEC-SIZE", "SD-SIZE"), f"{job.file!r} holds {info.data_bytes} data bytes, above max_bytes={mb}", {}))
        lo = min(j.samples for j in alt_jobs) - _frame_samples(job.rate)
        hi = max(j.samples for j in alt_jobs) + _frame_samples(job.rate)
        if job.fmt == "ima" and hi < n <= hi + 505 and info.fact_samples is not None and info.fact_samples % 505 == 0:
            findings.append(Finding(Grade.NON_STRICT, ("SD-FILES-LEFT", "SPEC-WAV"),
                                    f"{job.file!r}: the IMA fact chunk counts the last block's padding ({n} samples)", {}))
            pcm = pcm[:hi]
            n = len(pcm)
        if not lo <= n <= hi:
            findings.append(Finding(Grade.FAIL, ("SPEC-WAV",), f"{job.file!r} holds {n} samples, the job's duration allows {max(lo, 0)}..{hi}",
                                    {"samples": n, "expected": job.samples}))
        elif not _within(n, [(min(ours_n), max(ours_n))] if (ours_n := [
                j.samples for o, r in zip(alls, readings) if _group_key(r) == _group_key(OURS) for j in o.jobs[k:k + 1]
        ]) else [(job.samples, job.samples)], 0):
            findings.append(Finding(Grade.NON_STRICT, ("SD-START", "SD-SIZE"), f"{job.file!r} holds {n} samples; our decisions give {job.samples}", {}))
        if timeline is None:
            timeline = build_audio(scenario)
        findings.extend(_compare_audio(job, pcm, timeline, _observed_start(result, k)))
    return findings


def _frame_samples(rate: int) -> int:
    return -(-FRAME * rate // 8000)


def _max_bytes(scenario: Scenario, k: int, result: RunResult) -> int:
    """max_bytes of the k-th job that started (the k-th record/start that did not raise): the
    job that wrote the file being checked, not a later job of the same name still running."""
    n = -1
    for i, a in enumerate(scenario.actions):
        if a.call in ("record", "start") and not (i < len(result.steps) and result.steps[i].raised):
            n += 1
            if n == k:
                return int(a.kwargs().get("max_bytes", 1920000))
    return 0


def _observed_start(result: RunResult, k: int) -> int | None:
    """The tick at which the application started the k-th job (from the observed steps)."""
    n = -1
    for st in result.steps:
        if st.call in ("record", "start") and st.raised is None:
            n += 1
            if n == k:
                return int(round(st.at_ms * 8))
    return None


#: Alignment is searched on at most this many seconds of the file, then checked on all of it.
_ALIGN_SECONDS = 2.0


def _compare_audio(job: JobOutcome, pcm: np.ndarray, timeline: Any, called_at: int | None = None) -> list[Finding]:
    """Decoded file vs the far-end audio of the job's span, best alignment within ±2 frames
    of where the job was started (the observed call instant and the next frame boundary)."""
    n = len(pcm)
    if n < _frame_samples(job.rate) * 3:
        return []
    up, down = _ratio(job.rate)
    x = pcm.astype(np.float64)
    edge = _frame_samples(job.rate)
    body = x[edge: n - edge]
    starts = {job.start}
    if called_at is not None:
        starts |= {called_at, called_at + (-called_at) % FRAME}
    span = 2 * _frame_samples(job.rate)
    cands: list[tuple[float, int, int, np.ndarray]] = []
    for t0 in sorted(starts):
        # 640 ticks is a whole number of output samples at every rate (11025 Hz: 441 per 320
        # ticks), and time before the call is rendered as zeros rather than clamped, so the
        # reference grid is never shifted by a fraction of a sample
        margin = 4 * FRAME
        a = t0 - margin
        b_ = t0 + -(-n * 8000 // job.rate) + 2 * margin
        ref8 = timeline.render(max(a, 0), b_).astype(np.float64)
        if a < 0:
            ref8 = np.concatenate([np.zeros(min(-a, b_ - a)), ref8])
        ref = resample_poly(ref8, up, down) if (up, down) != (1, 1) else ref8
        off0 = int(round((t0 - a) * job.rate / 8000))
        if len(body) == 0 or not np.any(body):
            sig = ref[off0 + edge: off0 + n - edge]
            if len(sig) and np.sqrt(np.mean(sig**2)) > 100 and not np.any(body):
                return [Finding(Grade.FAIL, ("SPEC-WAV",), f"{job.file!r} holds only zeros where the caller spoke", {})]
            return []
        # align on the loudest stretch of the file (silence aligns with anything)
        plen = min(len(body), int(_ALIGN_SECONDS * job.rate))
        c = np.concatenate([[0.0], np.cumsum(body * body)])
        p0 = int(np.argmax(c[plen:] - c[: len(c) - plen]))
        probe = body[p0: p0 + plen]
        for lag in range(-span, span + 1):
            s = off0 + edge + lag
            if s < 0 or s + len(body) > len(ref):
                continue
            err = float(np.sqrt(np.mean((probe - ref[s + p0: s + p0 + plen]) ** 2)))
            cands.append((err, lag, s, ref))
    if not cands:
        return []
    # a periodic probe (a steady tone) fits several lags equally well: of the near-best ones,
    # keep the lag that fits the whole file
    low = min(c[0] for c in cands)
    near = [c for c in cands if c[0] <= low * 1.1 + 1.0]
    best = min(near, key=lambda c: float(np.mean((body - c[3][c[2]: c[2] + len(body)]) ** 2)))
    _, lag, s, ref = best
    r = ref[s: s + len(body)]
    err = float(np.sqrt(np.mean((body - r) ** 2)))
    sig = float(np.sqrt(np.mean(r**2)))
    snr = 20 * np.log10(max(sig, 1e-9) / max(err, 1e-9))
    # only a file with sound in it can show a shift (silence aligns with anything)
    # and only when no near-best alignment is unshifted (a steady tone fits many lags)
    unshifted = any(abs(c[1]) <= edge // 2 for c in near)
    if float(np.sqrt(np.mean(probe**2))) > 100.0 and abs(lag) > edge // 2 and not unshifted:
        return [Finding(Grade.FAIL, ("SPEC-WAV",), f"{job.file!r}: the audio is shifted by {lag * 1000 / job.rate:+.1f} ms "
                        "against the call (audio lost or added at the start)", {"lag_samples": lag})]
    need = SNR_MIN[job.fmt] if job.rate == 8000 else min(SNR_MIN[job.fmt], RESAMPLED_SNR)
    floor = ERR_FLOOR[job.fmt] * (1 if job.rate == 8000 else 4)
    ev = {"snr_db": round(snr, 2), "error_rms": round(err, 2), "signal_rms": round(sig, 2), "lag_samples": lag}
    if snr < need and err > floor:
        return [Finding(Grade.FAIL, ("SPEC-WAV", "SPEC-FORMATS"),
                        f"{job.file!r}: decoded audio differs from the caller's audio (SNR {snr:.1f} dB < {need} dB)", ev)]
    if job.rate == 8000 and job.fmt == "s16bit" and err > 0.5:
        return [Finding(Grade.FAIL, ("SPEC-FORMATS",), f"{job.file!r}: 16-bit PCM at 8000 Hz is not the caller's audio unchanged", ev)]
    return [Finding(Grade.PASS, ("SPEC-WAV",), "audio matches", ev)]
