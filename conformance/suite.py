"""The conformance suite as pytest tests, and as a plain function.

Three doors lead to the same checks:

* ``pytest --pyargs conformance --recorder-factory=MODULE:CALLABLE`` (the ``pytest11`` plugin in
  ``conformance.plugin`` adds the option and the ``recorder_factory`` fixture; the environment
  variable ``CALLSIM_RECORDER_FACTORY`` works too);
* subclass ``RecorderConformanceTests`` in your own test module and override the
  ``recorder_factory`` fixture (and, optionally, ``capabilities``);
* ``conformance.check_recorder(factory)`` returns a ``Report`` without pytest.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pytest

from callsim.textsafe import printable

from .capabilities import Capabilities, capabilities_of
from .cases import CATALOGUE, Case, run_case
from .grades import CaseResult, Grade
from .guard import DEEP_FACTOR, DEFAULT_CASE_TIMEOUT, guarded
from .report import Report

__all__ = ["RecorderConformanceTests", "check_recorder", "all_case_ids", "case_clauses", "properties", "conclude"]

_CASES: dict[str, Case] = {c.id: c for c in CATALOGUE}


def properties() -> list[Any]:
    """The generated (hypothesis) properties and the stateful machine, if available."""
    try:
        from .properties import PROPERTIES
    except ImportError:  # pragma: no cover - during development
        return []
    return list(PROPERTIES)


def _property_ids() -> list[str]:
    return [p.id for p in properties()]


def all_case_ids() -> list[str]:
    return list(_CASES) + _property_ids()


def case_clauses(case_id: str) -> tuple[str, ...]:
    """The clauses a case (or property) names; () for an ID the suite does not know."""
    if case_id in _CASES:
        return _CASES[case_id].clauses
    return next((tuple(p.clauses) for p in properties() if p.id == case_id), ())


def _run_property(prop: Any, factory: Any, caps: Capabilities, profile: str, campaign: Any = None) -> CaseResult:
    """One property under ``profile``; under a ``conformance.campaign.Campaign`` (a shared
    database, a time budget, replay only) through ``conformance.campaign.run_property``."""
    from .properties import settings_for

    t0 = time.perf_counter()
    if campaign is not None and (campaign.active or profile == "deep"):  # deep: progress lines too
        from .campaign import run_property

        res: CaseResult = run_property(prop, factory, caps, settings_for(profile), campaign)
    else:
        res = prop.run(factory, caps, settings_for(profile))
    res.duration_s = time.perf_counter() - t0
    return res


def _property_timeout(config: Any, profile: str, campaign: Any) -> float:
    """A property's wall-clock guard: the case timeout (times ``DEEP_FACTOR`` under deep), and
    never less than its campaign budget plus one case timeout."""
    base = _case_timeout(config)
    t = base * (DEEP_FACTOR if profile == "deep" else 1)
    if base and campaign is not None and campaign.budget_s:
        t = max(t, campaign.budget_s + base)
    return t


def conclude(request: Any, result: CaseResult) -> None:
    """Record a case's result for the report and turn its grade into a pytest outcome.

    A case listed in the expected-failures file (``--callsim-xfail``) is marked first: FAIL
    becomes XFAIL (pytest's xfail), a pass becomes XPASS, which fails the test when expected
    failures are strict (the default; ``--callsim-no-strict-xfail`` turns it off).
    """
    xfails: set[str] = getattr(request.config, "_callsim_xfail", set())
    if result.id in xfails:
        result.mark_expected_failure()
    request.node.user_properties.append(("callsim_case", result.to_json()))
    grade = result.grade
    if grade is Grade.UNSUPPORTED:
        pytest.skip(printable(f"UNSUPPORTED: {result.unsupported}"))
    if grade is Grade.XFAIL:
        pytest.xfail(printable(f"expected failure (listed in the implementation's xfail file): {result.summary()}"))
    if grade is Grade.XPASS and getattr(request.config, "_callsim_strict_xfail", True):
        pytest.fail(printable(f"[XPASS(strict)] {result.id}: {result.summary()}"), pytrace=False)
    if grade in (Grade.FAIL, Grade.ERROR):
        pytest.fail(printable(f"{result.id}: {result.summary()}"), pytrace=False)


class RecorderConformanceTests:
    """Subclass this and override the ``recorder_factory`` fixture to test your recorder.

    >>> class TestMyRecorder(RecorderConformanceTests):
    ...     @pytest.fixture
    ...     def recorder_factory(self):
    ...         return mypackage.MyRecorder

    There is no default: a subclass that does not override ``recorder_factory`` errors with a
    message saying so, instead of quietly testing some other recorder.
    """

    @pytest.fixture
    def recorder_factory(self) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} subclasses RecorderConformanceTests but does not override "
            "the recorder_factory fixture: define `@pytest.fixture def recorder_factory(self): "
            "return YourRecorder` in the class"
        )

    @pytest.fixture
    def capabilities(self, recorder_factory: Any, request: Any) -> Capabilities:
        caps = getattr(request.config, "_callsim_capabilities", None)
        return caps if isinstance(caps, Capabilities) else capabilities_of(recorder_factory)

    @pytest.mark.parametrize("case_id", list(_CASES))
    def test_case(self, case_id: str, recorder_factory: Any, capabilities: Capabilities, request: Any) -> None:
        case = _CASES[case_id]
        conclude(request, guarded(case_id, case.clauses, lambda: run_case(case, recorder_factory, capabilities),
                                  _case_timeout(request.config)))

    @pytest.mark.parametrize("prop_id", _property_ids())
    def test_property(self, prop_id: str, recorder_factory: Any, capabilities: Capabilities, request: Any) -> None:
        prop = next(p for p in properties() if p.id == prop_id)
        profile = request.config.getoption("--callsim-profile", default="ci") or "ci"
        from .plugin import campaign_for

        campaign = campaign_for(request.config) if hasattr(request.config, "_callsim_progress") else None
        conclude(request, guarded(prop_id, tuple(prop.clauses),
                                  lambda: _run_property(prop, recorder_factory, capabilities, profile, campaign),
                                  _property_timeout(request.config, profile, campaign)))


def _case_timeout(config: Any) -> float:
    value = config.getoption("--callsim-case-timeout", default=None)
    return DEFAULT_CASE_TIMEOUT if value is None else float(value)


def _describe(factory: Any) -> str:
    mod = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None) or repr(factory)
    return f"{mod}:{name}" if mod else str(name)


def check_recorder(
    factory: Any,
    *,
    capabilities: Capabilities | None = None,
    profile: str = "ci",
    select: str | None = None,
    xfail: set[str] | None = None,
    with_properties: bool = True,
    strict_xfail: bool = True,
    case_timeout: float = DEFAULT_CASE_TIMEOUT,
) -> Report:
    """Run every case (and property) against ``factory`` and return the ``Report``.

    ``select`` keeps only cases whose id contains it (``|`` separates alternatives). Cases in
    ``xfail`` are expected failures: a FAIL there grades XFAIL, a pass XPASS (which makes the
    report not ``ok`` when ``strict_xfail``).
    """
    caps = capabilities or capabilities_of(factory)
    keep = (lambda cid: any(s in cid for s in select.split("|"))) if select else (lambda cid: True)
    report = Report(_describe(factory), profile=profile, factory_spec=_describe(factory), strict_xfail=strict_xfail)
    t0 = time.perf_counter()
    for case in CATALOGUE:
        if keep(case.id):
            report.cases.append(guarded(case.id, case.clauses, partial(run_case, case, factory, caps), case_timeout))
    if with_properties:
        for prop in properties():
            if keep(prop.id):
                report.cases.append(guarded(prop.id, tuple(prop.clauses),
                                            partial(_run_property, prop, factory, caps, profile),
                                            case_timeout * (DEEP_FACTOR if profile == "deep" else 1)))
    if xfail:
        for c in report.cases:
            if c.id in xfail:
                c.mark_expected_failure()
    report.duration_s = time.perf_counter() - t0
    return report
