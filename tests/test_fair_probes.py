"""Fairness: a recorder taking another reasonable reading of an open point is never FAILed.

Each probe in ``tests.fair_probes`` is the reference recorder with one reading the text allows
(docs/conformance.md, "Accepted readings"); the suite must grade it at most NON-STRICT, and the
findings must name decisions (SD-*), not sentences of the text. The structural rule behind it is
checked too: a FAIL can only be made on a SPEC clause, and carries the sentence it rests on.
"""

from __future__ import annotations

import pytest

import conformance
import tests.faulty as faulty
from conformance.clauses import CLAUSES
from conformance.grading import _fail, grade_scenario
from simulator.scenario import ScenarioBuilder
from tests.fair_probes import PROBES


@pytest.mark.parametrize("probe", PROBES, ids=[p.__name__ for p in PROBES])
def test_probe_reading_is_never_failed(probe):
    report = conformance.check_recorder(probe, select=probe.SELECT, with_properties=False)
    assert report.cases, probe.SELECT
    fails = [f"{c.id}: {c.summary()[:400]}" for c in report.cases if c.grade.value == "FAIL"]
    assert not fails, fails
    soft = [f for c in report.cases for f in c.findings if f.grade.value == "NON-STRICT"]
    assert all(cl.startswith("SD-") for f in soft for cl in f.clauses)


@pytest.mark.slow
@pytest.mark.parametrize("probe", PROBES, ids=[p.__name__ for p in PROBES])
def test_probe_reading_passes_the_whole_suite(probe):
    """The whole ci profile, generated properties included (about a minute per probe)."""
    report = conformance.check_recorder(probe, profile="ci")
    fails = [f"{c.id}: {c.summary()[:400]}" for c in report.cases if c.grade.value == "FAIL"]
    assert not fails, fails


def test_a_fail_needs_a_quoted_sentence():
    with pytest.raises(ValueError):
        _fail(("SD-SILENCE",), "a decision is not a sentence of the text")
    f = _fail(("SD-SILENCE", "SPEC-SILENCE"), "late")
    assert f.clauses[0] == "SPEC-SILENCE" and f.quote == CLAUSES["SPEC-SILENCE"].quote


@pytest.mark.parametrize("cls", [faulty.SilenceReportedAsTimeout, faulty.StopLeavesCauseNone,
                                 faulty.FirstFrameLost, faulty.SizeOneFrameOver],
                         ids=lambda c: c.__name__)
def test_fail_findings_quote_and_compare(cls):
    """Every FAIL names a SPEC clause first, quotes its sentence and shows what was observed."""
    s = (ScenarioBuilder(seed=1).tone(0, 1200, [600], -20).tone(2200, 5000, [600], -20)
         .record(filename="a", milliseconds_max_silence=1000).action("cause")
         .start(filename="b", max_bytes=1000).sleep(500).start(filename="c").sleep(200).stop().action("cause")
         .build())
    findings, _ = grade_scenario(s, cls)
    fails = [f for f in findings if f.grade.value == "FAIL"]
    assert fails, cls.__name__
    for f in fails:
        assert CLAUSES[f.clauses[0]].fixed
        assert f.quote == CLAUSES[f.clauses[0]].quote
        assert "observed" in f.evidence


def test_wrong_cause_with_right_time_is_not_a_timing_finding():
    """A wrong cause at the right instant says so; it does not claim the time was wrong."""
    s = ScenarioBuilder(seed=1).tone(0, 500, [600], -20).record(filename="r", milliseconds_max_silence=1000).build()
    findings, _ = grade_scenario(s, faulty.SilenceReportedAsTimeout)
    fails = [f for f in findings if f.grade.value == "FAIL"]
    assert len(fails) == 1
    assert "SPEC-SILENCE" in fails[0].clauses and "returned 'TIMEOUT' at 1500 ms" in fails[0].message
    assert fails[0].clauses[0] == "SPEC-SILENCE" and "may end only with SILENCE" in fails[0].message


def test_cause_after_the_job_is_cause_end():
    """cause() wrong once the job has ended is filed under SPEC-CAUSE-END."""
    s = (ScenarioBuilder(seed=1).tone(0, 60_000, [600], -20).start(filename="a").sleep(500).stop()
         .action("cause").build())
    findings, _ = grade_scenario(s, faulty.StopLeavesCauseNone)
    fails = [f for f in findings if f.grade.value == "FAIL"]
    assert fails and "SPEC-CAUSE-END" in fails[0].clauses and "SPEC-STOP" in fails[0].clauses


def test_same_name_second_job_keeps_its_own_limits():
    """A file name reused by a second job still running at the end of the script is not checked
    against the second job's max_bytes (each job is keyed by its action)."""
    s = (ScenarioBuilder(seed=1).tone(0, 60_000, [600], -20).record(filename="x", seconds_timeout=2, max_bytes=0)
         .start(filename="x", max_bytes=1000).build())
    from recorder import FileRecorder

    findings, _ = grade_scenario(s, FileRecorder)
    assert not [f for f in findings if f.grade.value != "PASS"], findings
