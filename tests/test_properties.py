"""Tests of the generated conformance properties (``conformance.properties``), their strategies
(``conformance.strategies``) and the stateful machine (``conformance.stateful``).

* every property passes on the reference recorder under the ``ci`` profile;
* each cause property's strategy reaches its cause (counted by the oracle, without any
  implementation) and the property's own run reports reaching it;
* deliberately broken recorders are caught with grade FAIL and a scenario file that loads
  (and, for the stateful machine, replays to the same failure through the oracle);
* the strategies keep their own rules (levels, DTMF parameters, sizes of scenarios).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from conformance import strategies as S
from conformance.capabilities import Capabilities
from conformance.clauses import CLAUSES
from conformance.grades import CaseResult, Grade
from conformance.grading import grade_scenario
from conformance.model import predict
from conformance.properties import PROPERTIES, register_profiles, settings_for
from recorder import FileRecorder
from recorder.filerecorder import Cause, State
from simulator.scenario import Scenario, loads_scenario

CAPS = Capabilities()
PROPS = {p.id: p for p in PROPERTIES}

#: Differences of the reference recorder from our own decisions (NON-STRICT, never FAIL) that
#: the ci run shows; each has been reported. An entry may go stale once the recorder is fixed.
KNOWN_NON_STRICT = {
    # the reference's DTMF detector dates a tone's onset a few samples early, so a digit that
    # starts exactly at the job's first frame is taken as already sounding (SD-DTMF-BUFFER)
    "property/cause-bargein-inband",
}


@functools.cache
def _reference_result(prop_id: str) -> CaseResult:
    return PROPS[prop_id].run(FileRecorder, CAPS, settings_for("ci"))


def _reached(res: CaseResult) -> tuple[int, dict[str, int]]:
    ev = next(f.evidence for f in res.findings if f.grade is Grade.PASS and "reached" in f.evidence)
    return ev["examples"], ev["reached"]


# -- the reference passes -----------------------------------------------------------------------
@pytest.mark.parametrize("prop_id", list(PROPS))
def test_property_passes_on_reference(prop_id: str) -> None:
    """Each property, run under the ci profile, finds nothing wrong with the reference recorder."""
    res = _reference_result(prop_id)
    assert res.grade is not Grade.FAIL, res.summary()
    assert res.grade is Grade.PASS or (res.grade is Grade.NON_STRICT and prop_id in KNOWN_NON_STRICT), res.summary()
    examples, _ = _reached(res)
    assert examples >= 1


def test_property_ids_and_clauses() -> None:
    """Property ids are unique, well formed, and name only registered clauses."""
    ids = [p.id for p in PROPERTIES]
    assert len(ids) == len(set(ids))
    for p in PROPERTIES:
        assert p.id.startswith(("property/", "stateful/"))
        assert p.clauses and all(c in CLAUSES for c in p.clauses), p.id


def test_profiles() -> None:
    """ci is derandomized without a database; deep has hundreds of random examples; both print
    the reproduce blob; registering again is harmless."""
    register_profiles()
    ci, deep = settings_for("ci"), settings_for("deep")
    assert ci.derandomize and ci.database is None and ci.deadline is None and ci.print_blob
    assert not deep.derandomize and deep.max_examples >= 500 and deep.print_blob
    assert HealthCheck.too_slow in ci.suppress_health_check


def test_ci_run_is_repeatable() -> None:
    """Two ci runs of a property see the same examples (derandomized)."""
    a = PROPS["property/cause-hangup"].run(FileRecorder, CAPS, settings_for("ci"))
    b = PROPS["property/cause-hangup"].run(FileRecorder, CAPS, settings_for("ci"))
    assert _reached(a) == _reached(b)


# -- every cause is reached ------------------------------------------------------------------------
def _model_causes(s: Scenario) -> set[str]:
    """Causes the oracle predicts under our decisions (independent of any implementation)."""
    ours, _ = predict(s)
    out = {j.cause for j in ours.jobs}
    started = False
    for step in ours.steps:
        if step.call == "start" and step.returned is True:
            started = True
        if step.call == "cause" and step.returned == "NONE" and started:
            out.add("NONE")
    return out


REACH = [
    ("SILENCE", S.silence_scenarios), ("SIZE", S.size_scenarios), ("TIMEOUT", S.timeout_scenarios),
    ("BARGEIN", S.bargein_inband_scenarios), ("BARGEIN", S.bargein_oob_scenarios), ("HANGUP", S.hangup_scenarios),
    ("ABORTED", S.aborted_scenarios), ("NONE", S.none_scenarios),
]


@pytest.mark.parametrize(("cause", "strategy"), REACH, ids=[f"{c}-{s.__name__}" for c, s in REACH])
def test_strategy_reaches_its_cause(cause: str, strategy: Any) -> None:
    """At least half of the generated scenarios end a job with the cause the strategy is for,
    as the oracle predicts it."""
    seen: Counter[str] = Counter()
    n = [0]

    @settings(max_examples=12, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy(CAPS))
    def collect(s: Scenario) -> None:
        n[0] += 1
        seen.update(_model_causes(s))

    collect()
    assert seen[cause] * 2 >= n[0], (cause, dict(seen), n[0])


@pytest.mark.parametrize("prop_id", ["property/cause-silence", "property/cause-size", "property/cause-timeout",
                                     "property/cause-bargein-inband", "property/cause-bargein-oob",
                                     "property/cause-hangup", "property/cause-aborted", "property/cause-error",
                                     "property/cause-none"])
def test_property_reports_reaching_its_cause(prop_id: str) -> None:
    """Run on the reference, each cause property reaches its cause in at least half its examples
    (ERROR included, which the oracle does not model)."""
    res = _reference_result(prop_id)
    examples, reached = _reached(res)
    target = PROPS[prop_id].target
    assert target is not None
    assert reached.get(target, 0) * 2 >= examples, (reached, examples)


# -- broken recorders are caught ------------------------------------------------------------------------
class CauseAlwaysNone(FileRecorder):
    """Broken: cause() always answers NONE."""

    def cause(self) -> Cause:
        return Cause.NONE


class TimeoutAsSilence(FileRecorder):
    """Broken: a job that times out reports SILENCE."""

    def _end_job(self, job: Any, cause: Cause) -> None:
        super()._end_job(job, Cause.SILENCE if cause is Cause.TIMEOUT else cause)


class StaleCause(FileRecorder):
    """Broken: a new job does not reset the cause, and cause() reports the previous job's
    cause while the new one runs."""

    def _begin(self, params: Any) -> Any:
        old = self._cause
        job = super()._begin(params)
        self._cause = old
        return job

    def cause(self) -> Cause:
        return self._cause


class FaultEndsAborted(FileRecorder):
    """Broken: a store fault ends the job as if stopped (ABORTED, state IDLE)."""

    def _fail_job(self, job: Any, exc: BaseException) -> None:
        if job.ended:
            return
        self._detach(job)
        job.discard()
        self._finish_state(job, Cause.ABORTED, State.IDLE)


def _assert_caught(res: CaseResult, clause_hint: str) -> Scenario:
    assert res.grade is Grade.FAIL, res.summary()
    assert any(clause_hint in f.clauses for f in res.failures), res.summary()
    assert res.scenario_toml
    scenario = loads_scenario(res.scenario_toml)
    assert scenario.actions
    return scenario


def test_cause_always_none_is_caught() -> None:
    """A recorder whose cause() is always NONE fails property/cause-silence, with a shrunk
    scenario that replays to the same failure. NONE once the job has ended breaks SPEC-CAUSE-END
    ("when a particular job terminates, the reason why can be requested"), not SPEC-CAUSE-FN
    (which fixes NONE while a job runs)."""
    res = PROPS["property/cause-silence"].run(CauseAlwaysNone, CAPS, settings_for("ci"))
    scenario = _assert_caught(res, "SPEC-CAUSE-END")
    findings, _ = grade_scenario(scenario, CauseAlwaysNone)
    assert any(f.grade is Grade.FAIL for f in findings)
    assert not any(f.grade is Grade.FAIL for f in grade_scenario(scenario, FileRecorder)[0])
    assert len(scenario.actions) <= 3  # shrunk


def test_timeout_reported_as_silence_is_caught() -> None:
    """A recorder that reports SILENCE for a timed-out job fails property/cause-timeout."""
    res = PROPS["property/cause-timeout"].run(TimeoutAsSilence, CAPS, settings_for("ci"))
    _assert_caught(res, "SPEC-RECORD-TIMEOUT")


def test_stale_cause_is_caught_by_the_state_machine() -> None:
    """The stateful machine catches cause() != NONE during a job, and its exported scenario
    replays to a FAIL through the oracle (and passes with the reference)."""
    res = PROPS["stateful/api-model"].run(StaleCause, CAPS, settings_for("ci"))
    scenario = _assert_caught(res, "SPEC-CAUSE-FN")
    assert any(f.grade is Grade.FAIL for f in grade_scenario(scenario, StaleCause)[0])
    assert not any(f.grade is Grade.FAIL for f in grade_scenario(scenario, FileRecorder)[0])


def test_store_fault_reported_as_aborted_is_caught() -> None:
    """A recorder that turns a store fault into ABORTED fails property/cause-error."""
    res = PROPS["property/cause-error"].run(FaultEndsAborted, CAPS, settings_for("ci"))
    scenario = _assert_caught(res, "SPEC-STATE-ERROR")
    assert scenario.store.fail_write_n is not None or scenario.store.capacity_bytes is not None


def test_unsupported_capability() -> None:
    """A property needing an undeclared capability is UNSUPPORTED, and runs nothing."""
    res = PROPS["property/cause-bargein-oob"].run(CauseAlwaysNone, Capabilities(out_of_band_dtmf=False), settings_for("ci"))
    assert res.grade is Grade.UNSUPPORTED


# -- the strategies keep their rules -------------------------------------------------------------------
def _levels(s: Scenario) -> list[tuple[str, float]]:
    return [(a.kind, float(a.get("level_dbm0"))) for a in s.audio if a.get("level_dbm0") is not None]


@settings(max_examples=60, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(S.api_scenarios(CAPS) | S.silence_scenarios(CAPS) | S.bargein_inband_scenarios(CAPS) | S.hangup_scenarios(CAPS)
       | S.formats_rates_scenarios(CAPS) | S.exception_scenarios(CAPS) | S.defaults_scenarios(CAPS))
def test_strategy_rules(s: Scenario) -> None:
    """Levels stay 6 dB away from -45 dBm0; in-band DTMF is certain to be detected; scripts
    have at most 8 actions; the audio lasts at most 30 s."""
    assert len(s.actions) <= S.MAX_ACTIONS
    for kind, level in _levels(s):
        if kind == "dtmf":
            assert -20 <= level <= -10
        else:
            assert level >= -39 or level <= -51, (kind, level)
    for a in s.audio:
        if a.kind == "dtmf" and not a.get("out_of_band"):
            assert a.get("tone_ms") >= 60 and a.get("gap_ms") >= 60 and a.get("twist_db", 0) == 0
        if a.kind == "tone":
            assert all(f in S.SAFE_FREQS for f in a.get("freqs"))
        if a.kind in ("tone", "noise", "speech", "silence") and a.get("duration_ms") < 3_600_000:
            assert a.at_ms + a.get("duration_ms") <= S.MAX_AUDIO_MS
