"""The stateful property ``stateful/api-model``: a hypothesis ``RuleBasedStateMachine`` that
interleaves API calls, application sleeps and events injected on a live call, and checks the
implementation against a small model of the spec after every step.

This module owns that machine and its model. The model knows no audio detail: the far end
sends one continuous loud tone, so silence never ends a job and every job with a whole frame
has heard audio. What can end a job is then a matter of time alone: its own timer (``record``),
its size limit, a hangup, an out-of-band digit (``barge_in``) and ``stop()``. Each of these is a
*candidate* end with a window ``[lo, hi]`` of ticks that every reading of the spec allows (the
first frame at the call or at the next frame boundary, SD-START; one frame of tolerance, as the
oracle grants). Where the windows leave the outcome open at the moment of an observation, the
machine asks the implementation's ``state()`` (a pure getter) and checks that the answer is one
the spec allows, then follows it.

Checked after every step: return values and exceptions of ``record``/``start``/``stop``/
``wait_until_finished`` (``Hangup`` on an idle call, ``Error`` on another non-answered call or a
busy recorder), ``state()``, ``cause()``, ``audio_detected_in_recording()``, that no store writer
is left open when no job runs, and that a job's file is published. Before each call the
application yields for zero time (``clock.sleep(0)``), so events due at that instant are
handled first (SD-TIES rule 3) and a replay through ``callsim run`` sees the same order.

A failing run is exported as an equivalent scenario (absolute event times, the same action
script including the getters the machine called), so it replays with ``callsim run``.

The machine is the class ``RecorderApiMachine``; ``RecorderApiMachine.bound(factory, caps,
tracker)`` is the subclass hypothesis runs against one implementation, and ``run_stateful``
runs it and folds the outcome into a ``CaseResult`` (``conformance.tracker``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, NoReturn

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from callsim.contract import (
    FRAME,
    TICKS_PER_SECOND,
    CallState,
    Deadlock,
    Error,
    Hangup,
    SimulationLimit,
    ms_to_ticks,
    ticks_to_ms,
)
from simulator import CallChannel, Clock
from simulator.audio import Timeline, Tone
from simulator.scenario import Scenario, ScenarioBuilder

from . import strategies as S
from .capabilities import Capabilities
from .grades import CaseResult, Finding, Grade
from .model import out_samples, sample_limit
from .tracker import Tracker, run_tracked

__all__ = ["STATEFUL_ID", "STATEFUL_CLAUSES", "RecorderApiMachine", "run_stateful", "TONE_DBM0", "TOL"]

STATEFUL_ID = "stateful/api-model"
STATEFUL_CLAUSES = ("SPEC-RECORD", "SPEC-START", "SPEC-STOP", "SPEC-WAIT", "SPEC-WAIT-TIMEOUT", "SPEC-STATE-FN",
                    "SPEC-CAUSE-FN", "SPEC-CAUSE-END", "SPEC-AUDIO", "SPEC-EXC-HANGUP", "SPEC-EXC-NOTANSWERED",
                    "SPEC-EXC-BUSY", "SPEC-HANGUP-CAUSE", "SPEC-BARGEIN", "SPEC-SIZE", "SPEC-RECORD-TIMEOUT",
                    "SD-WAIT-TIMEOUT", "SD-HOLD", "SD-START", "SD-START-FALSE", "SD-FILES-LEFT")
TONE_DBM0 = -20.0
TONE_HZ = 600.0
#: One frame of tolerance on every instant, as the oracle grants for what the text fixes.
TOL = FRAME
#: SD-TIES priorities of candidates due at the same tick (frame limits, hangup, digit, timer).
_PRIO = {"SIZE": 0, "HANGUP": 1, "BARGEIN": 2, "TIMEOUT": 3, "ABORTED": 4}


def _name(v: Any) -> Any:
    return v.name if isinstance(v, Enum) else v


@dataclass
class _Cand:
    """A way the running job may end: ``cause`` somewhere in ticks ``[lo, hi]``."""

    cause: str
    lo: int
    hi: int
    ours: int  # the tick under our decisions
    optional: bool = False  # it may not end the job at all (a digit near the job's start)
    soft: str = ""  # a decision (SD-*) this end departs from: taking it grades NON-STRICT


@dataclass
class _Job:
    call: int  # tick of the record()/start() call
    first_hi: int  # first frame under SD-START (the next frame boundary)
    filename: str
    barge_in: bool
    cands: list[_Cand] = field(default_factory=list)

    def mandatory_hi(self) -> int | None:
        his = [c.hi for c in self.cands if not c.optional]
        return min(his) if his else None

    def ours(self) -> _Cand | None:
        live = [c for c in self.cands if not c.optional]
        return min(live, key=lambda c: (c.ours, _PRIO[c.cause])) if live else None


class _Failed(AssertionError):
    pass


def _audio_allowed(job: _Job, end: int) -> set[bool]:
    """audio_detected after a job of the continuous loud tone that ended at ``end``."""
    if end - job.first_hi >= 2 * FRAME:
        return {True}  # at least two whole frames of tone under every reading
    if end - job.call < FRAME:
        return {False}  # not one whole frame under any reading
    return {True, False}


class RecorderApiMachine(RuleBasedStateMachine):
    """API calls, sleeps and injected events against the spec model (see module doc).

    Hypothesis runs a class, so what a run needs reaches the machine through class attributes:
    ``bound(factory, caps, tracker)`` returns the runnable subclass that sets them and turns
    ``record`` and ``start`` into rules drawing only the formats and rates ``caps`` declares.
    """

    #: the recorder factory under test, ``factory(channel) -> recorder``
    factory: ClassVar[Any]
    #: what the implementation declares (formats, rates, out-of-band DTMF)
    caps: ClassVar[Capabilities]
    #: receives the examples, the causes reached, NON-STRICT observations and the last failure
    tracker: ClassVar[Tracker]

    @classmethod
    def bound(cls, factory: Any, caps: Capabilities, tracker: Tracker) -> type[RecorderApiMachine]:
        """The machine class to run against ``factory``, reporting to ``tracker``."""
        fmts, rates = S.supported_formats(caps), S.supported_rates(caps)
        base = RecorderApiMachine
        record = rule(timeout_ms=st.integers(100, 3000), fmt=fmts, rate=rates,
                      max_bytes=st.one_of(st.just(0), st.integers(2000, 60_000)), barge_in=st.booleans(),
                      filename=st.sampled_from(("r1.wav", "r2.wav")))(base.record)
        start = rule(fmt=fmts, rate=rates,
                     max_bytes=st.one_of(st.just(0), st.just(0), st.integers(2000, 60_000)), barge_in=st.booleans(),
                     filename=st.sampled_from(("s1.wav", "s2.wav")))(base.start)
        return type(cls.__name__, (cls,), {"factory": staticmethod(factory), "caps": caps, "tracker": tracker,
                                           "record": record, "start": start})

    def __init__(self) -> None:
        super().__init__()
        # every rule waits at most a few seconds (a wait with nothing to end its job is capped at
        # 1.5 s): ten minutes per blocking call stops a job that never ends long before the
        # clock's own 8 days of recorded audio
        self.clock = Clock(limit=600 * TICKS_PER_SECOND)
        tone = Tone(start=0, duration=3600 * TICKS_PER_SECOND, freqs=(TONE_HZ,), level_dbm0=TONE_DBM0)
        self.channel = CallChannel(self.clock, audio=Timeline((tone,)), recorder_factory=self.factory)
        self.rec = self.channel.FileRecorder
        self.job: _Job | None = None
        self.state = "IDLE"
        self.cause = "NONE"
        self.audio: set[Any] = {None}
        self.last_file: tuple[str, str] | None = None  # (filename, cause) of the last job
        self.hangup_at: int | None = None
        self.digits: list[int] = []
        self.changes: list[tuple[int, str]] = []
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.tracker.examples += 1

    # -- plumbing ----------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.clock.now

    def _trace(self, call: str, **args: Any) -> None:
        self.actions.append((call, args))

    def scenario(self) -> Scenario:
        """The run so far as a scenario file (event times absolute, in ms)."""
        b = ScenarioBuilder(seed=0)
        b.tone(0, 3_600_000, [TONE_HZ], TONE_DBM0)
        if self.hangup_at is not None:
            b.hangup(round(ticks_to_ms(self.hangup_at)))
        for at, s in self.changes:
            b.change(round(ticks_to_ms(at)), s)
        for d in self.digits:
            b.dtmf(round(ticks_to_ms(d)), "5", out_of_band=True)
        return dataclasses.replace(S.apply_actions(b, self.actions).build(),
                                   description=f"{STATEFUL_ID}: a run of the API state machine")

    def _fail(self, message: str, clauses: tuple[str, ...], **evidence: Any) -> NoReturn:
        ev = {"at_ms": ticks_to_ms(self.now), **evidence}
        self.tracker.last_fail = (self.scenario(), [Finding(Grade.FAIL, clauses, message, ev)])
        raise _Failed(message)

    def _soft(self, message: str, clauses: tuple[str, ...]) -> None:
        self.tracker.note_soft([Finding(Grade.NON_STRICT, clauses, message, {})])

    def _settle(self) -> None:
        # the application yields for zero time: events due now are handled before its call
        self.clock.sleep(0)
        self._trace("sleep", ms=0)

    def _get(self, call: str) -> Any:
        self._trace(call)
        try:
            return _name(getattr(self.rec, call)())
        except Exception as exc:  # a getter must not raise
            self._fail(f"{call}() raised {type(exc).__name__}: {exc}", ("SPEC-STATE-FN",))

    def _expected_exception(self, busy_matters: bool) -> tuple[str | None, tuple[str, ...]]:
        cs = self.channel.state()
        if cs is CallState.IDLE:
            return "Hangup", ("SPEC-EXC-HANGUP",)
        if cs is not CallState.ANSWERED:
            return "Error", ("SPEC-EXC-NOTANSWERED",)
        if busy_matters and self.job is not None:
            return "Error", ("SPEC-EXC-BUSY",)
        return None, ()

    def _call(self, name: str, **kwargs: Any) -> tuple[Any, BaseException | None]:
        self._trace(name, **kwargs)
        try:
            return _name(getattr(self.rec, name)(**kwargs)), None
        except (Deadlock, SimulationLimit) as exc:
            self._fail(f"{name}() never returned: {exc}", ("SPEC-WAIT" if name == "wait_until_finished" else "SPEC-RECORD",))
        except Exception as exc:  # compared with the expected exception by the caller
            return None, exc
        return None, None  # unreachable

    def _hangup_during(self, name: str, exc: BaseException | None, expected: str | None) -> bool:
        """SD-HANGUP: another reading raises Hangup from a blocking call when the call hangs up
        while it waits; the job's cause is then HANGUP (NON-STRICT, not FAIL)."""
        if expected is None and isinstance(exc, Hangup) and self.channel.state() is CallState.IDLE:
            self._soft(f"{name}() raised Hangup when the call hung up during the job", ("SD-HANGUP",))
            return True
        return False

    def _check_raised(self, name: str, exc: BaseException | None, expected: str | None, clauses: tuple[str, ...]) -> bool:
        """True if the call raised (as expected); FAIL on any mismatch."""
        if expected is None:
            if exc is not None:
                self._fail(f"{name}() raised {type(exc).__name__}: {exc}", clauses or ("SPEC-RECORD",))
            return False
        want = Hangup if expected == "Hangup" else Error
        self.tracker.reached[f"raised {expected}"] += 1
        if exc is None:
            self._fail(f"{name}() on call state {self.channel.state().value} with record state "
                       f"{'RECORDING' if self.job else self.state} did not raise {expected}", clauses)
        elif not isinstance(exc, want) or (expected == "Error" and isinstance(exc, Hangup)):
            self._fail(f"{name}() raised {type(exc).__name__}, the spec says {expected}", clauses)
        return True

    # -- the model ---------------------------------------------------------------------
    def _new_job(self, filename: str, fmt: str, rate: int, max_bytes: int, barge_in: bool,
                 timeout_ticks: int | None) -> _Job:
        t = self.now
        first_hi = t + (-t) % FRAME
        job = _Job(t, first_hi, filename, barge_in)
        if timeout_ticks is not None:
            job.cands.append(_Cand("TIMEOUT", t + timeout_ticks - TOL, first_hi + timeout_ticks + TOL,
                                   first_hi + timeout_ticks))
        lim = sample_limit(fmt, max_bytes)
        if lim is not None:
            f = 0
            while out_samples(f, rate) < lim:
                f += 1
            job.cands.append(_Cand("SIZE", t + f * FRAME - TOL, first_hi + f * FRAME + TOL, first_hi + f * FRAME))
        if self.hangup_at is not None and self.hangup_at > t:
            job.cands.append(_Cand("HANGUP", self.hangup_at, self.hangup_at + TOL, self.hangup_at))
        if barge_in:
            for d in self.digits:
                self._digit_cand(job, d)
        for at, state in self.changes:
            if at > t and state != "ANSWERED":
                self._hold_cands(job, at)
        return job

    def _hold_cands(self, job: _Job, at: int) -> None:
        # SD-HOLD: hold and transfer do not end a job (ours); other readings end it there
        for cause in ("HANGUP", "ABORTED", "ERROR"):
            job.cands.append(_Cand(cause, at, at + TOL, at, optional=True, soft="SD-HOLD"))

    def _digit_cand(self, job: _Job, d: int) -> None:
        if d <= job.call:
            return  # before the call (or at its instant, handled first): never a barge-in
        # SD-DTMF-BUFFER: a digit before the first frame does not barge in; other readings
        # start recording at the call itself
        job.cands.append(_Cand("BARGEIN", d, d + TOL, d, optional=d < job.first_hi))

    def _end_job(self, cause: str, end: int, *, soft: bool = False) -> None:
        assert self.job is not None
        job = self.job
        self.job = None
        self.state = "IDLE"
        self.cause = cause
        self.audio = _audio_allowed(job, end)
        self.last_file = (job.filename, cause)
        self.tracker.reached[cause] += 1
        ours = job.ours()
        if ours is not None and not soft and cause != "ABORTED" and ours.cause != cause:
            self._soft(f"the job ended with {cause}; our decisions give {ours.cause}", ("SD-TIES", "SD-START"))

    def _possible(self, end_lo: int, end_hi: int) -> list[_Cand]:
        """Candidates that may have ended the job somewhere in ``[end_lo, end_hi]``."""
        assert self.job is not None
        mh = self.job.mandatory_hi()
        return [c for c in self.job.cands if c.lo <= end_hi and c.hi >= end_lo and (mh is None or c.lo <= mh)]

    def _sync(self) -> None:
        """Decide whether the job is still running now; ask state() where the spec is open."""
        job = self.job
        if job is None:
            return
        t = self.now
        mh = job.mandatory_hi()
        surely_ended = mh is not None and mh < t
        surely_running = all(c.lo > t for c in job.cands)
        if surely_running:
            return
        if self._get("state") == "RECORDING":
            if surely_ended and mh is not None:
                self._fail(f"state() is RECORDING at {ticks_to_ms(t):g} ms; the job must have ended by {ticks_to_ms(mh):g} ms",
                           ("SPEC-STATE-FN",), candidates=[vars(c) for c in job.cands])
            for c in job.cands:
                c.lo = max(c.lo, t)
            job.cands = [c for c in job.cands if not (c.optional and c.hi < t)]
            return
        cause = self._get("cause")
        possible = self._possible(job.call, t)
        if cause not in {c.cause for c in possible}:
            self._fail(f"the job ended with {cause}; by now the spec allows {sorted({c.cause for c in possible}) or 'none'}"
                       + ("" if surely_ended else " (or still RECORDING)"),
                       ("SPEC-CAUSE-END", "SPEC-STATE-FN"), candidates=[vars(c) for c in job.cands])
        soft = self._note_soft_end(possible, cause)
        end_lo = min(c.lo for c in possible if c.cause == cause)
        self._end_job(cause, max(job.call, min(end_lo, t)), soft=soft)

    def _check_end(self, name: str, got: Any, t_end: int) -> None:
        """A blocking call returned the job's cause ``got`` at ``t_end``."""
        assert self.job is not None
        possible = self._possible(t_end, t_end)
        mh = self.job.mandatory_hi()
        if mh is not None and t_end > mh:
            self._fail(f"{name}() returned at {ticks_to_ms(t_end):g} ms, after the job must have ended (by {ticks_to_ms(mh):g} ms)",
                       ("SPEC-RECORD" if name == "record" else "SPEC-WAIT",), candidates=[vars(c) for c in self.job.cands])
        if got not in {c.cause for c in possible}:
            from .grading import CAUSE_CLAUSE

            self._fail(f"{name}() returned {got!r} at {ticks_to_ms(t_end):g} ms; the spec allows "
                       f"{sorted({c.cause for c in possible}) or 'no end at that instant'}",
                       (CAUSE_CLAUSE.get(str(got), "SPEC-RECORD"), "SPEC-RECORD" if name == "record" else "SPEC-WAIT"),
                       candidates=[vars(c) for c in self.job.cands])
        self._end_job(str(got), t_end, soft=self._note_soft_end(possible, str(got)))

    def _note_soft_end(self, possible: list[_Cand], cause: str) -> bool:
        """NON-STRICT when only a reading other than our decision ends the job this way."""
        matching = [c for c in possible if c.cause == cause]
        if matching and all(c.soft for c in matching):
            self._soft(f"the job ended with {cause} where only another reading of {matching[0].soft} ends it",
                       (matching[0].soft,))
            return True
        return False

    # -- rules: the API --------------------------------------------------------------------
    # record and start draw the formats and rates of the capabilities: ``bound`` makes them rules
    def record(self, timeout_ms: int, fmt: str, rate: int, max_bytes: int, barge_in: bool, filename: str) -> None:
        self._settle()
        self._sync()
        expected, clauses = self._expected_exception(busy_matters=True)
        args = {"filename": filename, "file_format": fmt, "rate": rate, "seconds_timeout": timeout_ms / 1000,
                "max_bytes": max_bytes, "milliseconds_max_silence": 0, "milliseconds_initial_silence": 0,
                "barge_in": barge_in}
        job = None if expected else self._new_job(filename, fmt, rate, max_bytes, barge_in, ms_to_ticks(timeout_ms))
        got, exc = self._call("record", **args)
        if self._hangup_during("record", exc, expected):
            got, exc = "HANGUP", None
        if self._check_raised("record", exc, expected, clauses):
            return
        self.job = job
        self._check_end("record", got, self.now)

    def start(self, fmt: str, rate: int, max_bytes: int, barge_in: bool, filename: str) -> None:
        self._settle()
        self._sync()
        expected, clauses = self._expected_exception(busy_matters=True)
        args = {"filename": filename, "file_format": fmt, "rate": rate, "max_bytes": max_bytes,
                "milliseconds_max_silence": 0, "milliseconds_initial_silence": 0, "barge_in": barge_in}
        job = None if expected else self._new_job(filename, fmt, rate, max_bytes, barge_in, None)
        got, exc = self._call("start", **args)
        if self._check_raised("start", exc, expected, clauses):
            return
        assert job is not None
        self.job = job
        t = self.now
        if got is True:
            if t > job.first_hi + TOL:
                self._fail(f"start() returned at {ticks_to_ms(t):g} ms, after the first frame ({ticks_to_ms(job.first_hi):g} ms)",
                           ("SPEC-START", "SD-START"))
            return
        if got is not False:
            self._fail(f"start() returned {got!r}, not True or False", ("SPEC-START",))
        # SD-START-FALSE: only when the job ended before its first frame
        early = [c for c in job.cands if c.lo <= max(t, job.first_hi)]
        cause = self._get("cause")
        if cause not in {c.cause for c in early}:
            self._fail(f"start() returned False (cause {cause}) with nothing that ends the job before its first frame",
                       ("SPEC-START", "SD-START-FALSE"))
        self._end_job(cause, t)

    @rule()
    def stop(self) -> None:
        self._settle()
        self._sync()
        expected, clauses = self._expected_exception(busy_matters=False)
        got, exc = self._call("stop")
        if self._check_raised("stop", exc, expected, clauses):
            return
        if got is not True:
            self._fail(f"stop() returned {got!r}, expected True", ("SPEC-STOP",))
        if self.job is not None:
            self._end_job("ABORTED", self.now)

    @rule(timeout_ms=st.one_of(st.none(), st.integers(0, 3000)))
    def wait_until_finished(self, timeout_ms: int | None) -> None:
        self._settle()
        self._sync()
        if timeout_ms is None and self.job is not None and self.job.mandatory_hi() is None:
            timeout_ms = 1500  # nothing would end this job: a wait without limit would never return
        expected, clauses = self._expected_exception(busy_matters=False)
        t0 = self.now
        got, exc = self._call("wait_until_finished", seconds_timeout=None if timeout_ms is None else timeout_ms / 1000)
        if self._hangup_during("wait_until_finished", exc, expected):
            got, exc = "HANGUP", None
        if self._check_raised("wait_until_finished", exc, expected, clauses):
            return
        t = self.now
        if self.job is None:
            if got != self.cause or t != t0:
                self._fail(f"wait_until_finished() with no job running returned {got!r} at {ticks_to_ms(t):g} ms; "
                           f"expected {self.cause!r} at once", ("SPEC-WAIT", "SPEC-CAUSE-END"))
            return
        deadline = None if timeout_ms is None else t0 + timeout_ms * 8
        if got == "TIMEOUT":
            # the wait's own timeout (a started job has no timer of its own); SD-WAIT-TIMEOUT
            mh = self.job.mandatory_hi()
            if deadline is None or not deadline <= t <= deadline + TOL:
                self._fail(f"wait_until_finished({timeout_ms and timeout_ms / 1000}) returned TIMEOUT at {ticks_to_ms(t):g} ms",
                           ("SPEC-WAIT-TIMEOUT",))
            if mh is not None and deadline is not None and mh < deadline:
                self._fail(f"wait_until_finished() returned TIMEOUT, but the job must have ended by {ticks_to_ms(mh):g} ms",
                           ("SPEC-WAIT", "SPEC-WAIT-TIMEOUT"), candidates=[vars(c) for c in self.job.cands])
            if self._get("state") != "RECORDING":
                # SD-WAIT-TIMEOUT: ours keeps the job running; another reading ends it
                self._soft("wait_until_finished() returned TIMEOUT and the job ended", ("SD-WAIT-TIMEOUT",))
                self._end_job(self._get("cause"), t, soft=True)
                return
            for c in self.job.cands:
                c.lo = max(c.lo, t)
            self.job.cands = [c for c in self.job.cands if not (c.optional and c.hi < t)]
            return
        if deadline is not None and t > deadline + TOL:
            self._fail(f"wait_until_finished() returned at {ticks_to_ms(t):g} ms, after its timeout ({ticks_to_ms(deadline):g} ms)",
                       ("SPEC-WAIT-TIMEOUT",))
        self._check_end("wait_until_finished", got, t)

    @rule(ms=st.one_of(st.integers(0, 2000), st.integers(0, 100).map(lambda k: k * 20)))
    def sleep(self, ms: int) -> None:
        self._trace("sleep", ms=ms)
        self.clock.sleep(ms_to_ticks(ms))

    # -- rules: events on the live call -------------------------------------------------
    def _pending_change_end(self) -> int:
        return max((at for at, _s in self.changes), default=-1)

    @precondition(lambda self: self.hangup_at is None)
    @rule(k_ms=st.integers(1, 3000))
    def inject_hangup(self, k_ms: int) -> None:
        at = max(self.now + ms_to_ticks(k_ms), self._pending_change_end() + ms_to_ticks(1))
        self.channel.schedule_state(at, CallState.IDLE, reason="hangup")
        self.hangup_at = at
        if self.job is not None:
            self.job.cands.append(_Cand("HANGUP", at, at + TOL, at))

    @precondition(lambda self: self.caps.out_of_band_dtmf)
    @rule(k_ms=st.integers(1, 3000))
    def inject_digit(self, k_ms: int) -> None:
        at = self.now + k_ms * 8
        self.channel.schedule_dtmf(at, "5")
        self.digits.append(at)
        if self.job is not None and self.job.barge_in:
            self._digit_cand(self.job, at)

    @precondition(lambda self: self.hangup_at is None and self._pending_change_end() < self.now)
    @rule(k_ms=st.integers(1, 1500), hold_ms=st.integers(20, 1500), state=st.sampled_from(S.HOLD_STATES))
    def inject_hold(self, k_ms: int, hold_ms: int, state: str) -> None:
        at, back = self.now + ms_to_ticks(k_ms), self.now + ms_to_ticks(k_ms + hold_ms)
        self.channel.schedule_state(at, CallState(state))
        self.channel.schedule_state(back, CallState.ANSWERED)
        self.changes += [(at, state), (back, "ANSWERED")]
        if self.job is not None:
            self._hold_cands(self.job, at)

    # -- after every step -------------------------------------------------------------------
    @invariant()
    def observable_state(self) -> None:
        self._settle()
        self._sync()
        running = self.job is not None
        state, cause, audio = self._get("state"), self._get("cause"), self._get("audio_detected_in_recording")
        want_state = "RECORDING" if running else self.state
        if state != want_state:
            self._fail(f"state() is {state!r}, the spec says {want_state!r}", ("SPEC-STATE-FN",))
        want_cause = "NONE" if running else self.cause
        if cause != want_cause:
            self._fail(f"cause() is {cause!r}, the spec says {want_cause!r}", ("SPEC-CAUSE-FN", "SPEC-CAUSE-END"))
        want_audio = {None} if running else self.audio
        if audio not in want_audio:
            self._fail(f"audio_detected_in_recording() is {audio!r}, the spec allows {sorted(map(repr, want_audio))}",
                       ("SPEC-AUDIO",) + (("SPEC-AUDIO-TRUE",) if want_audio == {True} else ()))
        if not running:
            writers = self.channel.store.open_writers() if hasattr(self.channel.store, "open_writers") else 0
            if writers:
                self._fail(f"{writers} store writer(s) open while no job runs", ("SPEC-WAV",))
            if self.last_file is not None:
                name, why = self.last_file
                if not self.channel.store.exists(name):
                    if why in ("SILENCE", "SIZE", "TIMEOUT"):
                        self._fail(f"no file {name!r} after a job that ended with {why}", ("SPEC-RECORD",))
                    self._soft(f"no file {name!r} after a job that ended with {why}", ("SD-FILES-LEFT",))
                self.last_file = None


def run_stateful(factory: Any, caps: Capabilities, hs: settings) -> CaseResult:
    """Run the machine under ``hs`` and fold the outcome into a ``CaseResult``."""
    tr = Tracker()
    machine = RecorderApiMachine.bound(factory, caps, tr)
    steps = 15 if hs.max_examples < 100 else 30
    # small profiles: runs are cheap (no oracle, no file decoding), so twice the examples
    n = hs.max_examples * (2 if hs.max_examples < 100 else 1)

    def test() -> None:
        try:
            run_state_machine_as_test(machine, settings=settings(hs, max_examples=n, stateful_step_count=steps))
        except Exception as exc:  # the minimal failing run (or a crash in the implementation)
            if tr.last_fail is not None and not isinstance(exc, _Failed):
                tr.last_fail = (tr.last_fail[0], [Finding(Grade.FAIL, STATEFUL_CLAUSES,
                                                          f"the run crashed: {type(exc).__name__}: {str(exc)[:300]}")])
            raise

    return run_tracked(CaseResult(STATEFUL_ID, STATEFUL_CLAUSES), tr, test, None)
