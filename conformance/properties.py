"""Generated conformance properties: hypothesis searches for scenarios the oracle grades FAIL.

This module owns the ``Property`` value, the list ``PROPERTIES`` the suite runs, and the two
hypothesis settings profiles (``ci``: derandomized and small, so a run is fast and repeatable;
``deep``: hundreds of random examples per property, reproducible from the printed blob).

Each property draws scenarios from ``conformance.strategies``, runs them with the
implementation under test and grades them with ``grade_scenario`` (the oracle of
``conformance.model``); any FAIL finding falsifies the property. Hypothesis then shrinks, and
the smallest failing scenario (the last one that failed) becomes the case's ``scenario_toml``,
with its findings and the ``@reproduce_failure`` blob as evidence. NON-STRICT and INFO findings
seen on the way are reported (deduplicated, at most ``SOFT_CAP``) without failing. Each cause
property also counts how often its cause was actually reached, and says so in a PASS finding
(``evidence["reached"]``), so a strategy that stops reaching its cause is noticed. That
bookkeeping (``Tracker``, ``run_tracked``) is ``conformance.tracker``'s, shared with the state
machine of ``conformance.stateful``.

Store faults (``property/cause-error``) are outside the oracle's model, so that property grades
its runs with ``conformance.faults`` (as the catalogue's ``faults/*`` cases do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import strategies as st

from simulator.runner import RunResult, run_scenario
from simulator.scenario import Scenario, ScenarioBuilder

from . import strategies as S
from .capabilities import Capabilities
from .faults import count_writes, fault_findings, nothing_written
from .grades import CaseResult, Finding, Grade
from .grading import grade_scenario
from .tracker import SOFT_CAP, Tracker, run_tracked
from .types import check_types

__all__ = ["Property", "PROPERTIES", "settings_for", "register_profiles", "PROFILES", "SOFT_CAP",
           "causes_seen", "property_ids", "keyed"]

#: Profile names as the suite knows them -> the names registered with hypothesis (namespaced so
#: a user's own "ci" profile is never overwritten).
PROFILES = {"ci": "callsim-ci", "deep": "callsim-deep"}
#: Examples per property in the ci profile (each property scales it by its ``weight``).
CI_EXAMPLES = 20
DEEP_EXAMPLES = 600

Factory = Any


def register_profiles() -> None:
    """Register the ``callsim-ci`` and ``callsim-deep`` profiles (idempotent: re-registering
    replaces a profile with the same values)."""
    common: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "print_blob": True,
        "report_multiple_bugs": False,  # one minimal scenario per property, the last one run
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.filter_too_much],
    }
    # ci: no explain phase (it reruns the failing example many times to annotate it)
    settings.register_profile(PROFILES["ci"], max_examples=CI_EXAMPLES, derandomize=True,
                              phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
                              **common)
    settings.register_profile(PROFILES["deep"], max_examples=DEEP_EXAMPLES, derandomize=False, **common)


register_profiles()


def settings_for(profile: str) -> settings:
    """The hypothesis settings of a profile: ``"ci"`` or ``"deep"`` (or a registered name)."""
    return settings.get_profile(PROFILES.get(profile, profile))


@dataclass(frozen=True)
class Property:
    """One generated property: ``run(factory, caps, settings) -> CaseResult``.

    ``target`` names what the property must reach (a cause, or another label of its
    ``evidence["reached"]`` counter); ``weight`` scales the profile's ``max_examples``.
    """

    id: str
    clauses: tuple[str, ...]
    run: Callable[[Factory, Capabilities, settings], CaseResult]
    description: str = ""
    target: str | None = None
    weight: float = 1.0


class _Falsified(AssertionError):
    """Raised inside a hypothesis test when an example has a FAIL finding."""


# -- what a run reached ---------------------------------------------------------------------------------
def causes_seen(result: RunResult) -> set[str]:
    """Termination causes the run observed (``record``/``wait`` results, ``cause()``, the final
    cause), plus ``"NONE"`` when ``cause()`` said NONE while a started job ran.

    A ``wait_until_finished`` TIMEOUT is the wait's own, not a job's, and is left out.
    """
    seen: set[str] = set()
    started = False
    for s in result.steps:
        if s.raised:
            continue
        if s.call in ("start", "record") and s.returned not in (False, None):
            started = True
        if s.call == "record" or (s.call == "wait_until_finished" and s.returned != "TIMEOUT") or s.call == "cause":
            if isinstance(s.returned, str) and s.returned != "NONE":
                seen.add(s.returned)
        if s.call == "cause" and s.returned == "NONE" and started:
            seen.add("NONE")
    fin = result.final.get("cause") if result.final else None
    if isinstance(fin, str) and fin != "NONE":
        seen.add(fin)
    return seen


def keyed(test: Any, pid: str) -> None:
    """Give a property's hypothesis test its own key in an example database: the property id,
    the same on every machine (the tests are closures with one source, so hypothesis's default
    key, a digest of the source, would be shared by all of them). The key does not seed the
    derandomized ``ci`` profile."""
    test._hypothesis_internal_database_key = b"callsim-conformance:" + pid.encode()


def _derived(hs: settings, weight: float) -> settings:
    return settings(hs, max_examples=max(1, round(hs.max_examples * weight)))


# -- scenario properties (graded by the oracle) ------------------------------------------------------
Labeller = Callable[[Scenario, RunResult], set[str]]


def _scenario_property(pid: str, clauses: tuple[str, ...],
                       strategy: Callable[[Capabilities], st.SearchStrategy[Scenario]], *,
                       description: str, target_label: str | None = None,
                       labels: Labeller | None = None, needs: dict[str, Any] | None = None,
                       weight: float = 1.0) -> Property:
    label_fn: Labeller = labels or (lambda _s, r: causes_seen(r))

    def run(factory: Factory, caps: Capabilities, hs: settings) -> CaseResult:
        res = CaseResult(pid, clauses)
        why = caps.missing(**(needs or {}))
        if why:
            res.unsupported = why
            return res
        tr = Tracker()

        @settings(_derived(hs, weight))
        @given(strategy(caps))
        def check(scenario: Scenario) -> None:
            findings, result = grade_scenario(scenario, factory, clauses=clauses)
            findings = findings + check_types(result.steps)
            tr.examples += 1
            got = label_fn(scenario, result)
            tr.reached.update(got)
            if target_label is not None:
                target(1.0 if target_label in got else 0.0, label=f"reached {target_label}")
            fails = [f for f in findings if f.grade is Grade.FAIL]
            if fails:
                tr.last_fail = (scenario, [f for f in findings if f.grade is not Grade.PASS])
                raise _Falsified(fails[0].message)
            tr.note_soft(findings)

        keyed(check, pid)
        return run_tracked(res, tr, check, target_label)

    return Property(pid, clauses, run, description, target_label, weight)


def _format_labels(scenario: Scenario, result: RunResult) -> set[str]:
    out = set()
    for a, s in zip(scenario.actions, result.steps):
        if a.call == "record" and not s.raised:
            k = a.kwargs()
            out.add(f"{k.get('file_format', 'alaw')}/{k.get('rate', 8000)}")
    return out


def _exception_labels(scenario: Scenario, result: RunResult) -> set[str]:
    busy = bool(scenario.actions) and scenario.actions[0].call == "start" and \
        scenario.actions[0].kwargs().get("filename") == "busy.wav"
    idx = 2 if busy else 0
    if len(scenario.actions) <= idx:
        return set()
    state = scenario.call.changes[0].state if busy and scenario.call.changes else scenario.call.state
    if busy and not scenario.call.changes:
        state = "ANSWERED"
    step = result.steps[idx] if len(result.steps) > idx else None
    outcome = (step.raised or "returned") if step else "?"
    return {f"{scenario.actions[idx].call}/{state}/{'recording' if busy else 'idle'}", outcome}


def _default_labels(scenario: Scenario, result: RunResult) -> set[str]:
    out = set(causes_seen(result))
    keys = ("file_format", "rate", "seconds_timeout", "max_bytes", "milliseconds_max_silence",
            "milliseconds_initial_silence", "barge_in")
    for a in scenario.actions:
        if a.call in ("record", "start"):
            k = a.kwargs()
            out.update(f"default:{key}" for key in keys if key not in k and not (key == "seconds_timeout" and a.call == "start"))
            out.update(f"zero:{key}" for key in keys if k.get(key) == 0 and key != "seconds_timeout")
    return out


# -- store faults (outside the oracle's model) ----------------------------------------------------------
def _job_actions(args: dict[str, Any], use_start: bool) -> list[tuple[str, dict[str, Any]]]:
    if use_start:
        return [("start", {k: v for k, v in args.items() if k != "seconds_timeout"}),
                ("wait_until_finished", {"seconds_timeout": None})]
    return [("record", args)]


def _with_actions(base: Scenario, actions: list[tuple[str, dict[str, Any]]], store: dict[str, Any] | None,
                  description: str = "") -> Scenario:
    b = ScenarioBuilder(seed=base.seed)
    for a in base.audio:
        b.audio(a.at_ms, a.kind, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in a.params})
    if store:
        b.store(**store)
    s = S.apply_actions(b, actions).build()
    return dataclasses.replace(s, description=description) if description else s


def _error_property() -> Property:
    pid = "property/cause-error"
    clauses = ("SPEC-STATE-ERROR", "SD-ERROR", "SD-FILES-LEFT", "SD-AUDIO")

    def run(factory: Factory, caps: Capabilities, hs: settings) -> CaseResult:
        res = CaseResult(pid, clauses)
        tr = Tracker()

        @settings(_derived(hs, 0.75))
        @given(S.fault_base_scenarios(caps), st.booleans(), st.sampled_from(("write", "space")), st.data())
        def check(base_args: tuple[Scenario, dict[str, Any]], use_start: bool, kind: str, data: st.DataObject) -> None:
            base, args = base_args
            job = _job_actions(args, use_start)
            writes, size = count_writes(_with_actions(base, job, None), factory)
            tr.examples += 1
            if writes == 0:
                tr.note_soft([nothing_written()])
                return
            if kind == "write":
                store = {"fail_write_n": data.draw(st.integers(1, writes), label="fail_write_n")}
            else:
                store = {"capacity_bytes": data.draw(st.integers(0, max(0, size - 1)), label="capacity_bytes")}
            acts = job + [("state", {}), ("cause", {}), ("audio_detected_in_recording", {}), ("sleep", {"ms": 100}),
                          ("state", {})]
            if kind == "write":
                acts += [("record", {"filename": "next.wav", "seconds_timeout": 1}), ("state", {})]
            scenario = _with_actions(
                base, acts, store,
                f"{pid}: a store fault inside the job must end it with ERROR (state ERROR, nothing published); "
                "the oracle does not model store faults, so `callsim run --check` grades this file as if there "
                f"were none. Clean run: {writes} writes, {size} bytes.")
            try:
                result = run_scenario(scenario, factory)
            except Exception as exc:  # the implementation crashed the simulation
                tr.last_fail = (scenario, [Finding(Grade.FAIL, clauses, f"the run crashed: {type(exc).__name__}: {exc}")])
                raise _Falsified("crash") from None
            got = causes_seen(result)
            tr.reached.update(got | {f"fault:{kind}"})
            target(1.0 if "ERROR" in got else 0.0, label="reached ERROR")
            findings = fault_findings(scenario, result, {"clean_writes": writes, "clean_bytes": size, "fault": store})
            if any(f.grade is Grade.FAIL for f in findings):
                tr.last_fail = (scenario, findings)
                raise _Falsified(findings[0].message)
            tr.note_soft(findings)

        keyed(check, pid)
        return run_tracked(res, tr, check, "ERROR")

    return Property(pid, clauses, run, "a store fault (nth write fails, or out of space) at any point of a job",
                    "ERROR", 0.75)


# -- the list ---------------------------------------------------------------------------------------------
def _build_properties() -> list[Property]:
    from .stateful import STATEFUL_CLAUSES, STATEFUL_ID, run_stateful

    P = _scenario_property
    return [
        P("property/cause-silence", ("SPEC-SILENCE", "SD-SILENCE", "SPEC-INITIAL-SILENCE", "SD-INITIAL-SILENCE", "SPEC-AUDIO"),
          S.silence_scenarios, target_label="SILENCE", weight=0.75,
          description="audio then silence (or a late start of audio): the job ends with SILENCE on time"),
        P("property/cause-size", ("SPEC-SIZE", "SD-SIZE", "SPEC-WAV"), S.size_scenarios, target_label="SIZE",
          description="continuous audio and a max_bytes reached within 10 s: SIZE, data never above max_bytes"),
        P("property/cause-timeout", ("SPEC-RECORD-TIMEOUT", "SD-TIMER"), S.timeout_scenarios, target_label="TIMEOUT",
          weight=0.5, description="continuous audio outlasting seconds_timeout (1..28 s): TIMEOUT"),
        P("property/cause-bargein-inband", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-DTMF-FILE"), S.bargein_inband_scenarios,
          target_label="BARGEIN", needs={"inband_dtmf": True},
          description="an in-band digit during a barge_in job (sometimes already sounding at its start)"),
        P("property/cause-bargein-oob", ("SPEC-BARGEIN", "SD-DTMF-BUFFER", "SD-TIES"), S.bargein_oob_scenarios,
          target_label="BARGEIN", needs={"out_of_band_dtmf": True},
          description="an out-of-band digit during a barge_in job, sometimes with a hangup at the same instant"),
        P("property/cause-hangup", ("SPEC-HANGUP-CAUSE", "SD-HANGUP", "SPEC-EXC-HANGUP", "SD-HOLD"), S.hangup_scenarios,
          target_label="HANGUP", description="a hangup at any millisecond before, during or after a job"),
        P("property/cause-aborted", ("SPEC-STOP", "SD-STOP", "SPEC-AUDIO"), S.aborted_scenarios, target_label="ABORTED",
          description="start, then stop after any delay: ABORTED, and stop() when idle returns True"),
        _error_property(),
        P("property/cause-none", ("SPEC-CAUSE-FN", "SPEC-STATE-FN", "SPEC-AUDIO", "SPEC-WAIT-TIMEOUT", "SD-WAIT-TIMEOUT"),
          S.none_scenarios, target_label="NONE",
          description="getters during a job (RECORDING, NONE, None) and waits that time out"),
        P("property/defaults-zero-off", ("SPEC-RECORD-DEFAULTS", "SPEC-ZERO-OFF"), S.defaults_scenarios, weight=0.5,
          labels=_default_labels, description="arguments left to their defaults or switched off with 0"),
        P("property/formats-rates", ("SPEC-FORMATS", "SPEC-RATES", "SPEC-WAV", "SPEC-SIZE"), S.formats_rates_scenarios,
          labels=_format_labels, weight=1.5,
          description="jobs in every format x rate: header, data size vs duration, decoded audio, max_bytes"),
        P("property/exceptions", ("SPEC-EXC-HANGUP", "SPEC-EXC-NOTANSWERED", "SPEC-EXC-BUSY", "SPEC-EXC-ORDER", "SD-HOLD"),
          S.exception_scenarios, labels=_exception_labels, weight=1.5,
          description="the 4 blocking methods x 14 call states x record state idle/recording"),
        P("property/silence-boundary", ("SD-SILENCE", "SPEC-SILENCE", "SPEC-AUDIO"), S.boundary_scenarios,
          target_label="SILENCE", weight=0.5,
          description="audio within 3 dB of the -45 dBm0 threshold: only what holds either way can FAIL"),
        P("property/api-scripts", ("SPEC-RECORD", "SPEC-START", "SPEC-STOP", "SPEC-WAIT", "SPEC-STATE-FN",
                                   "SPEC-CAUSE-FN", "SPEC-AUDIO", "SPEC-EXC-HANGUP", "SPEC-EXC-NOTANSWERED",
                                   "SPEC-EXC-BUSY", "SD-HOLD"),
          S.api_scenarios, weight=1.5, description="free-form scripts of up to 8 calls over any audio and events"),
        Property(STATEFUL_ID, STATEFUL_CLAUSES, run_stateful,
                 "a state machine of API calls, sleeps and injected hangups, digits and holds against a spec model"),
    ]


PROPERTIES: list[Property] = _build_properties()


def property_ids() -> list[str]:
    return [p.id for p in PROPERTIES]
