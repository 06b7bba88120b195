"""``wait_until_finished(None)`` when only the caller's audio, or nothing at all, can end the job.

The simulated call raises ``Deadlock`` when a wait has nothing scheduled and no recorder that
audio could end: the oracle predicts it where the text gives the job no end (every limit off,
nothing scheduled), and FAILs it on SPEC-WAIT-NONE where a limit would have ended the job.
"""

from __future__ import annotations

import pytest

from conformance.cases import _OFF, _b
from conformance.grades import Grade
from conformance.grading import grade_scenario
from recorder import FileRecorder
from tests.faulty import ClaimsItCannotEndAlone


def _graded(findings: list) -> list:
    return [f for f in findings if f.grade is not Grade.PASS]


def test_endless_job_deadlocks_and_the_oracle_expects_it() -> None:
    scenario = (_b().tone(0, 2000, [600], -20).start(filename="a", **_OFF)
                .wait_until_finished(seconds_timeout=None).action("state").build())
    findings, run = grade_scenario(scenario, FileRecorder)
    assert run is not None and [s.raised for s in run.steps] == [None, "Deadlock", None]
    assert _graded(findings) == []


def test_endless_job_with_a_hangup_pending_waits_for_it() -> None:
    scenario = (_b().tone(0, 2000, [600], -20).hangup(3000).start(filename="a", **_OFF)
                .wait_until_finished(seconds_timeout=None).build())
    findings, run = grade_scenario(scenario, FileRecorder)
    assert run is not None and run.steps[1].returned == "HANGUP" and run.steps[1].end_ms == 3000
    assert _graded(findings) == []


@pytest.mark.parametrize("limit", [{"milliseconds_max_silence": 1000}, {"max_bytes": 3000},
                                   {"milliseconds_initial_silence": 500}])
def test_giving_up_when_a_limit_would_end_the_job_fails(limit: dict[str, int]) -> None:
    """The run stops at the recorder's Deadlock (0 ms); the limit's end lies past it and is
    worked out anyway: FAIL, quoting SPEC-WAIT-NONE."""
    scenario = (_b().tone(1000, 2000, [600], -20).start(filename="a", **{**_OFF, **limit})
                .wait_until_finished(seconds_timeout=None).build())
    findings, _run = grade_scenario(scenario, ClaimsItCannotEndAlone)
    fails = [f for f in findings if f.grade is Grade.FAIL]
    assert fails and fails[0].clauses[0] == "SPEC-WAIT-NONE"
    assert "infinite wait" in fails[0].quote
    assert _graded(grade_scenario(scenario, FileRecorder)[0]) == []
