"""Store faults: the checks the oracle cannot make, because store faults are outside its model.

This module owns the two halves of every store-fault check, shared by the catalogue's
``faults/*`` cases (``conformance.cases``) and the property ``property/cause-error``
(``conformance.properties``):

* ``count_writes``: the write calls and bytes a clean run makes, so a fault (the n-th write
  fails, or the store runs out of space) can be placed inside the recording (``nothing_written``
  where there is none);
* ``fault_findings``: the grading of a run with that fault. The job must end with ERROR (state
  ERROR, cause ERROR), publish nothing (SD-FILES-LEFT) and leave no writer open; a write fault
  does not persist, so a clean job after it works (SPEC-STATE-ERROR, SD-ERROR). The job ends
  when the store fails: one that records on after the failure is NON-STRICT (SD-ERROR).

A ``callsim run --check`` of such a scenario grades it with the oracle, as if there were no fault.
"""

from __future__ import annotations

from typing import Any

from simulator.runner import RunResult
from simulator.scenario import Scenario

from .grades import Finding, Grade

__all__ = ["count_writes", "nothing_written", "fault_findings", "LATE_MS"]

#: How long after a store failure a job may still run (SD-ERROR: the failure ends it at once):
#: one frame, so a recorder that learns of the failure at the end of the frame it was writing
#: is on time.
LATE_MS = 20


def count_writes(scenario: Scenario, factory: Any) -> tuple[int, int]:
    """The write calls and bytes a clean run of ``scenario`` makes (to place faults inside a
    recording), counted by a write observer on the scenario's own store."""
    from simulator.runner import run_scenario
    from simulator.store import StoreWrite

    counts = [0, 0]

    def count(write: StoreWrite) -> None:
        if write.op == "write":
            counts[0] += 1
            counts[1] += len(write.data)

    run_scenario(scenario, factory, on_write=count)
    return counts[0], counts[1]


def nothing_written() -> Finding:
    """The INFO when the clean run wrote nothing, so no fault can be placed inside its job.

    A job that heard no audio may publish nothing (SD-FILES-LEFT, another reading), and the
    oracle's own cases judge a missing file; a fault check has nothing to add."""
    return Finding(Grade.INFO, ("SD-FILES-LEFT",), "a clean recording wrote nothing to the store, so no "
                   "fault could be placed in it")


def fault_findings(scenario: Scenario, result: RunResult, ev: dict[str, Any]) -> list[Finding]:
    """SPEC-STATE-ERROR / SD-ERROR / SD-FILES-LEFT / SD-AUDIO for a job hit by a store fault.

    ``scenario`` (its store holds the fault: ``fail_write_n`` or ``capacity_bytes``) runs the
    faulted job first: ``record``, or ``start`` then ``wait_until_finished``; then ``state()``
    and ``cause()``; then, each optional and in this order, ``audio_detected_in_recording()``,
    a ``sleep`` and ``state()``, and a clean ``record`` and ``state()`` (graded after a write
    fault only). ``ev`` is the evidence every finding carries.
    """
    steps = result.steps
    j = 1 if steps[0].call == "start" else 0  # the step that returns the job's cause
    if j and steps[0].raised:
        return [Finding(Grade.FAIL, ("SPEC-STATE-ERROR",), f"start() raised {steps[0].raised} on a store fault", ev)]
    job = steps[j]
    if job.raised:
        return [Finding(Grade.FAIL, ("SPEC-STATE-ERROR",), f"{job.call}() raised {job.raised} on a store fault "
                        "instead of ending the job with ERROR", ev)]
    out: list[Finding] = []
    fault_ms = next((e["ms"] for e in result.log if e.get("kind") == "store" and e.get("op") == "fault"), None)
    if fault_ms is not None and job.end_ms > max(fault_ms, job.at_ms) + LATE_MS:
        out.append(Finding(Grade.NON_STRICT, ("SD-ERROR",),
                           f"the job went on for {job.end_ms - max(fault_ms, job.at_ms):g} ms after the store failed "
                           f"at {fault_ms:g} ms ({job.call}() returned {job.returned} at {job.end_ms:g} ms): a store "
                           "failure ends the job at once", ev))
    if job.returned != "ERROR":
        out.append(Finding(Grade.FAIL, ("SPEC-STATE-ERROR", "SD-ERROR"),
                           f"{job.call}() returned {job.returned} after a store fault, expected ERROR", ev))
    state, cause = steps[j + 1].returned, steps[j + 2].returned
    if state != "ERROR" or cause != "ERROR":
        out.append(Finding(Grade.FAIL, ("SPEC-STATE-ERROR",),
                           f"after a failed job state()={state} cause()={cause}, expected ERROR/ERROR", ev))
    rest = steps[j + 3:]
    if rest and rest[0].call == "audio_detected_in_recording":
        if rest[0].returned is None:
            out.append(Finding(Grade.NON_STRICT, ("SD-AUDIO",), "audio_detected_in_recording() is None after a failed job", ev))
        rest = rest[1:]
    if len(rest) >= 2 and rest[0].call == "sleep":
        if rest[1].returned != "ERROR" and state == "ERROR":
            out.append(Finding(Grade.NON_STRICT, ("SD-ERROR",),
                               f"state() went from ERROR to {rest[1].returned} with no new job", ev))
        rest = rest[2:]
    if scenario.actions[0].kwargs().get("filename") in result.contents:
        out.append(Finding(Grade.NON_STRICT, ("SD-FILES-LEFT",), "a file was published after a failed job", ev))
    if scenario.store.fail_write_n is not None and rest:
        nxt = rest[0]
        if nxt.raised or nxt.returned != "TIMEOUT":
            out.append(Finding(Grade.FAIL, ("SPEC-STATE-ERROR", "SD-ERROR"),
                               f"the job after a failed one gave {nxt.returned} ({nxt.raised}), expected TIMEOUT", ev))
        elif len(rest) >= 2 and rest[1].returned != "IDLE":
            out.append(Finding(Grade.FAIL, ("SPEC-STATE-FN",), f"state() is {rest[1].returned} after a clean job", ev))
    if result.open_writers:
        out.append(Finding(Grade.FAIL, ("SPEC-STATE-ERROR",), f"{result.open_writers} store writer(s) left open after a failed job", ev))
    return out
