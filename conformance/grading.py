"""Grade one scenario run: FAIL only where a sentence of the text is broken.

``grade_scenario(scenario, factory)`` runs the scenario with the implementation under test and
grades everything observable against two oracles:

* the allowed engine (``conformance.allowed``): what any reading of the vendor's text permits.
  An observation outside it is **FAIL**, on a ``SPEC-*`` clause whose quoted sentence it
  contradicts (``Finding.quote``); FAIL findings can only be made through ``_fail``, which
  refuses a clause without a quote;
* the ours engine (``conformance.model.predict``): what our decisions predict (with the two
  measurement uncertainties either way). An observation the text allows but our decisions do
  not give is **NON-STRICT**, on the ``SD-*`` decision concerned (``_soft`` refuses anything
  else).

The script is walked along the observed run (see ``conformance.allowed``): each step is checked,
then the model is narrowed by what the step showed, so one disagreement gives one finding.
Findings carry ``{"observed", "allowed", "ours"}`` side by side. Files are read with the suite's
own WAV reader and decoders and aligned with the far-end audio over the whole span the readings
allow (FFT least squares); the implementation is never asked to describe its output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import correlate

from callsim.contract import DBM0_RMS, TICKS_PER_SECOND, Cipher, seconds_to_ticks, ticks_to_ms
from simulator.runner import RunResult, run_scenario
from simulator.scenario import Scenario
from simulator.store import StoreWrite

from .allowed import (
    INF,
    JOB_CAUSES,
    TOL,
    FileSpan,
    JobModel,
    _ms,
    _ms_range,
    args_valid,
    file_span,
    job_limits,
)
from .clauses import CLAUSES
from .decoders import decode_wav
from .grades import Finding, Grade
from .model import (
    DEFAULTS,
    FRAME,
    ScriptOutcome,
    World,
    out_samples,
    predict,
    sample_limit,
    script_of,
)
from .quantisation import adpcm_check, adpcm_states, g711_outside
from .resampled import INBAND_DB, continued, gross_errors, inband_worst, ratio, references, resample
from .wavread import WavFormatError, check_wav

__all__ = ["grade_scenario", "PlaintextSpy", "CAUSE_CLAUSE", "Oracle", "oracle_view"]

CAUSE_CLAUSE = {
    "SILENCE": "SPEC-SILENCE", "SIZE": "SPEC-SIZE", "TIMEOUT": "SPEC-RECORD-TIMEOUT",
    "BARGEIN": "SPEC-BARGEIN", "HANGUP": "SPEC-HANGUP-CAUSE", "ABORTED": "SPEC-STOP",
    "ERROR": "SPEC-STATE-ERROR", "NONE": "SPEC-CAUSE-FN",
}
STEP_CLAUSE = {
    "record": "SPEC-RECORD", "start": "SPEC-START", "stop": "SPEC-STOP", "wait_until_finished": "SPEC-WAIT",
    "state": "SPEC-STATE-FN", "cause": "SPEC-CAUSE-END", "audio_detected_in_recording": "SPEC-AUDIO",
}
#: Decision of a cause's timing (for NON-STRICT findings about when a job ended).
CAUSE_DECISION = {
    "SILENCE": "SD-SILENCE", "SIZE": "SD-SIZE", "TIMEOUT": "SD-TIMER", "BARGEIN": "SD-DTMF-FILE",
    "HANGUP": "SD-TIES", "ABORTED": "SD-STOP", "ERROR": "SD-ERROR",
}
DTMF_LATENCY_TOL = 3 * FRAME  # 60 ms: the detection latency window of an in-band digit


class PlaintextSpy:
    """A store write observer that remembers the files any plaintext WAV bytes were written to
    (an encrypted recording must never put its header or audio in the store in the clear)."""

    def __init__(self) -> None:
        self.plain_writes: list[str] = []

    def __call__(self, write: StoreWrite) -> None:
        if any(mark in write.data for mark in (b"RIFF", b"WAVEfmt", b"fmt ")):
            self.plain_writes.append(write.name)


# -- findings: FAIL needs a quoted sentence, NON-STRICT a decision -----------------------------------
def _fail(clauses: tuple[str, ...] | list[str] | set[str], message: str, **evidence: Any) -> Finding:
    """A FAIL finding; at least one clause must be a SPEC clause with a quoted sentence."""
    ordered = list(dict.fromkeys(clauses))
    spec = [c for c in ordered if c in CLAUSES and CLAUSES[c].fixed and CLAUSES[c].quote]
    if not spec:
        raise ValueError(f"a FAIL must name a SPEC clause with a quote, got {ordered}")
    ordered = spec + [c for c in ordered if c not in spec]
    ev = {k: v for k, v in evidence.items() if v is not None}
    if len(spec) > 1:  # the first sentence is the finding's own (``Finding.quote``)
        ev["quotes"] = {c: CLAUSES[c].quote for c in spec[1:]}
    return Finding(Grade.FAIL, tuple(ordered), message, ev)


#: Decisions that grade a departure INFO, not NON-STRICT: where our detector's choice inside
#: Q.24's gray zone is only for information (docs/spec-decisions.md, SD-DTMF-GRAY).
INFO_DECISIONS = frozenset({"SD-DTMF-GRAY"})


def _soft(clauses: tuple[str, ...] | list[str] | set[str], message: str, **evidence: Any) -> Finding:
    """A NON-STRICT finding: our decision (an SD-* clause) not followed where the text allows it;
    INFO when the decision it leads with is one of INFO_DECISIONS."""
    ordered = [c for c in dict.fromkeys(clauses) if c.startswith("SD-")] or ["SD-TIES"]
    grade = Grade.INFO if ordered[0] in INFO_DECISIONS else Grade.NON_STRICT
    return Finding(grade, tuple(ordered), message, {k: v for k, v in evidence.items() if v is not None})


def _show(o: tuple[Any, Any]) -> str:
    return f"raised {o[1]}" if o[1] else f"returned {o[0]!r}"


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, tuple[str, ...], str]] = set()
    out = []
    for f in findings:
        key = (f.grade.value, f.clauses, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# -- the walk along the observed run ----------------------------------------------------------------
@dataclass
class _Ours:
    """Our decisions' values for one step: value -> (earliest, latest end tick)."""

    values: dict[tuple[Any, Any], tuple[int, int]]

    def show(self) -> list[str]:
        return [f"{_show(v)} at {_ms_range(lo, hi)}" for v, (lo, hi) in sorted(self.values.items(), key=repr)]


@dataclass
class Oracle:
    """What the text allows (and our decisions give) at each step of an observed run."""

    steps: list[set[tuple[Any, Any]]] = field(default_factory=list)  # allowed (returned, raised)
    final: dict[str, set[Any]] = field(default_factory=dict)
    files_may_exist: set[str] = field(default_factory=set)
    files_may_be_absent: set[str] = field(default_factory=set)
    failed_steps: set[int] = field(default_factory=set)  # steps whose observation the text rules out
    step_decisions: dict[int, tuple[str, ...]] = field(default_factory=dict)  # NON-STRICT steps: decisions


class _Walk:
    def __init__(self, scenario: Scenario, world: World, runs: list[ScriptOutcome], result: RunResult,
                 clauses: tuple[str, ...]) -> None:
        self.scenario = scenario
        self.world = world
        self.runs = runs
        self.result = result
        self.clauses = clauses
        self.script = script_of(scenario)
        self.findings: list[Finding] = []
        self.jobs: list[JobModel] = []
        self.job: JobModel | None = None  # the most recent job
        self.diverged = False  # the run has left our decisions' path (later steps not compared)
        self.oracle = Oracle()
        barge_inband = bool(world.inband) and any(a.get("barge_in") for c, a in self.script if c in ("record", "start"))
        self.dec_tol = DTMF_LATENCY_TOL if barge_inband else 0
        self.job_matches_ours: dict[int, bool] = {}
        #: nothing after the observed run's end can be observed: limits are worked out up to here;
        #: unless the recorder stopped the run by telling the call it could not end by itself
        #: (``Deadlock``): then the limits past that instant say whether it could have
        deadlock = any(s.raised == "Deadlock" for s in result.steps)
        self.until = (int(round(result.final.get("end_ms", 0) * 8)) + FRAME
                      if result.final and not deadlock else INF)

    # -- helpers -------------------------------------------------------------------------------
    def ours(self, i: int) -> _Ours:
        vals: dict[tuple[Any, Any], tuple[int, int]] = {}
        for run in self.runs:
            if i < len(run.steps):
                s = run.steps[i]
                key = (s.returned, s.raised)
                lo, hi = vals.get(key, (s.end, s.end))
                vals[key] = (min(lo, s.end), max(hi, s.end))
        return _Ours(vals)

    def call_raises(self, t: int) -> set[str | None]:
        out: set[str | None] = set()
        for inclusive in (True, False):
            st = self.world.call_state(t, inclusive=inclusive)
            out.add("Hangup" if st == "IDLE" else None if st == "ANSWERED" else "Error")
        return out

    def vs_ours(self, i: int, call: str, observed: tuple[Any, Any], t_end: int, decisions: list[str],
                allowed: Any = None) -> None:
        """NON-STRICT when our decisions give another value or instant for step ``i``."""
        if self.diverged:
            return
        ours = self.ours(i)
        if not ours.values:
            return
        ev = {"step": i, "call": call, "observed": {"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
              "allowed": allowed, "ours": ours.show()}
        if observed not in ours.values:
            if call in ("record", "wait_until_finished", "cause") and observed[1] is None:
                # the limit our decisions stop on did not: name its decision first; another cause
                # at the very instant ours ends the job is another tie order
                tie = any(lo <= t_end <= hi for lo, hi in ours.values.values()) and call != "cause"
                decisions = (["SD-TIES"] if tie else []) + [
                    CAUSE_DECISION[v] for v, _ in ours.values if isinstance(v, str) and v in CAUSE_DECISION
                    and CAUSE_DECISION[v] not in decisions] + decisions
                if "BARGEIN" in {v for v, _ in ours.values} | {observed[0]}:
                    # a digit only Q.24's range (or the talk-off decision) decides
                    decisions = list(dict.fromkeys(d.decision for d in self.world.inband_digits
                                                   if not d.certain and d.either < 0)) + decisions
            self.findings.append(_soft(decisions, f"step {i} {call}() {_show(observed)} at {_ms(t_end)}; "
                                       f"our decisions give {' or '.join(ours.show())}", **ev))
            self.oracle.step_decisions[i] = self.findings[-1].clauses
            self.diverged = True
            return
        lo, hi = ours.values[observed]
        if not lo - self.dec_tol <= t_end <= hi + self.dec_tol:
            self.findings.append(_soft(decisions, f"step {i} {call}() {_show(observed)} at {_ms(t_end)}; "
                                       f"our decisions give it at {_ms_range(lo, hi)}", **ev))
            self.oracle.step_decisions[i] = self.findings[-1].clauses
            self.diverged = True

    def fail(self, clauses: Any, message: str, **ev: Any) -> None:
        self.findings.append(_fail(list(clauses), message, **ev))
        self.diverged = True
        if isinstance(ev.get("step"), int):
            self.oracle.failed_steps.add(ev["step"])

    def diverged_at(self, job: JobModel) -> bool:
        """Whether the run had left our decisions' path by the time ``job`` ended."""
        return self.diverged and not self.job_matches_ours.get(job.index, False)

    def previous_ended(self, t: int) -> None:
        if self.job is not None and not self.job.ended_seen:
            self.job.seen_ended(t)

    # -- the walk ------------------------------------------------------------------------------
    def run(self) -> Oracle:
        steps = self.result.steps
        for i, (call, args) in enumerate(self.script):
            if i >= len(steps):
                break
            step = steps[i]
            t, t_end = int(round(step.at_ms * 8)), int(round(step.end_ms * 8))
            observed = (step.returned, step.raised)
            handler: Callable[..., set[tuple[Any, Any]]] = getattr(self, "_" + call, self._other)
            allowed = handler(i, call, args, step, t, t_end, observed)
            self.oracle.steps.append(allowed)
        self._final()
        return self.oracle

    def _other(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
               observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return {observed}

    def _sleep(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
               observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return {(None, None)}

    def _immediate(self, i: int, call: str, t: int, observed: tuple[Any, Any], *, busy_check: bool,
                   valid: bool) -> tuple[bool, set[tuple[Any, Any]]]:
        """The exceptions a blocking call may raise at once. Returns (whether the call may go
        on, the allowed raises); reports a FAIL when it raised where it must not, or not where it must."""
        raises = self.call_raises(t)
        job = self.job
        allowed: set[tuple[Any, Any]] = set()
        may_go_on = False
        for r in raises:
            if r is not None:
                allowed.add((None, r))
            elif busy_check and job is not None and job.may_run(t):
                allowed.add((None, "Error"))
                if job.may_have_ended(t):
                    may_go_on = True
            else:
                may_go_on = True
        if not valid:
            for exc in ("ArgumentError", "ValueError", "TypeError", "Error"):
                allowed.add((None, exc))
        raised = observed[1]
        if raised is not None and (None, raised) in allowed:
            if raised == "Error" and busy_check and None in raises and job is not None:
                job.seen_running(t, tol=0)  # busy: the job was still recording
            if raised == "Hangup" and job is not None and job.may_run(t):
                # the recorder saw the call IDLE: its job ended with (or before) the hangup
                job.seen_ended(t)
            if not valid and raised != "ArgumentError":
                self.vs_ours(i, call, observed, t, ["SD-ARGS"])
            else:
                self.vs_ours(i, call, observed, t, ["SD-TIES"])
            return False, allowed
        if raised is not None and raised in ("Hangup", "Error") and not may_go_on:
            return False, allowed
        if not may_go_on:
            # it had to raise and did not
            want = sorted(r for _, r in allowed if r)
            cl = ["SPEC-EXC-HANGUP"] if "Hangup" in want else []
            if "Error" in want and None in raises:
                cl += ["SPEC-EXC-BUSY"]
            elif "Error" in want:
                cl += ["SPEC-EXC-NOTANSWERED"]
            if raises != {None} and busy_check and job is not None and job.may_run(t):
                cl.append("SPEC-EXC-ORDER")
            self.fail(cl + [STEP_CLAUSE[call]],
                      f"step {i} {call}() {_show(observed)} at {_ms(t)}; the spec requires it to raise "
                      f"{' or '.join(want)} (call state {self.world.call_state(t)}"
                      f"{', a job recording' if job is not None and job.may_run(t) and None in raises else ''})",
                      step=i, call=call, observed=_show(observed), allowed=[f"raised {w}" for w in want],
                      ours=self.ours(i).show())
            return False, allowed
        return True, allowed

    def _bad_raise(self, i: int, call: str, observed: tuple[Any, Any], t: int, allowed: set[tuple[Any, Any]],
                   extra: list[str] | None = None) -> None:
        raised = observed[1]
        cl = [STEP_CLAUSE[call]] + (extra or [])
        if raised == "Hangup":
            cl.append("SPEC-EXC-HANGUP")
        elif raised == "Error":
            cl.append("SPEC-EXC-NOTANSWERED" if self.world.call_state(t) != "ANSWERED" else "SPEC-EXC-BUSY")
        msg = self.result.steps[i].message
        self.fail(cl, f"step {i} {call}() raised {raised} at {_ms(t)}"
                  + (f" ({msg})" if msg else "") + f"; the spec allows {self._show_allowed(allowed)}",
                  step=i, call=call, observed=_show(observed), allowed=self._list_allowed(allowed),
                  ours=self.ours(i).show())

    @staticmethod
    def _list_allowed(allowed: set[tuple[Any, Any]]) -> list[str]:
        return sorted({_show(a) for a in allowed})

    def _show_allowed(self, allowed: set[tuple[Any, Any]]) -> str:
        items = self._list_allowed(allowed)
        return " or ".join(items) if items else "nothing"

    # -- record / start ----------------------------------------------------------------------------
    def _record(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
                observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return self._job_call(i, call, args, step, t, t_end, observed, record=True)

    def _start(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
               observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return self._job_call(i, call, args, step, t, t_end, observed, record=False)

    def _opening(self, i: int, call: str, args: dict[str, Any], t: int, observed: tuple[Any, Any], *,
                 busy_check: bool) -> tuple[bool, bool, set[tuple[Any, Any]]]:
        """What every blocking call is graded on first (``_immediate``: the state, a job already
        running, the arguments): whether grading goes on, whether the arguments are valid, and
        what is allowed so far; an exception raised where none of that allows it is reported
        here."""
        valid = args_valid(call, args)
        go_on, allowed = self._immediate(i, call, t, observed, busy_check=busy_check, valid=valid)
        if not go_on and observed[1] is not None and observed not in allowed:
            self._bad_raise(i, call, observed, t, allowed)
        return go_on, valid, allowed

    def _job_call(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
                  observed: tuple[Any, Any], *, record: bool) -> set[tuple[Any, Any]]:
        go_on, valid, allowed = self._opening(i, call, args, t, observed, busy_check=True)
        if not go_on:
            return allowed
        p = {**DEFAULTS, **args}
        if not valid:
            allowed |= {("ERROR", None)} if record else {(False, None)}
            if observed in allowed:
                self.vs_ours(i, call, observed, t_end, ["SD-ARGS"])
                return allowed
        self.previous_ended(t)
        job = job_limits(self.world, t, p, record, index=i, call=call, until=max(self.until, t_end + FRAME))
        self.jobs.append(job)
        self.job = job
        if record:
            return self._blocking_end(i, call, job, t, t_end, observed, allowed, timeout_at=INF)
        # start(): returns once recording has started (at once, or at the first frame boundary)
        early = [c for c in job.cands if c.lo <= job.b + TOL]
        allowed |= {(True, None)}
        if early:
            allowed |= {(False, None)}
        ret, raised = observed
        if raised in ("Deadlock", "SimulationLimit") or raised is not None:
            self._bad_raise(i, call, observed, t, allowed)
            job.lost = True
            return allowed
        if ret not in (True, False):
            self.fail([STEP_CLAUSE[call]], f"step {i} start() returned {ret!r}; the spec says it returns True "
                      "for success, otherwise False", step=i, call=call, observed=_show(observed),
                      allowed=self._list_allowed(allowed), ours=self.ours(i).show())
            job.lost = True
            return allowed
        if ret is False and not early:
            self.fail([STEP_CLAUSE[call]], f"step {i} start() returned False at {_ms(t_end)}, but nothing "
                      f"could end the job before recording started (first frame at {_ms(job.b)})",
                      step=i, call=call, observed=_show(observed), allowed=["returned True"], ours=self.ours(i).show())
            job.lost = True
            return allowed
        if not t - 0 <= t_end <= job.b + TOL:
            self.fail([STEP_CLAUSE[call]], f"step {i} start() returned at {_ms(t_end)}; it blocks only until "
                      f"recording has started (called at {_ms(t)}, first frame at {_ms(job.b)})",
                      step=i, call=call, observed={"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
                      allowed={"value": self._list_allowed(allowed), "end_ms": [ticks_to_ms(t), ticks_to_ms(job.b)]},
                      ours=self.ours(i).show())
            return allowed
        if ret is False:
            job.seen_ended(t_end, {c.cause for c in early})
            self.vs_ours(i, call, observed, t_end, ["SD-START-FALSE"])
        else:
            self.vs_ours(i, call, observed, t_end, ["SD-START-FALSE" if early else "SD-START"])
        return allowed

    def _blocking_end(self, i: int, call: str, job: JobModel, t: int, t_end: int, observed: tuple[Any, Any],
                      allowed: set[tuple[Any, Any]], *, timeout_at: int) -> set[tuple[Any, Any]]:
        """A blocking call (record, or a wait that did not time out) returned the job's cause."""
        windows = {cause: job.windows(cause) for cause in sorted({c.cause for c in job.cands})}
        for cause, ws in windows.items():
            if any(lo <= timeout_at for lo, _ in ws):
                allowed.add((cause, None))
                if cause == "HANGUP":
                    allowed.add((None, "Hangup"))  # SD-HANGUP: another reading raises
        ret, raised = observed
        if job.deadline >= INF:
            allowed |= {(None, "Deadlock"), (None, "SimulationLimit")}
        cause = "HANGUP" if raised == "Hangup" else ret
        shown = {c: _ms_windows(ws) for c, ws in windows.items()}
        ev = {"step": i, "call": call, "observed": {"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
              "allowed": shown, "ours": self.ours(i).show()}
        if raised in ("Deadlock", "SimulationLimit") and observed in allowed:
            self.vs_ours(i, call, observed, t_end, ["SD-TIES"], allowed=shown)
            job.lost = True
            return allowed
        # a call that returns at once may find the job ended any time before it was called
        at_once = t_end <= t + TOL and any(c.lo <= t for c in job.cands)
        at_t = [c for c, ws in windows.items()
                if any(lo <= t_end <= hi + TOL or (at_once and lo <= t_end) for lo, hi in ws)]
        if observed not in allowed or (cause not in at_t and at_t):
            # the wrong outcome: at that instant the job may end only otherwise
            cl = [CAUSE_CLAUSE[c] for c in (at_t or list(windows))] + [STEP_CLAUSE[call]]
            if isinstance(cause, str) and cause in CAUSE_CLAUSE:
                cl.append(CAUSE_CLAUSE[cause])
            if raised is not None:
                cl.append("SPEC-EXC-HANGUP" if raised == "Hangup" else "SPEC-RECORD")
            if raised in ("Deadlock", "SimulationLimit") and call == "wait_until_finished" and timeout_at >= INF:
                cl.insert(0, "SPEC-WAIT-NONE")  # the wait gave up with no timeout
            if at_t:
                msg = f"at that instant the job may end only with {' or '.join(at_t)}"
                if cause in windows:
                    msg += f" ({cause} is allowed at {shown[cause]})"
            else:
                msg = "the job may end with " + (" or ".join(f"{c} at {w}" for c, w in shown.items()) or "no end")
            self.fail(cl, f"step {i} {call}() {_show(observed)} at {_ms(t_end)}; {msg}", **ev)
            if isinstance(cause, str):
                job.seen_end_at(t_end, cause)
            else:
                job.lost = True
            return allowed
        ws = windows.get(cause, [])
        if not at_t:
            # the right outcome at the wrong instant
            self.fail([STEP_CLAUSE[call], CAUSE_CLAUSE.get(cause, "SPEC-RECORD")],
                      f"step {i} {call}() {_show(observed)} at {_ms(t_end)}; a {cause} end is allowed at "
                      f"{_ms_windows(ws)} (+{ticks_to_ms(TOL):g} ms), and nothing ends the job at {_ms(t_end)}", **ev)
            job.seen_end_at(t_end, cause)
            return allowed
        match = [c for c in job.cands if c.cause == cause and (c.lo <= t_end <= c.hi + TOL or (at_once and c.lo <= t_end))]
        decisions = [match[0].decision] if match and match[0].decision else [CAUSE_DECISION.get(cause, "SD-TIES")]
        if raised == "Hangup":
            decisions = ["SD-HANGUP"]
        if t_end > t + TOL or not any(c.lo < t for c in job.cands):
            job.seen_end_at(t_end, cause)
        else:  # returned at once: the job may have ended before the call
            job.seen_ended(t_end, {cause})
        self.vs_ours(i, call, observed, t_end, decisions, allowed=shown)
        if not self.diverged:
            self.job_matches_ours[job.index] = True
        return allowed

    # -- stop / wait -----------------------------------------------------------------------------
    def _stop(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
              observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        go_on, allowed = self._immediate(i, call, t, observed, busy_check=False, valid=True)
        if not go_on:
            if observed[1] is not None and observed not in allowed:
                self._bad_raise(i, call, observed, t, allowed)
            return allowed
        allowed.add((True, None))
        job = self.job
        running = job is not None and job.may_run(t)
        ev = {"step": i, "call": call, "observed": {"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
              "allowed": {"value": ["returned True"], "end_ms": [ticks_to_ms(t), ticks_to_ms(t + TOL)]}, "ours": self.ours(i).show()}
        if observed != (True, None):
            cl = [STEP_CLAUSE[call]]
            if observed[1] is not None:
                cl.append("SPEC-EXC-HANGUP" if observed[1] == "Hangup" else "SPEC-RECORD")
            self.fail(cl, f"step {i} stop() {_show(observed)}; the spec says it returns True "
                      + ("once the job has ended" if running else "when nothing is recording"), **ev)
        elif not t <= t_end <= t + TOL:
            self.fail([STEP_CLAUSE[call]], f"step {i} stop() returned at {_ms(t_end)}, called at {_ms(t)}: it "
                      "blocks only until the job terminates", **ev)
        else:
            self.vs_ours(i, call, observed, t_end, ["SD-STOP"])
        if job is not None and running:
            job.stopped(t, max(t, min(t_end, t + TOL)))
        return allowed

    def _wait_until_finished(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
                             observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        go_on, _, allowed = self._opening(i, call, args, t, observed, busy_check=False)
        if not go_on:
            return allowed
        timeout = args.get("seconds_timeout", 120)
        t_out = INF if timeout is None else t + seconds_to_ticks(float(timeout))
        job = self.job
        if job is None or not job.may_run(t, tol=0):
            causes = {"NONE"} if job is None else job.causes_by(t)
            allowed |= {(c, None) for c in causes}
            if observed not in allowed or t_end > t + TOL:
                cl = [STEP_CLAUSE[call], "SPEC-CAUSE-END"] + [CAUSE_CLAUSE[c] for c in causes if c in CAUSE_CLAUSE]
                self.fail(cl, f"step {i} wait_until_finished() {_show(observed)} at {_ms(t_end)}; with no job "
                          f"running it returns the last cause ({' or '.join(sorted(causes))}) at once",
                          step=i, call=call, observed={"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
                          allowed=self._list_allowed(allowed), ours=self.ours(i).show())
                if job is not None and isinstance(observed[0], str):
                    job.seen_ended(t, {observed[0]})
                return allowed
            if job is not None:
                job.seen_ended(t, {observed[0]})
            self.vs_ours(i, call, observed, t_end, ["SD-TIES"])
            return allowed
        ret, raised = observed
        job_timeout = any(c.cause == "TIMEOUT" and c.lo <= t_end for c in job.cands)
        if ret == "TIMEOUT" and raised is None and t_out < INF and abs(t_end - t_out) <= TOL and \
                not (job_timeout and t_end <= t + TOL):
            allowed.add(("TIMEOUT", None))
            if not job.seen_running(t_out):
                self.fail(["SPEC-WAIT", "SPEC-WAIT-TIMEOUT"] + [CAUSE_CLAUSE[c] for c in job.causes_by(t_out)],
                          f"step {i} wait_until_finished() returned TIMEOUT at {_ms(t_end)}, but the job must "
                          f"have ended by {_ms(job.deadline)}",
                          step=i, call=call, observed=_show(observed),
                          allowed={c: _ms_windows(job.windows(c)) for c in sorted(job.causes_by(t_out))},
                          ours=self.ours(i).show())
                return allowed
            # SD-WAIT-TIMEOUT: another reading ends the job with TIMEOUT when the wait expires
            from .allowed import Cand

            job.cands.append(Cand("TIMEOUT", t_out, t_out, "the wait's timeout (another reading ends the job)",
                                  "SD-WAIT-TIMEOUT"))
            self.vs_ours(i, call, observed, t_end, ["SD-WAIT-TIMEOUT"])
            return allowed
        if t_out < INF and job.may_run(t_out):
            allowed.add(("TIMEOUT", None))
        if t_end > t_out + TOL:
            self.fail(["SPEC-WAIT-TIMEOUT", "SPEC-WAIT"], f"step {i} wait_until_finished({timeout}) returned at "
                      f"{_ms(t_end)}, after its own timeout expired at {_ms(t_out)}",
                      step=i, call=call, observed={"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
                      allowed={"end_ms_at_most": ticks_to_ms(t_out)}, ours=self.ours(i).show())
            if isinstance(ret, str):
                job.seen_end_at(t_end, ret)
            return allowed
        if ret == "TIMEOUT" and raised is None and t_out < INF and not job_timeout:
            # TIMEOUT is the wait's own result, returned at the wrong instant
            self.fail(["SPEC-WAIT-TIMEOUT", "SPEC-WAIT"], f"step {i} wait_until_finished({timeout}) returned "
                      f"TIMEOUT at {_ms(t_end)}; its timeout expires at {_ms(t_out)}",
                      step=i, call=call, observed={"value": _show(observed), "end_ms": ticks_to_ms(t_end)},
                      allowed={"TIMEOUT_at_ms": ticks_to_ms(t_out)}, ours=self.ours(i).show())
            job.seen_running(min(t_end, t_out))
            return allowed
        if timeout is not None and ret in ("NONE", None) and raised is None and abs(t_end - t_out) <= TOL \
                and job.may_run(t_out):
            # a wait that timed out but did not say TIMEOUT
            self.fail(["SPEC-WAIT-TIMEOUT"], f"step {i} wait_until_finished({timeout}) returned {ret!r} at "
                      f"{_ms(t_end)}; when the timeout expires it returns TIMEOUT",
                      step=i, call=call, observed=_show(observed), allowed=["returned 'TIMEOUT'"] +
                      [f"returned {c!r}" for c in sorted(job.causes_by(t_out))], ours=self.ours(i).show())
            job.seen_running(t_end)
            return allowed
        if timeout is None and t_end < INF and job.may_run(t_end + TOL) and ret in ("NONE", None, "TIMEOUT") \
                and raised is None:
            self.fail(["SPEC-WAIT-NONE", "SPEC-WAIT"], f"step {i} wait_until_finished(None) returned {ret!r} at "
                      f"{_ms(t_end)} while the job was still running: None waits without limit",
                      step=i, call=call, observed=_show(observed), allowed=[c.show() for c in job.cands],
                      ours=self.ours(i).show())
            job.seen_running(t_end)
            return allowed
        return self._blocking_end(i, call, job, t, t_end, observed, allowed, timeout_at=t_out)

    # -- getters ---------------------------------------------------------------------------------
    def _values(self, key: str, t: int) -> tuple[set[Any], set[Any]]:
        """(values the text allows, values meaning "running") for state/cause/audio at ``t``."""
        job = self.job
        run_value = {"state": "RECORDING", "cause": "NONE", "audio": None}[key]
        if job is None:
            return {{"state": "IDLE", "cause": "NONE", "audio": None}[key]}, set()
        out: set[Any] = set()
        if job.may_run(t):
            out.add(run_value)
        if job.may_have_ended(t):
            causes = job.causes_by(t)
            if key == "state":
                out |= {"ERROR" if c == "ERROR" else "IDLE" for c in causes}
            elif key == "cause":
                out |= causes
            else:
                out |= job.audio_values(self.world, t)
        return out, {run_value}

    def _getter(self, i: int | None, key: str, t: int, got: Any) -> set[Any]:
        allowed, running = self._values(key, t)
        job = self.job
        label = f"step {i} {key if key != 'audio' else 'audio_detected_in_recording'}()" if i is not None else \
            f"final {key if key != 'audio' else 'audio_detected_in_recording'}()"
        if got not in allowed:
            must_run = running and allowed <= running
            if key == "state":
                cl = ["SPEC-STATE-FN"] + (["SPEC-STATE-ERROR"] if "ERROR" in (allowed | {got}) else [])
            elif key == "cause":
                if got == "NONE" or must_run:
                    cl = ["SPEC-CAUSE-FN"] if must_run else ["SPEC-CAUSE-END"]
                else:
                    cl = ["SPEC-CAUSE-END"]
                cl += [CAUSE_CLAUSE[c] for c in sorted(allowed) if c in CAUSE_CLAUSE and c != "NONE"]
            else:
                if must_run or got is None:
                    cl = ["SPEC-AUDIO"]
                elif allowed == {False}:
                    cl = ["SPEC-AUDIO", "SPEC-AUDIO-FALSE"]
                else:
                    cl = ["SPEC-AUDIO", "SPEC-AUDIO-TRUE"]
            why = ""
            if job is not None:
                if must_run:
                    why = f" (the job is still running: it cannot end before {_ms(min((c.lo for c in job.cands), default=INF))})"
                elif running.isdisjoint(allowed):
                    why = f" (the job has ended: by {_ms(job.deadline)})"
            self.fail(cl, f"{label} is {got!r} at {_ms(t)}; the spec allows {' or '.join(sorted(map(repr, allowed)))}{why}",
                      step=i, observed=got, allowed=sorted(map(repr, allowed)),
                      ours=None if i is None else self.ours(i).show())
            if job is not None:
                job.lost = True
            return allowed
        if job is not None:
            if got in running and not (key == "audio" and got is None and not job.may_run(t)):
                job.seen_running(t, tol=0)
            elif key == "cause":
                job.seen_ended(t, {got})
            elif key == "state":
                job.seen_ended(t, {"ERROR"} if got == "ERROR" else set(JOB_CAUSES) - {"ERROR"})
            else:
                job.seen_ended(t)
        return allowed

    def _read(self, i: int, call: str, key: str, step: Any, t: int, t_end: int, observed: tuple[Any, Any],
              decisions: Callable[[Any], list[str]]) -> set[tuple[Any, Any]]:
        """A getter's step: what it may return at ``t``; compared with ours only when allowed."""
        got = step.returned
        allowed = self._getter(i, key, t, got)
        if got in allowed:
            self.vs_ours(i, call, observed, t_end, decisions(got))
        return {(v, None) for v in allowed}

    def _state(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
               observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return self._read(i, call, "state", step, t, t_end, observed, lambda got: self._getter_decisions())

    def _cause(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
               observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return self._read(i, call, "cause", step, t, t_end, observed, self._getter_decisions)

    def _audio_detected_in_recording(self, i: int, call: str, args: dict[str, Any], step: Any, t: int, t_end: int,
                                     observed: tuple[Any, Any]) -> set[tuple[Any, Any]]:
        return self._read(i, call, "audio", step, t, t_end, observed, lambda got: ["SD-AUDIO"])

    def _getter_decisions(self, cause: Any = None) -> list[str]:
        job = self.job
        if job is None:
            return ["SD-TIES"]
        if isinstance(cause, str):
            match = [c.decision for c in job.cands if c.cause == cause and c.decision]
            if match:
                return match[:1]
        return sorted({c.decision for c in job.cands if c.decision})[:2] or ["SD-TIES"]

    def _final(self) -> None:
        fin = self.result.final
        if not fin:
            return
        t = int(round(fin.get("end_ms", 0) * 8))
        ours_final: dict[str, set[Any]] = {"state": {r.state for r in self.runs}, "cause": {r.cause for r in self.runs},
                                           "audio": {r.audio for r in self.runs}}
        for key, fkey in (("state", "state"), ("cause", "cause"), ("audio", "audio_detected")):
            got = fin.get(fkey)
            allowed = self._getter(None, key, t, got)
            self.oracle.final[fkey] = allowed
            if got in allowed and not self.diverged and got not in ours_final[key]:
                dec = ["SD-AUDIO"] if key == "audio" else self._getter_decisions(got if key == "cause" else None)
                self.findings.append(_soft(dec, f"final {fkey}() is {got!r}; our decisions give "
                                           f"{' or '.join(sorted(map(repr, ours_final[key])))}",
                                           observed=got, allowed=sorted(map(repr, allowed)),
                                           ours=sorted(map(repr, ours_final[key]))))


def _ours_samples(j: Any, job: JobModel) -> int:
    """The samples our run ``j`` gives the file of the observed ``job``. A job an event ends (an
    in-band digit, a hangup) ends when the event comes, however early it began; our run may have
    begun it elsewhere (the previous job ended at the other end of a detection latency), so its
    frames are counted from the observed job's first frame. Every other end depends on the start."""
    if j.cause not in ("BARGEIN", "HANGUP") or j.start == job.b:
        return int(j.samples)
    n = out_samples(max(0, j.frames - (job.b - j.start) // FRAME), j.rate)
    lim = sample_limit(j.fmt, job.params["max_bytes"]) if job.params.get("max_bytes") else None
    return n if lim is None else min(n, lim)


def _ms_windows(ws: list[tuple[int, int]]) -> str:
    return ", ".join(_ms_range(lo, hi) for lo, hi in ws) or "no instant"


# -- grading ------------------------------------------------------------------------------------------
def grade_scenario(scenario: Scenario, factory: Any, *, clauses: tuple[str, ...] = ()) -> tuple[list[Finding], RunResult]:
    """Run ``scenario`` with ``factory`` and grade everything observable."""
    spy = PlaintextSpy()
    try:
        result = run_scenario(scenario, factory, on_write=spy)
    except Exception as exc:  # the implementation crashed the simulation
        return [_fail(tuple(c for c in clauses if c.startswith("SPEC-")) or ("SPEC-RECORD",),
                      f"the run crashed: {type(exc).__name__}: {exc}")], RunResult([], {}, [], [])
    world = World(scenario)
    _, runs = predict(scenario, world=world)
    walk = _Walk(scenario, world, runs, result, clauses)
    walk.run()
    findings = walk.findings
    if result.open_writers and result.final.get("state") != "RECORDING":
        findings.append(_fail(("SPEC-WAV",), f"{result.open_writers} store writer(s) left open after the run",
                              observed=result.open_writers, allowed=0))
    findings.extend(_Files(scenario, world, walk, result, spy).check())
    return _dedupe(findings), result


def oracle_view(scenario: Scenario, result: RunResult) -> Oracle:
    """What the text allows at each step of an already observed run (for ``[expect]`` tables)."""
    world = World(scenario)
    _, runs = predict(scenario, world=world)
    walk = _Walk(scenario, world, runs, result, ())
    oracle = walk.run()
    files = _Files(scenario, world, walk, result, None)
    for name, jobs in files.by_name().items():
        oracle.files_may_exist.add(name)  # any job may publish (after ERROR: another reading)
        if file_span(world, jobs[-1], walk.until).may_be_absent or jobs[-1].may_run(INF - 1):
            oracle.files_may_be_absent.add(name)
    return oracle


# -- files --------------------------------------------------------------------------------------------
#: (minimum SNR in dB, or an absolute error RMS floor in LSB) per format at 8000 Hz.
SNR_MIN = {"s16bit": 60.0, "alaw": 28.0, "ulaw": 28.0, "u8bit": 20.0, "ima": 10.0, "oki": 10.0}
#: u8bit: a truncating encoder ((x >> 8) + 128, as libsndfile and ffmpeg do) errs by up to one
#: 8-bit step (256) per sample, so near-silent audio may show an error RMS close to 256.
ERR_FLOOR = {"s16bit": 1.0, "alaw": 24.0, "ulaw": 24.0, "u8bit": 256.0, "ima": 96.0, "oki": 160.0}
RESAMPLED_SNR = 18.0  # a different (valid) resampler differs from scipy's near the band edge
#: Audio is "lost" from a span of the call only where a 20 ms window of it is at or above this
#: level: 3 dB above the certain-audio level, so a frame of any grid holding it is certainly audio.
LOST_DBM0 = -27.0
#: Alignment is searched with at most this much of the file (its loudest stretch), then the
#: whole file is compared at the alignment found.
_ALIGN_TICKS = 2 * TICKS_PER_SECOND
_LOST_E = FRAME * DBM0_RMS**2 * 10 ** (LOST_DBM0 / 10)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) without BLAS: a threaded BLAS dot spins its helper threads (and steals a core
    from a parallel run) for vectors this long."""
    return float(np.einsum("i,i->", a, b))


def _loud_ms(x: np.ndarray) -> float:
    """Milliseconds of ``x`` (8 kHz) covered by 20 ms windows at or above LOST_DBM0."""
    if len(x) < FRAME:
        return 0.0
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    e = c[FRAME:] - c[:-FRAME]
    hot = e >= _LOST_E
    if not hot.any():
        return 0.0
    cover = np.zeros(len(x) + 1, np.int32)
    idx = np.flatnonzero(hot)
    np.add.at(cover, idx, 1)
    np.add.at(cover, idx + FRAME, -1)
    return ticks_to_ms(int((np.cumsum(cover)[:-1] > 0).sum()))


_CODEC_NAMES = {"alaw": "A-law", "ulaw": "mu-law", "ima": "IMA ADPCM", "oki": "OKI ADPCM"}


def _codec_findings(name: str, fmt: str, raw: bytes, info: Any, body: np.ndarray, ref: np.ndarray,
                    ev: dict[str, Any]) -> list[Finding]:
    """The file's samples against what its codec's quantisation allows for the caller's audio
    (``conformance.quantisation``): FAIL outside one quantisation step (G.711) or beyond the
    closest value the ADPCM decoder offered plus one of its steps; INFO where an ADPCM sample is
    not one of the offered values bracketing the input (a quality finding: look-ahead encoders
    may choose so)."""
    codec = _CODEC_NAMES[fmt]
    out: list[Finding] = []
    if fmt in ("alaw", "ulaw"):
        bad = g711_outside(fmt, ref, body)
        if bad.count:
            out.append(_fail(("SPEC-FORMATS",), f"{name!r}: decoded {codec} samples lie outside the quantisation step "
                             f"around the caller's audio: {bad.words()} (every {codec} encoder decodes to one of "
                             "the two levels around the input)", observed={"samples_outside": bad.count},
                             allowed={"samples_outside": 0}, **ev))
        return out
    states = adpcm_states(fmt, raw, max(5, int(info.block_align or 256)))
    far, loose = adpcm_check(states, ref, body)
    if far.count:
        out.append(_fail(("SPEC-FORMATS",), f"{name!r}: decoded {codec} samples lie further from the caller's audio "
                         f"than the decoder's step allows: {far.words()} (the closest value the decoder offered, "
                         "give or take one of its steps)", observed={"samples_outside": far.count},
                         allowed={"samples_outside": 0}, **ev))
    elif loose.count:
        out.append(Finding(Grade.INFO, ("SD-CODEC-IMA" if fmt == "ima" else "SD-CODEC-OKI",),
                           f"{name!r}: {codec} quality: {loose.words()} are not one of the two values the decoder "
                           "offered around the input (a greedy encoder's choice; within one step, so allowed)",
                           {"observed": {"samples_not_bracketing": loose.count}, **ev}))
    return out


#: resampled formats judged sample by sample (``conformance.resampled``): PCM and G.711, whose
#: codec error is a small fraction of a full scale (an ADPCM encoder smears a click, and may lag
#: a loud step by more); the in-band quality only for 16-bit PCM (a codec's noise is larger).
_RESAMPLED_JUDGED = ("s16bit", "u8bit", "alaw", "ulaw")


def _resampled_findings(name: str, fmt: str, rate: int, pcm: np.ndarray, render: Callable[[int, int], np.ndarray],
                        fs: int, ev: dict[str, Any]) -> list[Finding]:
    """A resampled file's samples against the caller's audio band-limited to its rate
    (``conformance.resampled``), the file's first sample at call tick ``fs`` (give or take a tick:
    the alignment was found at 8000 Hz): FAIL where a sample is a full scale or more from it (a
    wrapped sample), INFO (SD-RESAMPLE) where a 16-bit file's in-band error is not far enough
    under the audio."""
    d = pcm.astype(np.float64)
    def misfit(k: int) -> float:
        e = d - continued(render, fs + k, d.size, rate)
        return _dot(e, e)

    refs = references(render, fs + min((0, -1, 1), key=misfit), d.size, rate)
    out: list[Finding] = []
    gross = gross_errors(d, refs)
    if gross.count:
        out.append(_fail(("SPEC-WAV", "SPEC-FORMATS"),
                         f"{name!r}: resampled samples lie more than a full scale from the caller's audio band-limited "
                         f"to {rate} Hz: {gross.words()} (a wrapped sample: the caller's audio has the other sign "
                         "there)", observed={"samples_off_by_full_scale": gross.count},
                         allowed={"samples_off_by_full_scale": 0}, **ev))
        return out
    if fmt == "s16bit":
        band = inband_worst(d, refs, rate)
        if band.short:
            out.append(Finding(Grade.INFO, ("SD-RESAMPLE",),
                               f"{name!r}: resampler quality: {band.words(rate)} (a resampler of sox's or scipy's "
                               "default quality stays 6 dB or more inside the bound)",
                               {"observed": {"inband_error_db_worst": round(band.worst_db, 1),
                                             "segments_short": band.short},
                                "allowed": {"inband_error_db_at_least": INBAND_DB}, **ev}))
    return out


class _Files:
    def __init__(self, scenario: Scenario, world: World, walk: _Walk, result: RunResult, spy: PlaintextSpy | None) -> None:
        self.scenario = scenario
        self.world = world
        self.walk = walk
        self.result = result
        self.spy = spy
        self.end = int(round(result.final.get("end_ms", 0) * 8)) if result.final else 0

    def by_name(self) -> dict[str, list[JobModel]]:
        out: dict[str, list[JobModel]] = {}
        for job in self.walk.jobs:
            out.setdefault(str(job.params.get("filename")), []).append(job)
        return out

    def ours_job(self, job: JobModel) -> list[Any]:
        return [j for run in self.walk.runs for j in run.jobs if j.index == job.index]

    def check(self) -> list[Finding]:
        findings: list[Finding] = []
        names = self.by_name()
        for name in self.result.contents:
            if name not in names:
                findings.append(_fail(("SPEC-RECORD",), f"stray file {name!r} in the store: no job records to it "
                                      "(the spec records to the filename given)",
                                      observed=name, allowed=sorted(names)))
        for name, jobs in names.items():
            findings.extend(self.check_name(name, jobs))
        return findings

    def check_name(self, name: str, jobs: list[JobModel]) -> list[Finding]:
        data = self.result.contents.get(name)
        last = jobs[-1]
        still_running = last.may_run(self.end) and not last.ended_seen
        if still_running and self.result.final.get("state") == "RECORDING":
            return []  # the job is still recording: nothing is published yet
        span = file_span(self.world, until=self.end + FRAME, job=last)
        ours = self.ours_job(last)
        ours_publish = any(j.cause != "ERROR" for j in ours)
        if data is None:
            if span.causes <= {"ERROR"}:
                return []
            if not span.may_be_absent:
                return [_fail(("SPEC-RECORD",), f"no file {name!r} after a job that ended with "
                              f"{' or '.join(sorted(span.causes))} having recorded audio",
                              observed="no file", allowed="a WAV file at the filename given",
                              ours="published")]
            if ours_publish and not self.walk.diverged_at(last):
                return [_soft(("SD-FILES-LEFT",), f"no file {name!r} after a job that ended with "
                              f"{' or '.join(sorted(span.causes))} (another reading: nothing published)",
                              observed="no file", ours="published")]
            return []
        if span.causes == {"ERROR"}:
            return [_soft(("SD-FILES-LEFT",), f"file {name!r} published after an ERROR job", observed="a file",
                          ours="nothing published")]
        # the file may be the last job's, or an earlier one's when later ones may publish nothing
        cands = [last]
        for j in reversed(jobs[:-1]):
            if not file_span(self.world, until=self.end + FRAME, job=cands[-1]).may_be_absent:
                break
            cands.append(j)
        first: list[Finding] | None = None
        for k, job in enumerate(cands):
            f = self.check_file(name, data, job)
            if not any(x.grade is Grade.FAIL for x in f):
                if k:
                    f.append(_soft(("SD-FILES-LEFT",), f"{name!r} holds an earlier job's recording: the last job "
                                   "of that name published nothing"))
                return f
            if first is None:
                first = f
        return first or []

    def check_file(self, name: str, data: bytes, job: JobModel) -> list[Finding]:
        p = job.params
        fmt, rate = p["file_format"], p["rate"]
        out: list[Finding] = []
        cipher = p.get("cipher")
        if isinstance(cipher, dict):
            if self.spy is not None and name in self.spy.plain_writes:
                out.append(_fail(("SPEC-CIPHER", "SD-CIPHER"), f"plaintext WAV bytes were written to the store for {name!r}",
                                 observed="plaintext written", allowed="only ciphertext"))
            try:  # the suite decrypts with the user's key, as a user would
                data = Cipher(cipher["key"], cipher["iv"]).decrypt(data)
            except Exception as exc:
                out.append(_fail(("SPEC-CIPHER",), f"{name!r} does not decrypt with the job's cipher: {exc}"))
                return out
        check = check_wav(data, fmt, rate)
        if check.problems:
            out.append(_fail(("SPEC-WAV", "SPEC-FORMATS", "SPEC-RATES"),
                             f"{name!r} is not a valid {fmt} WAV at {rate} Hz: {'; '.join(check.problems)}",
                             observed=list(check.problems), allowed=f"a mono {fmt} WAV at {rate} Hz"))
            return out
        for decision, words in getattr(check, "alternatives", ()):
            if decision == "SD-WAV-LAYOUT":  # the text says nothing about the container: reported only
                out.append(Finding(Grade.INFO, (decision,), f"{name!r}: {words}", {"observed": words}))
            else:
                out.append(_soft((decision,), f"{name!r}: {words}", observed=words,
                                 ours=f"our layout (docs/spec-decisions.md, {decision})"))
        try:
            info, pcm = decode_wav(data)
        except (WavFormatError, ValueError) as exc:
            out.append(_fail(("SPEC-WAV",), f"{name!r} cannot be decoded: {exc}"))
            return out
        mb = int(p.get("max_bytes") or 0)
        if mb and info.data_bytes > mb:
            out.append(_fail(("SPEC-SIZE",), f"{name!r} holds {info.data_bytes} data bytes, above max_bytes={mb}",
                             observed=info.data_bytes, allowed=f"at most {mb} data bytes"))
        out.extend(self.check_content(name, job, fmt, rate, pcm, info,
                                      data[info.data_offset: info.data_offset + info.data_bytes]))
        return out

    # -- content ---------------------------------------------------------------------------------
    def _unplaced(self, name: str, job: JobModel, span: FileSpan, n8: int, ev: dict[str, Any]) -> list[Finding]:
        """A file too short to place in the call: it may hold any stretch of the job (leading and
        trailing silence may both be left out), so audio is missing only if the job's loud audio,
        in frames complete by the earliest end on any grid, is longer than the file with a frame
        either side."""
        loud = _loud_ms(self.world.render(job.b, max(job.b, span.must_end - FRAME)))
        if loud * 8 <= n8 + 2 * FRAME:
            return []
        return [_fail(("SPEC-WAV",), f"{name!r} holds {ticks_to_ms(n8):g} ms of audio, but the job held {loud:g} ms of the "
                      f"caller's audio at or above {LOST_DBM0:g} dBm0 before {_ms(span.must_end)}",
                      observed={"file_ms": ticks_to_ms(n8)}, allowed={"file_ms_at_least": loud - 2 * ticks_to_ms(FRAME)}, **ev)]

    def check_content(self, name: str, job: JobModel, fmt: str, rate: int, pcm: np.ndarray, info: Any,
                      raw: bytes | None = None) -> list[Finding]:
        world = self.world
        span = file_span(world, job, self.end + FRAME)
        out: list[Finding] = []
        notes: list[tuple[str, str]] = []  # (decision, words) departures from ours the text allows
        n = len(pcm)
        up, down = ratio(rate)
        n8 = int(round(n * 8000 / rate))
        pad8 = int(np.ceil((504 if fmt == "ima" else 1 if fmt == "oki" else 0) * 8000 / rate))
        b, c = job.b, job.c
        ends = f"the {' or '.join(sorted(span.causes))} end" if span.causes else "the end"
        fs = b
        snr_ok = True
        aligned = False  # whether the file's place in the call was found (too short a file is not placed)
        ev: dict[str, Any] = {}
        if n8 >= 3 * FRAME:
            x8 = pcm.astype(np.float64) if rate == 8000 else resample(pcm.astype(np.float64), down, up)
            x8 = x8[:n8] if len(x8) >= n8 else np.concatenate([x8, np.zeros(n8 - len(x8))])
            e0 = 0 if rate == 8000 else FRAME
            e1 = (0 if rate == 8000 else FRAME) + pad8
            body = x8[e0: max(e0, n8 - e1)]
            m = len(body)
            lo_fs = c - 4 * FRAME
            hi_fs = max(span.start_hi, b) + 4 * FRAME
            a0 = b - 1280 * (1 + max(0, (b - lo_fs) // 1280))  # a multiple of 640 ticks before b
            a0 = min(a0, lo_fs - FRAME)
            ref8 = world.render(a0, hi_fs + n8 + 2 * FRAME).astype(np.float64)
            if rate != 8000:
                ref8 = resample(resample(ref8, up, down), down, up)[: len(ref8)]
            if m >= FRAME:
                j_lo = lo_fs - a0 + e0
                j_hi = hi_fs - a0 + e0
                # align on the loudest stretch of at most _ALIGN_TICKS (then check all of it)
                plen = min(m, _ALIGN_TICKS)
                p0 = 0
                if m > plen:
                    cb = np.concatenate([[0.0], np.cumsum(body * body)])
                    p0 = int(np.argmax(cb[plen:] - cb[: len(cb) - plen]))
                probe = body[p0: p0 + plen]
                seg = ref8[j_lo + p0: j_hi + p0 + plen]
                corr = correlate(seg, probe, mode="valid", method="fft")
                cs = np.concatenate([[0.0], np.cumsum(seg * seg)])
                e_ref = cs[plen: plen + len(corr)] - cs[: len(corr)]
                err = np.maximum(e_ref - 2 * corr + _dot(probe, probe), 0.0)
                best = float(err.min())
                near = np.flatnonzero(err <= best * 1.05 + plen * 1.0)
                starts = lo_fs + near
                # a periodic signal fits several lags: prefer those that fit in the job's span,
                # then the one nearest the first frame boundary
                fits = (starts >= c - TOL) & (starts + n8 <= span.end_hi + TOL + pad8)
                pool = near[fits] if fits.any() else near
                k = pool[int(np.argmin(np.abs(lo_fs + pool - b)))]
                fs = int(lo_fs + k)
                aligned = True
                ref_at = ref8[j_lo + k: j_lo + k + m]
                diff = body - ref_at
                e_best = _dot(diff, diff)
                sig = _dot(ref_at, ref_at)
                err_rms = float(np.sqrt(e_best / m))
                sig_rms = float(np.sqrt(sig / m))
                snr = 10 * np.log10(max(sig, 1e-9) / max(e_best, 1e-9))
                need = SNR_MIN[fmt] if rate == 8000 else min(SNR_MIN[fmt], RESAMPLED_SNR)
                floor = ERR_FLOOR[fmt] * (1 if rate == 8000 else 4)
                ev = {"snr_db": round(float(snr), 2), "error_rms": round(err_rms, 2), "signal_rms": round(sig_rms, 2),
                      "error_max": round(float(np.abs(diff).max()), 1),
                      "file_start_ms": ticks_to_ms(fs), "job_first_frame_ms": ticks_to_ms(b), "called_at_ms": ticks_to_ms(c)}
                if snr < need and err_rms > floor:
                    snr_ok = False
                    out.append(_fail(("SPEC-WAV", "SPEC-FORMATS"),
                                     f"{name!r}: decoded audio differs from the caller's audio (SNR {snr:.1f} dB < "
                                     f"{need} dB at the best alignment, the file starting at {_ms(fs)})",
                                     observed={"snr_db": round(snr, 1)}, allowed={"snr_db_at_least": need}, **ev))
                elif rate == 8000 and fmt == "s16bit" and err_rms > 0.5:
                    snr_ok = False
                    out.append(_fail(("SPEC-FORMATS",), f"{name!r}: 16-bit PCM at 8000 Hz is not the caller's audio "
                                     "unchanged", observed={"error_rms": round(err_rms, 2)}, allowed={"error_rms": 0},
                                     **ev))
                elif rate == 8000 and raw is not None and fmt in ("alaw", "ulaw", "ima", "oki"):
                    codec = _codec_findings(name, fmt, raw, info, body, ref_at, ev)
                    out.extend(codec)
                    snr_ok = not any(f.grade is Grade.FAIL for f in codec)
                elif rate != 8000 and fmt in _RESAMPLED_JUDGED:
                    found = _resampled_findings(name, fmt, rate, pcm, self.world.render, fs, ev)
                    out.extend(found)
                    snr_ok = not any(f.grade is Grade.FAIL for f in found)
        if not snr_ok:
            return out
        unplaced = not aligned and n8 > 0
        if unplaced:
            out += self._unplaced(name, job, span, n8, ev)
            if out:
                return out
        fe = fs + n8  # the file's end in call ticks (padding included)
        audio_end = fe
        if fmt == "ima" and span.end_hi < INF and fe > span.end_hi + TOL:
            audio_end = max(fe - pad8, span.end_hi + TOL)  # the last block's padding counted in 'fact'
        # starts before the job was started
        if fs < c - TOL:
            out.append(_fail(("SPEC-WAV", "SPEC-RECORD"),
                             f"{name!r} starts {ticks_to_ms(c - fs):g} ms before record()/start() was called "
                             f"(at {_ms(c)}): audio from before the job was added", observed={"file_start_ms": ticks_to_ms(fs)},
                             allowed={"file_start_ms": [ticks_to_ms(c), ticks_to_ms(span.start_hi)]}, **ev))
            return out
        if fs < b - 2:
            notes.append(("SD-START", f"the file starts at {_ms(fs)}, {ticks_to_ms(b - fs):g} ms before the job's first frame "
                          f"at {_ms(b)} (recording from the call instant: allowed)"))
        elif fs > b + 2:
            lost = _loud_ms(world.render(b, min(fs, max(b, span.must_end))))
            if lost:
                out.append(_fail(("SPEC-WAV",), f"{name!r} lacks the first {ticks_to_ms(fs - b):g} ms of the job "
                                 f"({lost:g} ms of it the caller's audio at or above {LOST_DBM0:g} dBm0): the file "
                                 f"starts at {_ms(fs)}, the job's first frame at {_ms(b)}",
                                 observed={"file_start_ms": ticks_to_ms(fs)},
                                 allowed={"file_start_ms": [ticks_to_ms(c), ticks_to_ms(span.start_hi)],
                                          "leading_silence_may_be_left_out": True}, ours={"file_start_ms": ticks_to_ms(b)},
                                 **ev))
                return out
            notes.append(("SD-INITIAL-SILENCE", f"the file starts at {_ms(fs)}, {ticks_to_ms(fs - b):g} ms after the job's "
                          "first frame (leading silence not recorded: allowed)"))
        # the end
        if audio_end < span.must_end:
            # only audio in frames complete by the earliest end can be missed: on the file's own
            # frame grid when it was placed, on any grid when it is empty
            last = fs + FRAME * ((span.must_end - fs) // FRAME) if aligned else span.must_end - FRAME
            lost = 0.0 if unplaced else _loud_ms(world.render(max(audio_end, fs), max(audio_end, fs, last)))
            if lost:
                out.append(_fail(("SPEC-WAV",) + ((CAUSE_CLAUSE[next(iter(span.causes))],) if len(span.causes) == 1
                                                  and next(iter(span.causes)) in CAUSE_CLAUSE else ()),
                                 f"{name!r} lacks the last {ticks_to_ms(span.must_end - audio_end):g} ms of the caller's "
                                 f"audio before {ends} ({lost:g} ms of it at or above {LOST_DBM0:g} dBm0): the file "
                                 f"ends at {_ms(audio_end)}, the job at {_ms_range(span.end_lo, span.end_hi)}",
                                 observed={"file_end_ms": ticks_to_ms(audio_end)},
                                 allowed={"file_end_ms_at_least": ticks_to_ms(span.must_end),
                                          "only_silence_may_be_left_out": True}, **ev))
                return out
            if n8 < 3 * FRAME and span.end_lo - b > 3 * FRAME:
                notes.append(("SD-FILES-LEFT", f"the file holds {n} samples: the job's "
                              f"{ticks_to_ms(span.end_lo - b):g} ms held no audio a reading must keep (allowed)"))
            elif span.end_lo - audio_end > FRAME:
                what = ("the barge-in digit cut" if span.cut_from is not None and audio_end <= span.cut_from + FRAME
                        else "trailing silence not recorded")
                notes.append(("SD-DTMF-FILE" if "cut" in what else "SD-SILENCE",
                              f"the file ends at {_ms(audio_end)}, {ticks_to_ms(span.end_lo - audio_end):g} ms before {ends} "
                              f"({what}: allowed)"))
        elif span.cut_from is not None and audio_end < span.end_lo - FRAME:
            notes.append(("SD-DTMF-FILE", f"the file ends at {_ms(audio_end)}, inside the barge-in digit (cut: allowed)"))
        if span.end_hi < INF and audio_end > span.end_hi + TOL and not job.lost:
            out.append(_fail(("SPEC-WAV",), f"{name!r} holds {ticks_to_ms(audio_end - span.end_hi):g} ms more than the job "
                             f"lasted: it ends at {_ms(audio_end)}, the job ended by {_ms(span.end_hi)}",
                             observed={"file_end_ms": ticks_to_ms(audio_end)}, allowed={"file_end_ms_at_most": ticks_to_ms(span.end_hi)},
                             **ev))
            return out
        if fe > audio_end:
            notes.append(("SD-CODEC-IMA", "the IMA 'fact' chunk counts the last block's padding"))
        # against our decisions
        ours = self.ours_job(job)
        if ours and not self.walk.diverged_at(job):
            counts = [_ours_samples(j, job) for j in ours]
            lo_n, hi_n = min(counts), max(counts)
            if not lo_n <= n <= hi_n:
                if notes:
                    for dec, words in dict(notes).items():
                        out.append(_soft((dec,), f"{name!r}: {words}", observed={"samples": n},
                                         ours={"samples": [lo_n, hi_n]}, **ev))
                else:
                    # the decision fixing where the file ends for this cause (an event at a frame
                    # boundary that comes before the frame is another tie order)
                    dec = next((d for cs, d in (({"SIZE"}, "SD-SIZE"), ({"HANGUP", "BARGEIN"}, "SD-TIES"),
                                                ({"ABORTED"}, "SD-STOP"), ({"TIMEOUT"}, "SD-TIMER"),
                                                ({"SILENCE"}, "SD-SILENCE")) if span.causes & cs), "SD-START")
                    out.append(_soft((dec,), f"{name!r} holds {n} samples; our decisions give "
                                     f"{lo_n if lo_n == hi_n else f'{lo_n}..{hi_n}'}",
                                     observed={"samples": n}, ours={"samples": [lo_n, hi_n]}, **ev))
            elif notes:
                for dec, words in dict(notes).items():
                    out.append(_soft((dec,), f"{name!r}: {words}", **ev))
        out.append(Finding(Grade.PASS, ("SPEC-WAV",), "audio matches", ev))
        return out

