"""The case catalogue: deterministic conformance cases, each tied to the clauses it checks.

Most cases are scenarios graded by the oracle (``conformance.grading``); a few check things a
scenario cannot express (signatures, enums, store faults, key material) with a custom check
(the store-fault ones with ``conformance.faults``, shared with ``property/cause-error``).
Generated (hypothesis) properties and the stateful machine live in ``conformance.properties``
and ``conformance.stateful``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from simulator.audio import DTMF_KEYPAD
from simulator.scenario import Scenario, ScenarioBuilder

from .capabilities import ALL_FORMATS, ALL_RATES, Capabilities
from .faults import count_writes, fault_findings, nothing_written
from .grades import CaseResult, Finding, Grade
from .grading import grade_scenario
from .types import check_types

__all__ = ["Case", "CATALOGUE", "run_case", "case_ids"]

#: The 16 keypad digits in keypad order ("123A456B789C*0#D").
_KEYPAD = "".join(DTMF_KEYPAD)

CALL_STATES = ("WAITING", "CALL_INCOMING", "RING_INCOMING", "ANSWERING", "ANSWERED", "CALL_OUTGOING",
               "RING_OUTGOING", "HOLDING", "ON_HOLD", "TRANSFERRING", "TRANSFERRED", "RECONNECTING", "ERROR", "IDLE")
KEYS = {128: "000102030405060708090a0b0c0d0e0f", 192: "000102030405060708090a0b0c0d0e0f1011121314151617",
        256: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}
IV = "f0e0d0c0b0a090807060504030201000"


@dataclass(frozen=True)
class Case:
    id: str
    clauses: tuple[str, ...]
    scenario: Scenario | None = None
    check: Callable[[Any, Capabilities], list[Finding]] | None = None
    needs: dict[str, Any] = field(default_factory=dict)
    use_model: bool = True
    description: str = ""


def run_case(case: Case, factory: Any, caps: Capabilities) -> CaseResult:
    """Run one case against ``factory`` and grade it."""
    res = CaseResult(case.id, case.clauses)
    why = caps.missing(**case.needs)
    if why:
        res.unsupported = why
        return res
    t0 = time.perf_counter()
    if case.scenario is not None:
        res.scenario_toml = case.scenario.to_toml()
        if case.use_model:
            findings, run = grade_scenario(case.scenario, factory, clauses=case.clauses)
            res.findings.extend(findings)
            res.findings.extend(check_types(run.steps) if run is not None else [])
    if case.check is not None:
        try:
            res.findings.extend(case.check(factory, caps))
        except Exception as exc:  # a crash in the implementation is a failure of the case
            res.findings.append(Finding(Grade.FAIL, case.clauses, f"check crashed: {type(exc).__name__}: {exc}"))
    res.duration_s = time.perf_counter() - t0
    return res


def _b(seed: int = 1, **call: Any) -> ScenarioBuilder:
    return ScenarioBuilder(seed=seed, **call)


CATALOGUE: list[Case] = []


def _add(case: Case) -> None:
    CATALOGUE.append(case)


# -- the spec's usage examples ------------------------------------------------------------------
_add(Case("examples/record-silence", ("SPEC-EXAMPLES", "SPEC-RECORD", "SPEC-SILENCE", "SPEC-AUDIO-TRUE"),
          _b().speech(0, 1500).record(filename="recfile", milliseconds_max_silence=2000)
          .action("state").action("cause").action("audio_detected_in_recording").build()))
_add(Case("examples/start-wait", ("SPEC-EXAMPLES", "SPEC-START", "SPEC-WAIT"),
          _b().tone(0, 300, [1000], -20).start(filename="recfile", milliseconds_max_silence=2000)
          .sleep(500).wait_until_finished().build()))
_add(Case("examples/start-stop", ("SPEC-EXAMPLES", "SPEC-START", "SPEC-STOP"),
          _b().tone(0, 60_000, [1000], -20).start(filename="recfile").sleep(1000).stop().action("cause").build()))
_add(Case("examples/state-during", ("SPEC-EXAMPLES", "SPEC-STATE-FN"),
          _b().tone(0, 60_000, [1000], -20).start(filename="recfile").action("state").sleep(100).stop().build()))

# -- API semantics ------------------------------------------------------------------------------
_add(Case("api/before-any-job", ("SPEC-STATE-FN", "SPEC-CAUSE-FN", "SPEC-AUDIO"),
          _b().action("state").action("cause").action("audio_detected_in_recording").build()))
_add(Case("api/during-job", ("SPEC-STATE-FN", "SPEC-CAUSE-FN", "SPEC-AUDIO"),
          _b().tone(0, 60_000, [800], -20).start(filename="d").sleep(500).action("state").action("cause")
          .action("audio_detected_in_recording").stop().action("state").action("cause").build()))
_add(Case("api/cause-during-second-job", ("SPEC-CAUSE-FN", "SPEC-STATE-FN", "SPEC-AUDIO"),
          _b().tone(0, 500, [800], -20).tone(2000, 60_000, [800], -20).record(filename="one", milliseconds_max_silence=500)
          .action("cause").sleep(1000).start(filename="two").action("cause").action("state")
          .action("audio_detected_in_recording").stop().action("cause").build()))
_add(Case("api/stop-when-idle", ("SPEC-STOP",), _b().stop().stop().build()))
_add(Case("api/wait-timeout-leaves-job", ("SPEC-WAIT-TIMEOUT", "SD-WAIT-TIMEOUT"),
          _b().tone(0, 60_000, [800], -20).start(filename="w", milliseconds_max_silence=0)
          .wait_until_finished(seconds_timeout=2).action("state").action("cause").stop().build()))
_add(Case("api/wait-none", ("SPEC-WAIT-NONE",),
          _b().tone(0, 150_000, [800], -20).start(filename="w", max_bytes=0)
          .wait_until_finished(seconds_timeout=None).build()))
_add(Case("api/wait-after-end", ("SPEC-WAIT", "SPEC-CAUSE-END"),
          _b().tone(0, 500, [800], -20).start(filename="w", milliseconds_max_silence=500).sleep(3000)
          .action("state").action("cause").wait_until_finished().build()))
_add(Case("api/second-job-resets", ("SPEC-AUDIO", "SD-AUDIO", "SD-NAME"),
          _b().tone(0, 1000, [800], -20).record(filename="same", milliseconds_max_silence=500)
          .action("audio_detected_in_recording").start(filename="same", milliseconds_max_silence=500)
          .action("audio_detected_in_recording").wait_until_finished().action("audio_detected_in_recording").build()))
_add(Case("api/stop-right-after-start", ("SPEC-STOP", "SD-STOP", "SD-FILES-LEFT", "SD-START"),
          _b().tone(0, 5000, [800], -20).start(filename="e.wav").stop().build()))
_add(Case("api/start-mid-frame", ("SPEC-START", "SD-START"),
          _b().tone(0, 5000, [800], -20).sleep(7).start(filename="m").sleep(993).stop().build()))

_add(Case("api/start-hangup-before-first-frame", ("SPEC-START", "SD-START-FALSE", "SPEC-HANGUP-CAUSE"),
          _b().tone(0, 5000, [800], -20).hangup(10).sleep(7).start(filename="h").action("state").action("cause").build()))

#: SD-ARGS limits: the longest timer or silence (7 days) and the largest max_bytes (RIFF's 32 bits).
_ARG_MAX_S = 7 * 24 * 3600
_ARG_MAX_BYTES = 2**32 - 1


class _UnreadableSeconds(Fraction):
    """A numbers.Real (a Fraction, 5 s) whose float() fails, as a user's own number type may:
    a number of seconds nobody can read is a bad argument like any other."""

    def __float__(self) -> float:
        raise ValueError("this number has no float value")


BAD_ARGS: list[tuple[str, dict[str, Any]]] = [
    ("filename", {"filename": "../etc/passwd"}), ("filename", {"filename": "/abs.wav"}),
    ("filename", {"filename": "a//b.wav"}), ("filename", {"filename": "a/./b"}), ("filename", {"filename": ""}),
    ("filename", {"filename": "nul\x00.wav"}), ("filename", {"filename": "caf\u00e9.wav"}), ("filename", {"filename": 42}),
    ("file_format", {"file_format": "mp3"}), ("file_format", {"file_format": None}),
    ("rate", {"rate": 16000}), ("rate", {"rate": "8000"}), ("rate", {"rate": 8000.5}),
    ("seconds_timeout", {"seconds_timeout": -1}), ("seconds_timeout", {"seconds_timeout": float("nan")}),
    ("seconds_timeout", {"seconds_timeout": float("inf")}), ("seconds_timeout", {"seconds_timeout": "10"}),
    ("seconds_timeout", {"seconds_timeout": _UnreadableSeconds(5)}),
    ("max_bytes", {"max_bytes": -5}), ("max_bytes", {"max_bytes": 2.5}), ("max_bytes", {"max_bytes": 2**40}),
    ("milliseconds_max_silence", {"milliseconds_max_silence": -1}),
    ("milliseconds_initial_silence", {"milliseconds_initial_silence": "x"}),
    ("barge_in", {"barge_in": "yes"}), ("cipher", {"cipher": "secret"}),
    # one step beyond each limit, above and below (the values exactly at it are args/at-limits)
    ("seconds_timeout", {"seconds_timeout": 0}), ("seconds_timeout", {"seconds_timeout": _ARG_MAX_S + 1}),
    ("max_bytes", {"max_bytes": _ARG_MAX_BYTES + 1}), ("max_bytes", {"max_bytes": -1}),
    ("milliseconds_initial_silence", {"milliseconds_initial_silence": -1}),
    ("milliseconds_max_silence", {"milliseconds_max_silence": _ARG_MAX_S * 1000 + 1}),
    ("milliseconds_initial_silence", {"milliseconds_initial_silence": _ARG_MAX_S * 1000 + 1}),
]


def _check_bad_args(factory: Any, caps: Capabilities) -> list[Finding]:
    """SD-ARGS: a bad argument raises an Error/ValueError naming the parameter; nothing changes."""
    from simulator import CallChannel, Clock, Error
    from simulator.audio import Timeline, Tone

    out: list[Finding] = []
    for param, bad in BAD_ARGS:
        for method in ("record", "start"):
            ch = CallChannel(Clock(), audio=Timeline((Tone(start=0, duration=80_000, freqs=(600.0,), level_dbm0=-20.0),)),
                             recorder_factory=factory)
            rec = ch.FileRecorder
            args = {"filename": "ok.wav", **({"seconds_timeout": 1} if method == "record" else {}), **bad}
            if method == "start" and param == "seconds_timeout":
                continue
            state0, cause0 = rec.state(), rec.cause()
            try:
                getattr(rec, method)(**args)
                raised: BaseException | None = None
            except BaseException as exc:  # noqa: BLE001 - any exception is an observation here
                raised = exc
            where = f"{method}({param}={bad[param]!r})"
            if raised is None:
                out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"{where} raised nothing"))
            elif not isinstance(raised, Error):
                out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"{where} raised {type(raised).__name__}, which `except Error` does not catch"))
            elif param not in str(raised):
                out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"{where}: the message does not name {param!r}: {raised}"))
            if raised is not None and (ch.store.list() or rec.state() != state0 or rec.cause() != cause0):
                out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"{where} raised but changed the store or the record state"))
            if raised is not None:
                try:
                    if not rec.start(filename="after.wav"):
                        out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"after {where} a valid start() failed"))
                except Exception as exc:  # noqa: BLE001
                    out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"after {where} a valid start() raised {type(exc).__name__}"))
    return out


_add(Case("args/bad-arguments", ("SD-ARGS",), check=_check_bad_args))

#: Values exactly at each SD-ARGS limit, all valid: (method, arguments besides filename).
AT_LIMITS: list[tuple[str, dict[str, Any]]] = [
    ("start", {"max_bytes": _ARG_MAX_BYTES}), ("start", {"max_bytes": 0}),
    ("start", {"milliseconds_max_silence": _ARG_MAX_S * 1000}),
    ("start", {"milliseconds_initial_silence": _ARG_MAX_S * 1000}),
    ("start", {"milliseconds_max_silence": 0, "milliseconds_initial_silence": 0}),
    ("record", {"seconds_timeout": _ARG_MAX_S, "max_bytes": 4000}),
    ("wait_until_finished", {"seconds_timeout": 0}),
    ("wait_until_finished", {"seconds_timeout": _ARG_MAX_S}),
]


def _check_at_limits(factory: Any, caps: Capabilities) -> list[Finding]:
    """SD-ARGS: a value exactly at a limit (7 days, 2**32 - 1 bytes, 0 where 0 is allowed) is
    valid; a recorder that refuses it departs from the decision (NON-STRICT). The values one
    step beyond are in ``BAD_ARGS``. ``wait_until_finished`` is called during a job that ends
    at its size limit within a second."""
    from simulator import CallChannel, Clock
    from simulator.audio import Timeline, Tone

    out: list[Finding] = []
    for method, args in AT_LIMITS:
        ch = CallChannel(Clock(), audio=Timeline((Tone(start=0, duration=80_000, freqs=(600.0,), level_dbm0=-20.0),)),
                         recorder_factory=factory)
        rec = ch.FileRecorder
        where = f"{method}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
        try:
            if method == "wait_until_finished":
                rec.start(filename="ok.wav", max_bytes=4000)
                rec.wait_until_finished(**args)
            else:
                getattr(rec, method)(filename="ok.wav", **args)
        except Exception as exc:  # noqa: BLE001 - any exception is an observation here
            out.append(Finding(Grade.NON_STRICT, ("SD-ARGS",), f"{where}, a value at the limit, raised "
                               f"{type(exc).__name__}: {exc}"))
        try:
            rec.stop()
        except Exception:  # noqa: BLE001, S110 - the job may have ended already; not graded here
            pass
    return out


_add(Case("args/at-limits", ("SD-ARGS",), check=_check_at_limits,
          description="every argument exactly at its limit (7 days, 2**32-1 bytes, 0) is accepted"))


def _check_signatures(factory: Any, caps: Capabilities) -> list[Finding]:
    from simulator import CallChannel, Clock

    rec = factory(CallChannel(Clock()))
    out: list[Finding] = []
    want = {
        "record": ["filename", "file_format", "rate", "seconds_timeout", "max_bytes", "milliseconds_max_silence",
                   "milliseconds_initial_silence", "barge_in", "cipher"],
        "start": ["filename", "file_format", "rate", "max_bytes", "milliseconds_max_silence",
                  "milliseconds_initial_silence", "barge_in", "cipher"],
        "wait_until_finished": ["seconds_timeout"],
        "stop": [], "state": [], "cause": [], "audio_detected_in_recording": [],
    }
    defaults = {"file_format": "alaw", "rate": 8000, "seconds_timeout": 120, "max_bytes": 1920000,
                "milliseconds_max_silence": 10000, "milliseconds_initial_silence": 0, "barge_in": False, "cipher": None}
    for name, params in want.items():
        fn = getattr(rec, name, None)
        if not callable(fn):
            out.append(Finding(Grade.FAIL, ("SPEC-RECORD",), f"the recorder has no method {name}()"))
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            out.append(Finding(Grade.INFO, ("SPEC-RECORD-DEFAULTS",), f"{name}() has no inspectable signature"))
            continue
        got = [p for p in sig.parameters if p not in ("self",)]
        if got[: len(params)] != params:
            out.append(Finding(Grade.FAIL, ("SPEC-RECORD-DEFAULTS",), f"{name}() parameters are {got}, the spec's are {params}"))
            continue
        for p in params[1:] if name in ("record", "start") else params:
            d = sig.parameters[p].default
            if p in defaults and d != defaults[p]:
                out.append(Finding(Grade.FAIL, ("SPEC-RECORD-DEFAULTS",), f"{name}({p}=...) defaults to {d!r}, the spec says {defaults[p]!r}"))
    return out


def _check_enums(factory: Any, caps: Capabilities) -> list[Finding]:
    from simulator import CallChannel, Clock

    ch = CallChannel(Clock(), recorder_factory=factory)
    fr = ch.FileRecorder
    out = []
    causes = {"ERROR", "BARGEIN", "SILENCE", "SIZE", "ABORTED", "HANGUP", "TIMEOUT", "NONE"}
    states = {"RECORDING", "IDLE", "ERROR"}
    for enum_name, names, clause in (("Cause", causes, "SPEC-CAUSE"), ("State", states, "SPEC-STATE")):
        enum = getattr(fr, enum_name, None)
        if enum is None:
            out.append(Finding(Grade.FAIL, (clause,), f"channel.FileRecorder.{enum_name} is missing"))
            continue
        missing = [n for n in names if not hasattr(enum, n)]
        if missing:
            out.append(Finding(Grade.FAIL, (clause,), f"{enum_name} lacks {missing}"))
    return out


_add(Case("api/signatures", ("SPEC-RECORD-DEFAULTS", "SPEC-RECORD"), check=_check_signatures))
_add(Case("api/enums", ("SPEC-CAUSE", "SPEC-STATE", "SPEC-EXAMPLES"), check=_check_enums))

# -- limits ---------------------------------------------------------------------------------------
_add(Case("limits/silence-basic", ("SPEC-SILENCE", "SD-SILENCE"),
          _b().tone(0, 1200, [600], -20).record(filename="s", milliseconds_max_silence=1000).build()))
_add(Case("limits/silence-one-frame-short", ("SPEC-SILENCE", "SD-SILENCE"),
          _b().tone(0, 500, [600], -20).tone(2480, 500, [600], -20)
          .record(filename="s", milliseconds_max_silence=2000, seconds_timeout=4).build()))
_add(Case("limits/silence-at-limit", ("SPEC-SILENCE", "SD-SILENCE"),
          _b().tone(0, 500, [600], -20).tone(2500, 500, [600], -20)
          .record(filename="s", milliseconds_max_silence=2000, seconds_timeout=4).build()))
_add(Case("limits/silence-over-line-noise", ("SPEC-SILENCE", "SD-SILENCE"),
          _b().speech(0, 2000, -20).noise(0, 20_000, -60).record(filename="s", milliseconds_max_silence=3000).build()))
_add(Case("limits/quiet-speaker-not-cut", ("SPEC-SILENCE", "SD-SILENCE"),
          _b().noise(0, 4000, -35).record(filename="s", milliseconds_max_silence=1000, seconds_timeout=3).build()))
_add(Case("limits/initial-silence", ("SPEC-INITIAL-SILENCE", "SD-INITIAL-SILENCE", "SPEC-AUDIO-FALSE"),
          _b().tone(5000, 1000, [600], -20).record(filename="i", milliseconds_initial_silence=3000)
          .action("audio_detected_in_recording").build()))
_add(Case("limits/initial-silence-met", ("SPEC-INITIAL-SILENCE", "SPEC-SILENCE"),
          _b().tone(1000, 1000, [600], -20).record(filename="i", milliseconds_initial_silence=3000,
                                                    milliseconds_max_silence=1000).build()))
_add(Case("limits/initial-suspends-max", ("SD-INITIAL-SILENCE",),
          _b().tone(3000, 1000, [600], -20).record(filename="i", milliseconds_initial_silence=5000,
                                                    milliseconds_max_silence=1000).build()))
_add(Case("limits/initial-zero-leading-silence", ("SD-INITIAL-SILENCE", "SPEC-ZERO-OFF"),
          _b().tone(3000, 1000, [600], -20).record(filename="i", milliseconds_max_silence=2000).build()))
_add(Case("limits/zero-max-silence", ("SPEC-ZERO-OFF",),
          _b().record(filename="z", milliseconds_max_silence=0, seconds_timeout=20).build()))
_add(Case("limits/zero-max-bytes", ("SPEC-ZERO-OFF", "SPEC-RECORD-TIMEOUT"),
          _b().tone(0, 200_000, [600], -20).record(filename="z", file_format="s16bit", max_bytes=0).build()))
_add(Case("limits/timeout-default-alaw", ("SPEC-RECORD-TIMEOUT", "SPEC-RECORD-DEFAULTS", "SD-TIMER"),
          _b().tone(0, 200_000, [600], -20).record(filename="t").build()))
_add(Case("limits/default-16bit-tie", ("SPEC-SIZE", "SPEC-RECORD-TIMEOUT", "SD-TIES"),
          _b().tone(0, 200_000, [600], -20).record(filename="t", file_format="s16bit").build()))
for _fmt in ALL_FORMATS:
    _add(Case(f"limits/size-{_fmt}", ("SPEC-SIZE", "SD-SIZE"),
              _b().tone(0, 20_000, [600], -20).record(filename="z", file_format=_fmt, max_bytes=3000).build(),
              needs={"fmt": _fmt}))
_add(Case("limits/size-11025", ("SPEC-SIZE", "SD-SIZE", "SPEC-RATES"),
          _b().tone(0, 20_000, [600], -20).record(filename="z", rate=11025, max_bytes=5001).build(), needs={"rate": 11025}))
_add(Case("limits/bargein-inband", ("SPEC-BARGEIN", "SD-DTMF-FILE"),
          _b().speech(0, 2000).dtmf(2500, "5", tone_ms=80, gap_ms=80).record(filename="b", barge_in=True).build(),
          needs={"inband_dtmf": True}))
_add(Case("limits/long-speech-bargein", ("SPEC-BARGEIN", "SPEC-RECORD-TIMEOUT"),
          # 90 s of speech with barge_in on and no digit: a detector that talks off (hears a digit
          # in speech) ends the job with BARGEIN before its TIMEOUT
          _b().speech(0, 95_000).record(filename="s", barge_in=True, seconds_timeout=90,
                                        milliseconds_max_silence=0).build(),
          needs={"inband_dtmf": True}))
_add(Case("limits/size-and-digit-same-frame", ("SPEC-SIZE", "SPEC-BARGEIN", "SD-TIES"),
          # A-law fills 160 bytes a frame: max_bytes is reached by the frame that ends at 2040 ms,
          # the frame in which our detector confirms the digit that began at 2000 ms (SD-TIES:
          # SIZE before BARGEIN within a frame)
          _b().speech(0, 1900).dtmf(2000, "7", tone_ms=100, gap_ms=100)
          .record(filename="b", barge_in=True, max_bytes=16320, milliseconds_max_silence=0).build(),
          needs={"inband_dtmf": True}))
# Each termination condition alone, after start() and wait_until_finished(None), with nothing
# scheduled (no hangup, no timer, no out-of-band digit): only the caller's audio can end the job,
# and the wait must last until it does (SPEC-WAIT-NONE). A recorder that tells the call it cannot
# end by itself (the media sink's can_finish_alone) makes the wait fail at once.
_OFF = {"max_bytes": 0, "milliseconds_max_silence": 0, "milliseconds_initial_silence": 0, "barge_in": False}
for _name, _clause, _builder, _limit, _needs in (
        ("bargein", "SPEC-BARGEIN", _b().speech(0, 2000).dtmf(2500, "5", tone_ms=80, gap_ms=80),
         {"barge_in": True}, {"inband_dtmf": True}),
        ("silence", "SPEC-SILENCE", _b().tone(0, 1000, [600], -20), {"milliseconds_max_silence": 1000}, {}),
        ("initial-silence", "SPEC-INITIAL-SILENCE", _b().tone(5000, 1000, [600], -20),
         {"milliseconds_initial_silence": 3000}, {}),
        ("size", "SPEC-SIZE", _b().tone(0, 20_000, [600], -20), {"max_bytes": 3000}, {})):
    _add(Case(f"limits/alone-{_name}", ("SPEC-WAIT-NONE", _clause),
              _builder.start(filename="a", **{**_OFF, **_limit}).wait_until_finished(seconds_timeout=None)
              .action("state").action("cause").build(), needs=_needs))
# ITU-T Q.24 (AT&T column) rows, one digit each during a barge_in job (SD-DTMF-Q24): the edges
# of the acceptance range must barge in, what Q.24 rejects must not; either departure is a
# DSP-quality finding (NON-STRICT), never a FAIL
for _row, _kw in (("accept-offset+1.5", {"tone_ms": 45, "freq_offset_pct": 1.5}),
                  ("accept-offset-1.5", {"tone_ms": 45, "freq_offset_pct": -1.5}),
                  ("accept-twist+4", {"tone_ms": 45, "twist_db": 4.0, "level_dbm0": -25.0}),
                  ("accept-twist-8", {"tone_ms": 45, "twist_db": -8.0, "level_dbm0": -10.0}),
                  ("accept-40ms-25dbm0", {"tone_ms": 40, "level_dbm0": -25.0}),
                  ("reject-offset+3.5", {"freq_offset_pct": 3.5}),
                  ("reject-offset-3.5", {"freq_offset_pct": -3.5}),
                  ("reject-high-only+3.5", {"high_offset_pct": 3.5}),
                  ("reject-23ms", {"tone_ms": 23}),
                  ("reject-20ms", {"tone_ms": 20}),
                  ("reject-55dbm0", {"level_dbm0": -55.0})):
    _add(Case(f"dtmf-q24/{_row}", ("SPEC-BARGEIN", "SD-DTMF-Q24"),
              _b().speech(0, 1500).dtmf(2000, "5", **{"tone_ms": 80, "gap_ms": 80, **_kw})
              .record(filename="q", barge_in=True, milliseconds_max_silence=1500).build(),
              needs={"inband_dtmf": True}))
# The Q.24 edges over the whole keypad and the 5 ms block grid of a block-based detector: every
# digit once at the weakest level Q.24 accepts for its shortest time (40 ms, -25 dBm0: a clean
# digit, the FAIL line), once 1.5 % off (the sign alternating; NON-STRICT when missed), onsets
# stepping 1 ms so five sub-block alignments are played; and the longest tone Q.24 rejects (23 ms)
# at each alignment
for _i, _d in enumerate(_KEYPAD):
    for _row, _kw in ((f"keypad-{_d}-40ms-25dbm0", {"level_dbm0": -25.0}),
                      (f"keypad-{_d}-40ms-offset{'+' if _i % 2 else '-'}1.5",
                       {"freq_offset_pct": 1.5 if _i % 2 else -1.5})):
        _add(Case(f"dtmf-q24/{_row}", ("SPEC-BARGEIN", "SD-DTMF-Q24"),
                  _b().dtmf(500 + _i % 5, _d, tone_ms=40, gap_ms=40, **_kw)
                  .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
                  needs={"inband_dtmf": True}))
# The corners of Q.24's acceptance box, which a digit meets on every axis at once: each group 1.5 %
# off in either direction, twist +4 dB (the low tone at -25 dBm0) or -8 dB (the high tone at
# -25 dBm0), 40 ms. One case per digit, one job per corner (its onset stepping 1 ms over the 5 ms
# block grid); a missed corner is NON-STRICT (SD-DTMF-Q24), like the single-axis edges above
_CORNERS = [(lo, hi, tw) for lo in (-1.5, 1.5) for hi in (-1.5, 1.5) for tw in (4.0, -8.0)]
for _d in _KEYPAD:
    _bc = _b()
    for _j, (_lo, _hi, _tw) in enumerate(_CORNERS):
        _bc.dtmf(500 + 1000 * _j + _j % 5, _d, tone_ms=40, gap_ms=40, low_offset_pct=_lo, high_offset_pct=_hi,
                 twist_db=_tw, level_dbm0=-25.0 if _tw > 0 else -17.0)
    for _j in range(len(_CORNERS)):
        _bc.record(filename="q", barge_in=True, milliseconds_max_silence=1500)
    _add(Case(f"dtmf-q24/corners-{_d}", ("SPEC-BARGEIN", "SD-DTMF-Q24"), _bc.build(), needs={"inband_dtmf": True}))
for _k in range(5):
    _add(Case(f"dtmf-q24/reject-23ms-at+{_k}ms", ("SPEC-BARGEIN", "SD-DTMF-Q24"),
              _b().dtmf(500 + _k, "5", tone_ms=23, gap_ms=40)
              .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
              needs={"inband_dtmf": True}))
# Q.24's interruptions, observed through SD-DTMF-BUFFER: a digit sounding when the job starts
# (200 ms) is old; the same tone resumed after a 10 ms drop is still that digit (no barge-in),
# resumed after a 40 ms pause it is a new digit (a clean one: it must barge in). The break falls
# inside the job, or straddles its start (a detector primed before the job must carry the pause
# it has begun to count into the job)
_INTERRUPTS = (("interrupt-10ms-bridged", 100, 150, 10), ("interrupt-40ms-new-digit", 100, 150, 40),
               ("interrupt-10ms-across-start", 115, 80, 10), ("interrupt-40ms-across-start", 100, 80, 40))
for _row, _at, _tone, _gap in _INTERRUPTS:
    _add(Case(f"dtmf-q24/{_row}", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-Q24"),
              _b().dtmf(_at, "55", tone_ms=_tone, gap_ms=_gap).sleep(200)
              .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
              needs={"inband_dtmf": True}))
# The same digits while the application polls: it sleeps 20 ms at a time during the job (a
# loop checking state() does the same), so the call hands the recorder one frame at a time. A
# detector must decide alike however its audio is cut into blocks (SD-DTMF-Q24 edges, the FAIL
# line for a clean digit missed, as in the rows above).
def _polled(b: ScenarioBuilder, *, before_ms: int = 0, polls: int = 60, **params: Any) -> Scenario:
    if before_ms:
        b.sleep(before_ms)
    b.start(**{"filename": "p", "barge_in": True, "milliseconds_max_silence": 600, **params})
    for _ in range(polls):
        b.sleep(20)
    return b.wait_until_finished().build()


for _row, _at, _tone, _gap in _INTERRUPTS:
    _add(Case(f"dtmf-polled/{_row}", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-Q24"),
              _polled(_b().dtmf(_at, "55", tone_ms=_tone, gap_ms=_gap), before_ms=200), needs={"inband_dtmf": True}))
# A digit held from before the job that drops out for 10 ms twenty times (Q.24: bridged, still
# that digit, no barge-in), each drop 11 ms later in the 20 ms frame than the one before, so the
# drops fall at every 1 ms step of a frame, scanned in whole blocks and one frame at a time
_STUTTER = {"tone_ms": 101, "gap_ms": 10}
_add(Case("dtmf-q24/stutter-10ms-bridged", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-Q24"),
          _b().dtmf(150, "5" * 21, **_STUTTER).sleep(200)
          .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(), needs={"inband_dtmf": True}))
_add(Case("dtmf-polled/stutter-10ms-bridged", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-Q24"),
          _polled(_b().dtmf(150, "5" * 21, **_STUTTER), before_ms=200, polls=140), needs={"inband_dtmf": True}))
# An old digit (begun 30 to 50 ms before the job, in the detector's pre-roll) that drops out for
# 10 ms 60 ms into it (Q.24: bridged, no barge-in), the drop at each 1 ms step of a frame, fed one
# frame at a time
for _o in range(20):
    _add(Case(f"dtmf-polled/old-digit-drop-at+{_o}ms", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-Q24"),
              _polled(_b().dtmf(150 + _o, "55", tone_ms=60, gap_ms=10), before_ms=200), needs={"inband_dtmf": True}))
for _i, _d in enumerate(_KEYPAD):
    _add(Case(f"dtmf-polled/keypad-{_d}-40ms-25dbm0", ("SPEC-BARGEIN", "SD-DTMF-Q24"),
              _polled(_b().dtmf(500 + _i % 5, _d, tone_ms=40, gap_ms=40, level_dbm0=-25.0)), needs={"inband_dtmf": True}))
# Our detector's decisions inside Q.24's gray zone (SD-DTMF-GRAY: INFO, never a FAIL), each axis
# alone at points clear of our own edges, over the keypad (one job per digit, onsets stepping
# 1 ms over the 5 ms block grid): twist, frequency offset (both groups, the low or the high one,
# the sign alternating), the weaker tone's level (the high or the low one), and the tone's length;
# each once where ours hears the digit and once where it does not. A digit ours drops leaves its
# job running, so the next digits are played into the same job.
_GRAY_ROWS: tuple[tuple[str, Callable[[int], dict[str, Any]]], ...] = (
    ("twist+5.5-heard", lambda i: {"twist_db": 5.5, "level_dbm0": -20.0}),
    ("twist+6.5-dropped", lambda i: {"twist_db": 6.5, "level_dbm0": -20.0}),
    ("twist-9.5-heard", lambda i: {"twist_db": -9.5, "level_dbm0": -10.0}),
    ("twist-10.5-dropped", lambda i: {"twist_db": -10.5, "level_dbm0": -10.0}),
    ("offset-2.0pct-heard", lambda i: _gray_offset(i, 2.0)),
    ("offset-3.0pct-dropped", lambda i: _gray_offset(i, 3.0)),
    ("weak-tone-35dbm0-heard", lambda i: _gray_weak(i, -35.0)),
    ("weak-tone-37dbm0-dropped", lambda i: _gray_weak(i, -37.0)),
    ("tone-33ms-heard", lambda i: {"tone_ms": 33}),
    ("tone-24ms-dropped", lambda i: {"tone_ms": 24}),
)


def _gray_offset(i: int, pct: float) -> dict[str, Any]:
    """Both groups, the low one or the high one off by ``pct`` %, the sign alternating."""
    signed = pct if i % 2 else -pct
    return [{"freq_offset_pct": signed}, {"low_offset_pct": signed}, {"high_offset_pct": signed}][i % 3]


def _gray_weak(i: int, level: float) -> dict[str, Any]:
    """The high tone (twist -6 dB) or the low one (twist +3 dB) at ``level`` dBm0."""
    return {"level_dbm0": level + 6.0, "twist_db": -6.0} if i % 2 else {"level_dbm0": level, "twist_db": 3.0}


for _row, _params in _GRAY_ROWS:
    _bg = _b()
    for _i, _d in enumerate(_KEYPAD):
        _bg.dtmf(300 + 500 * _i + _i % 5, _d, **{"tone_ms": 60, "gap_ms": 40, **_params(_i)})
    for _ in _KEYPAD:
        _bg.record(filename="g", barge_in=True, milliseconds_max_silence=1500)
    _add(Case(f"dtmf-gray/{_row}", ("SPEC-BARGEIN", "SD-DTMF-GRAY"), _bg.build(), needs={"inband_dtmf": True}))
# Interruptions Q.24 leaves open (between its 10 ms, bridged, and its 40 ms, a new digit), seen
# through SD-DTMF-BUFFER as in the rows above: a digit sounding when the job starts drops out and
# resumes; ours bridges 17 ms (still that old digit) and hears a new digit after 28 ms
for _i, _d in enumerate(_KEYPAD):
    for _row, _gap in (("bridged", 17), ("new-digit", 28)):
        _add(Case(f"dtmf-gray/interrupt-{_gap}ms-{_row}-{_d}", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-GRAY"),
                  _b().dtmf(100 + _i % 5, _d * 2, tone_ms=150, gap_ms=_gap).sleep(200)
                  .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
                  needs={"inband_dtmf": True}))
# A sounding digit replaced by another with no pause at all (Q.24 asks for a 40 ms pause and
# says nothing of this): ours hears the new digit, so a digit held from before the job that
# changes into another barges in; over the keypad, each digit into its neighbour or into one
# on another row and column
for _i, _d in enumerate(_KEYPAD):
    _d2 = _KEYPAD[(_i + (1 if _i % 2 == 0 else 5)) % len(_KEYPAD)]
    _add(Case(f"dtmf-gray/digit-change-{_d}-to-{_d2}", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-GRAY"),
              _b().dtmf(100 + _i % 5, _d + _d2, tone_ms=150, gap_ms=0).sleep(200)
              .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
              needs={"inband_dtmf": True}))
_add(Case("dtmf-q24/noise-snr15-25dbm0", ("SPEC-BARGEIN", "SD-DTMF-TALKOFF"),
          # a -25 dBm0 digit in white noise 15 dB below the tones' power: it barges in
          _b().noise(300, 500, -37.0).dtmf(500, "5", tone_ms=60, level_dbm0=-25.0)
          .record(filename="q", barge_in=True, milliseconds_max_silence=600).build(),
          needs={"inband_dtmf": True}))
# Talk-off (SD-DTMF-TALKOFF): tones at two DTMF frequencies that a clean two-tone sender cannot
# make must not barge in: strong second harmonics (a voice or an instrument), strong third-order
# products (two harmonics of one voice, a non-linear path), other sound holding a third of the
# power or more. Each is a 100 ms "digit" a Q.24 detector would otherwise take.
for _row, _d, _kw in (("harmonics-both-6db", "5", {"low_harmonic_db": -6.0, "high_harmonic_db": -6.0}),
                      ("harmonic-low-6db", "8", {"low_harmonic_db": -6.0}),
                      ("harmonic-high-6db", "2", {"high_harmonic_db": -6.0}),
                      ("harmonic-high-6db-9", "9", {"high_harmonic_db": -6.0}),
                      ("im3-below-8db", "1", {"im3_below_db": -8.0}),
                      ("im3-above-8db", "5", {"im3_above_db": -8.0})):
    _add(Case(f"talkoff/{_row}", ("SPEC-BARGEIN", "SD-DTMF-TALKOFF"),
              _b().dtmf(500, _d, tone_ms=100, gap_ms=40, **_kw)
              .record(filename="t", barge_in=True, milliseconds_max_silence=600).build(),
              needs={"inband_dtmf": True}))
for _row, _other in (("third-tone-400hz", lambda b: b.tone(400, 300, [400.0], -10.0)),
                     ("third-tone-2500hz", lambda b: b.tone(400, 300, [2500.0], -10.0)),
                     ("white-noise-snr2", lambda b: b.noise(400, 300, -9.0))):
    _add(Case(f"talkoff/{_row}", ("SPEC-BARGEIN", "SD-DTMF-TALKOFF"),
              _other(_b()).dtmf(500, "5", tone_ms=100, gap_ms=40)
              .record(filename="t", barge_in=True, milliseconds_max_silence=600).build(),
              needs={"inband_dtmf": True}))
_add(Case("limits/bargein-off", ("SPEC-BARGEIN",),
          _b().dtmf(500, "5", tone_ms=80, gap_ms=80).record(filename="b", milliseconds_max_silence=1000).build()))
_add(Case("limits/bargein-oob", ("SPEC-BARGEIN",),
          _b().tone(0, 5000, [600], -20).dtmf(1234, "#", out_of_band=True).record(filename="b", barge_in=True).build(),
          needs={"out_of_band_dtmf": True}))
_add(Case("limits/digit-before-job", ("SD-DTMF-BUFFER", "SPEC-BARGEIN"),
          _b().dtmf(0, "1", tone_ms=300, gap_ms=0).sleep(200)
          .record(filename="b", barge_in=True, milliseconds_max_silence=1000).build(), needs={"inband_dtmf": True}))
_add(Case("limits/hangup-mid-record", ("SPEC-HANGUP-CAUSE", "SD-HANGUP"),
          _b().tone(0, 10_000, [600], -20).hangup(3210).record(filename="h").action("cause").build()))
_add(Case("limits/hangup-on-frame-boundary", ("SPEC-HANGUP-CAUSE", "SD-TIES"),
          _b().tone(0, 10_000, [600], -20).hangup(3200).record(filename="h").build()))
_add(Case("limits/hangup-first-frame", ("SPEC-HANGUP-CAUSE", "SD-HANGUP"),
          _b().tone(0, 10_000, [600], -20).hangup(5).record(filename="h").build()))
_add(Case("limits/digit-and-hangup-same-frame", ("SPEC-HANGUP-CAUSE", "SPEC-BARGEIN", "SD-TIES"),
          _b().tone(0, 10_000, [600], -20).dtmf(1000, "9", out_of_band=True).hangup(1000)
          .record(filename="h", barge_in=True).build(), needs={"out_of_band_dtmf": True}))
_add(Case("limits/hold-keeps-recording", ("SD-HOLD", "SPEC-EXC-NOTANSWERED"),
          _b().tone(0, 60_000, [600], -20).change(1000, "ON_HOLD").change(2000, "ANSWERED")
          .start(filename="h").sleep(1500).stop().sleep(1000).stop().build()))
_add(Case("limits/stop-aborted", ("SPEC-STOP", "SD-STOP"),
          _b().tone(0, 60_000, [600], -20).start(filename="a").sleep(2000).stop().action("cause").build()))
_add(Case("limits/stop-and-hangup-same-instant", ("SPEC-STOP", "SPEC-HANGUP-CAUSE", "SPEC-EXC-HANGUP", "SD-TIES"),
          _b().tone(0, 60_000, [600], -20).hangup(2000).start(filename="a").sleep(2000).stop().build()))

# -- exception paths: 4 methods x 14 call states x record state ---------------------------------
for _method in ("record", "start", "stop", "wait_until_finished"):
    for _state in CALL_STATES:
        for _busy in (False, True):
            b = _b().tone(0, 60_000, [600], -20)
            args = {"filename": "x", "seconds_timeout": 1} if _method == "record" else ({"filename": "x"} if _method == "start" else {})
            if _busy:
                b.start(filename="busy", milliseconds_max_silence=0)
                if _state != "ANSWERED":
                    b.change(500, _state)
                b.sleep(1000)
            elif _state != "ANSWERED":
                b = _b(state=_state).tone(0, 60_000, [600], -20)
            b.action(_method, **args).action("state")
            cl: tuple[str, ...] = ("SPEC-EXC-HANGUP",) if _state == "IDLE" else ("SPEC-EXC-NOTANSWERED",) if _state != "ANSWERED" else ()
            if _busy and _method in ("record", "start") and _state == "ANSWERED":
                cl = ("SPEC-EXC-BUSY",)
            if _busy and _state not in ("ANSWERED",):
                cl = cl + ("SPEC-EXC-ORDER",)
            _add(Case(f"exceptions/{_method}/{_state}/{'recording' if _busy else 'idle'}", cl or ("SPEC-" + _method.upper().replace('_UNTIL_FINISHED', ''),), b.build()))

# -- formats and rates --------------------------------------------------------------------------
for _fmt in ALL_FORMATS:
    for _rate in ALL_RATES:
        _add(Case(f"formats/{_fmt}/{_rate}", ("SPEC-FORMATS", "SPEC-RATES", "SPEC-WAV",
                                               {"ima": "SD-CODEC-IMA", "oki": "SD-CODEC-OKI"}.get(_fmt, "SD-WAV-LAYOUT"))
                  + (("SD-RESAMPLE",) if _rate != 8000 else ()),
                  # speech, a quiet tone, then loud audio: a +3 dBm0 sine (peaks near 32,250, every
                  # codec segment on the way) and speech at 0 dBm0 (peaks clipped at full scale)
                  _b().speech(0, 3000, -20).tone(3500, 500, [700], -25).tone(4000, 400, [997], 3)
                  .speech(4400, 1200, 0)
                  .record(filename="f.wav", file_format=_fmt, rate=_rate, milliseconds_max_silence=1500).build(),
                  needs={"fmt": _fmt, "rate": _rate}))

# The same audio while the application polls (sleeps 20 ms at a time, as a loop checking state()
# does): the recorder is handed one frame at a time, so every encoder's and resampler's state
# crosses a block boundary each frame; the file must be as good as one written in whole blocks
for _fmt in ALL_FORMATS:
    for _rate in ALL_RATES:
        _add(Case(f"formats/polled/{_fmt}/{_rate}", ("SPEC-FORMATS", "SPEC-RATES", "SPEC-WAV",
                                                      {"ima": "SD-CODEC-IMA", "oki": "SD-CODEC-OKI"}.get(_fmt, "SD-WAV-LAYOUT"))
                  + (("SD-RESAMPLE",) if _rate != 8000 else ()),
                  _polled(_b().tone(0, 300, [440], -20).speech(300, 1200, -20).tone(1500, 400, [997], 3)
                          .speech(1900, 600, 0), polls=180,
                          filename="f.wav", file_format=_fmt, rate=_rate, barge_in=False, milliseconds_max_silence=1000),
                  needs={"fmt": _fmt, "rate": _rate}))

# Audio clipped on one rail only (a 200 Hz sine plus its octave a quarter cycle later, loud
# enough that only the negative peaks reach full scale): a resampler that clips a block only
# when it overshoots both rails wraps the other rail's overshoot to the opposite sign
for _rate in (r for r in ALL_RATES if r != 8000):
    _add(Case(f"formats/one-rail/{_rate}", ("SPEC-FORMATS", "SPEC-RATES", "SPEC-WAV", "SD-RESAMPLE"),
              _b().tone(0, 2000, [200, 400], 1.2, phases_deg=[0, 90])
              .record(filename="f.wav", file_format="s16bit", rate=_rate, milliseconds_max_silence=500).build(),
              needs={"fmt": "s16bit", "rate": _rate}))
_add(Case("formats/oki/long", ("SPEC-FORMATS", "SPEC-WAV", "SD-CODEC-OKI"),
          # longer than two minutes: where an OKI encoder may switch to a compiled loop
          _b().speech(0, 125_000, -20).tone(123_000, 1000, [997], 3)
          .record(filename="o.wav", file_format="oki", seconds_timeout=125, milliseconds_max_silence=0).build(),
          needs={"fmt": "oki"}))

# -- cipher ---------------------------------------------------------------------------------------
for _bits, _key in KEYS.items():
    _add(Case(f"cipher/aes-{_bits}", ("SPEC-CIPHER", "SD-CIPHER"),
              _b().speech(0, 2000).record(filename="c.wav", milliseconds_max_silence=1000,
                                          cipher={"key": _key, "iv": IV}).build(), needs={"cipher": True}))
_add(Case("cipher/hangup", ("SPEC-CIPHER", "SD-CIPHER", "SPEC-HANGUP-CAUSE"),
          _b().speech(0, 5000).hangup(1500).record(filename="c.wav", cipher={"key": KEYS[128], "iv": IV}).build(),
          needs={"cipher": True}))


def _check_key_leak(factory: Any, caps: Capabilities) -> list[Finding]:
    """SD-CIPHER: the key and IV appear in no repr, message or log entry."""
    from callsim.contract import Cipher
    from simulator.runner import run_scenario

    s = _b().speech(0, 2000).record(filename="k.wav", milliseconds_max_silence=1000, cipher={"key": KEYS[256], "iv": IV}).build()
    res = run_scenario(s, factory)
    text = repr(res.log) + repr(res.steps) + repr(res.final)
    ch_rec = factory.__name__ if hasattr(factory, "__name__") else repr(factory)
    leaks = [k for k in (KEYS[256], IV, KEYS[256].upper(), IV.upper()) if k in text]
    out = []
    # The page says only that the file is encrypted; keeping credentials out of output is the
    # vendor's neighbouring rule and our decision, so a leak grades NON-STRICT.
    if leaks:
        out.append(Finding(Grade.NON_STRICT, ("SD-CIPHER",), f"key material appears in the event log or results of {ch_rec}"))
    c = Cipher(KEYS[256], IV)
    from simulator import CallChannel, Clock

    ch = CallChannel(Clock(), recorder_factory=factory)
    shown = []  # what a log line or traceback could print while a job holds the cipher
    try:
        ch.FileRecorder.start(filename="k2", cipher=c)
        shown += [repr(ch.FileRecorder), str(ch.FileRecorder), str(getattr(ch.FileRecorder, "__dict__", ""))]
        ch.FileRecorder.stop()
    except Exception as exc:  # noqa: BLE001 - its message is checked like any other output
        shown.append(str(exc))
    shown.append(repr(ch.FileRecorder))
    text = "\n".join(shown)
    if any(k in text for k in (KEYS[256], IV, KEYS[256].upper(), IV.upper())):
        out.append(Finding(Grade.NON_STRICT, ("SD-CIPHER",), "the recorder's repr, str, attributes or an exception message show the key or IV"))
    return out


_add(Case("cipher/no-key-in-output", ("SD-CIPHER",), check=_check_key_leak, needs={"cipher": True}))


# -- store faults -----------------------------------------------------------------------------------
def _fault_check(where: str, kind: str) -> Callable[[Any, Capabilities], list[Finding]]:
    """A store fault at the ``where`` of a recording (``faults.fault_findings`` grades it)."""

    def check(factory: Any, caps: Capabilities) -> list[Finding]:
        from simulator.runner import run_scenario

        # 25 s of sound: the simulator hands a recorder at most 10 s of audio at a time, so the
        # job writes several times and the middle fault lands while it still records
        def sound() -> ScenarioBuilder:
            return _b().tone(0, 25_000, [600], -20)

        base = sound().record(filename="f.wav", milliseconds_max_silence=1000)
        writes, size = count_writes(base.build(), factory)
        if writes == 0:
            return [nothing_written()]
        if kind == "write":
            n = {"first": 1, "middle": max(1, (writes + 1) // 2), "last": writes}[where]
            store = {"fail_write_n": n}
        else:
            n = {"first": 0, "middle": size // 2, "last": size - 1}[where]
            store = {"capacity_bytes": n}
        b = sound().store(**store)
        b.record(filename="f.wav", milliseconds_max_silence=1000).action("state").action("cause")
        b.record(filename="g.wav", seconds_timeout=1).action("state")
        scenario = b.build()
        return fault_findings(scenario, run_scenario(scenario, factory),
                              {"clean_writes": writes, "clean_bytes": size, "fault": store})

    return check


for _kind in ("write", "space"):
    for _where in ("first", "middle", "last"):
        _add(Case(f"faults/{_kind}-{_where}", ("SPEC-STATE-ERROR", "SD-ERROR", "SD-FILES-LEFT"), check=_fault_check(_where, _kind)))


def case_ids() -> list[str]:
    return [c.id for c in CATALOGUE]
