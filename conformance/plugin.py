"""The pytest plugin (``pytest11`` entry point ``callsim_conformance``).

Options: ``--recorder-factory=MODULE:CALLABLE`` (default ``$CALLSIM_RECORDER_FACTORY``, else the
reference ``recorder.FileRecorder``), ``--callsim-profile=ci|deep`` (hypothesis profile),
``--callsim-report=DIR`` (write ``index.json``, ``index.html``, ``junit.xml`` and replay files
there when the session ends; works under pytest-xdist), ``--callsim-xfail=FILE`` (the
implementation's expected failures: one case id per line, ``#`` comments),
``--callsim-no-strict-xfail`` (a listed case that passes is reported XPASS without failing the
run; strict is the default), ``--callsim-capabilities=MODULE:NAME`` (a
``conformance.Capabilities`` object), and for a recorder in another process (the wire protocol,
docs/protocol.md) ``--recorder-command="CMD ARGS"``, ``--callsim-isolate`` (the Python factory
in a ``callsim host`` process) and ``--callsim-reply-timeout=SECONDS``.

The options are checked when pytest configures, before anything is collected: a factory that
cannot be imported, an unreadable expected-failures file or one naming an unknown case, a
capabilities object of the wrong type, or a report folder that cannot be written is one
``pytest.UsageError`` (exit status 4), never an error per test.

The report reconciles the suite's results with pytest's own outcomes: every selected case
appears exactly once. A case whose test crashed before it recorded a result (an exception the
case did not catch, a pytest-xdist worker that died) is graded FAIL with pytest's summary of the
crash; a case that could not be set up, or never ran (an interrupted session), is graded ERROR.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callsim.textsafe import plain_str, printable
from callsim.wiring import REFERENCE

__all__ = ["pytest_addoption", "pytest_configure", "recorder_factory", "simulated_call", "read_xfail",
           "load_capabilities", "OptionError", "case_id_of"]


class OptionError(ValueError):
    """An option value the suite cannot use (the message names the option and why)."""


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("callsim", "callsim conformance")
    group.addoption("--recorder-factory", action="store", default=None, metavar="MODULE:CALLABLE",
                    help="recorder factory under test: factory(channel) -> recorder "
                    "(default: $CALLSIM_RECORDER_FACTORY, else the reference recorder.FileRecorder)")
    group.addoption("--recorder-command", action="store", default=None, metavar='"CMD ARGS"',
                    help="run the recorder under test as this command, speaking the wire protocol on "
                    "stdin/stdout (docs/protocol.md)")
    group.addoption("--callsim-isolate", action="store_true", default=False,
                    help="run the Python factory (--recorder-factory, or the reference) in a `callsim host` "
                    "process behind the wire protocol")
    group.addoption("--callsim-reply-timeout", action="store", type=float, default=None, metavar="SECONDS",
                    help="wall-clock seconds a recorder process has for each message of a reply (default: 10)")
    group.addoption("--callsim-profile", action="store", default="ci", choices=("ci", "deep"),
                    help="hypothesis profile of the generated conformance properties")
    group.addoption("--callsim-report", action="store", default=None, metavar="DIR",
                    help="write the conformance report (index.json, index.html, junit.xml) to DIR")
    group.addoption("--callsim-xfail", action="store", default=None, metavar="FILE",
                    help="expected-failures file: one case id per line")
    group.addoption("--callsim-strict-xfail", action="store_true", dest="callsim_strict_xfail", default=True,
                    help="a case listed as an expected failure that passes (XPASS) fails the run (default)")
    group.addoption("--callsim-no-strict-xfail", action="store_false", dest="callsim_strict_xfail",
                    help="report XPASS without failing the run")
    group.addoption("--callsim-case-timeout", action="store", type=float, default=None, metavar="SECONDS",
                    help="wall-clock budget of one case: a recorder that has not returned by then FAILs "
                    "the case and the run goes on (default: 300, ten times that for a property under the deep profile; 0: no budget)")
    group.addoption("--callsim-database", action="store", default=None, metavar="DIR|redis://HOST:PORT/DB",
                    help="hypothesis example database shared by a campaign: a folder (on shared storage for many "
                    "machines) or a Redis URL; failures found anywhere replay first everywhere")
    group.addoption("--callsim-budget", action="store", type=float, default=None, metavar="SECONDS",
                    help="search the generated properties for about SECONDS of wall-clock time in all (shared "
                    "among the properties and workers), in rounds, instead of one run of the profile's examples")
    group.addoption("--callsim-replay-only", action="store_true", default=False,
                    help="only replay the examples saved in --callsim-database; generate nothing")
    group.addoption("--callsim-capabilities", action="store", default=None, metavar="MODULE:NAME",
                    help="capabilities object of the implementation (conformance.Capabilities)")


_MAX_XFAIL_BYTES = 1 << 20


def read_xfail(path: str | None, known: Collection[str] | None = None, *, option: str = "--callsim-xfail") -> set[str]:
    """The case IDs of an expected-failures file (one per line, ``#`` comments).

    ``OptionError`` when the file cannot be read or, given the ``known`` IDs, names a case the
    suite does not have (the message names each unknown ID, its line and the closest known ID).
    """
    if not path:
        return set()
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or /dev/zero would block or never end
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise OptionError(f"{option} {path!r}: cannot read the expected-failures file: it is {what}")
        if st.st_size > _MAX_XFAIL_BYTES:
            raise OptionError(f"{option} {path!r}: the expected-failures file has {st.st_size} bytes; "
                              f"at most {_MAX_XFAIL_BYTES}")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OptionError(f"{option} {path!r}: cannot read the expected-failures file: {why}") from None
    ids: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            ids.setdefault(line, n)
    if known is not None:
        pool = sorted(known)
        unknown = [
            f"{path}:{n}: unknown case id {cid!r}"
            + (f" (closest: {close[0]!r})" if (close := difflib.get_close_matches(cid, pool, n=1, cutoff=0.0)) else "")
            for cid, n in ids.items() if cid not in known
        ]
        if unknown:
            raise OptionError(f"{option}: " + "; ".join(unknown))
    return set(ids)


def load_capabilities(spec: str | None, *, option: str = "--callsim-capabilities") -> Any:
    """The ``conformance.Capabilities`` object ``MODULE:NAME`` names (None without a spec)."""
    if not spec:
        return None
    from callsim.wiring import FactoryError, load_object

    from .capabilities import Capabilities

    try:
        obj = load_object(spec, what="capabilities")
    except FactoryError as exc:
        raise OptionError(f"{option}: {exc}") from None
    if not isinstance(obj, Capabilities):
        raise OptionError(f"{option} {spec!r} is a {type(obj).__name__}, not a conformance.Capabilities")
    return obj


def _factory_spec(config: Any) -> str | None:
    return config.getoption("--recorder-factory") or os.environ.get("CALLSIM_RECORDER_FACTORY")


# -- which tests are conformance cases --------------------------------------------------------------
_CASE_NODE = re.compile(r"::test_(?:case|property)\[(?P<id>.+)\]$")


def case_id_of(nodeid: str) -> str | None:
    """The case ID of a ``RecorderConformanceTests`` test's node ID (None for other tests)."""
    m = _CASE_NODE.search(nodeid)
    return m.group("id") if m else None


@dataclass
class _State:
    """What the controller saw of the conformance tests during one session."""

    selected: dict[str, None] = field(default_factory=dict)  # node IDs, in collection order
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # node ID -> the case's result
    events: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # node ID -> (when, outcome, why)


_STATE: _State | None = None


def pytest_configure(config: Any) -> None:
    global _STATE
    _STATE = _State()  # one per session, also when pytest.main runs twice in a process
    config._callsim_t0 = time.perf_counter()
    config._callsim_strict_xfail = bool(config.getoption("callsim_strict_xfail", default=True))
    config._callsim_factory = None
    from callsim.wiring import FactoryError, resolve_factory

    from .report import ReportPathError, check_report_dir

    try:
        spec = _factory_spec(config)
        command, isolate = config.getoption("--recorder-command"), config.getoption("--callsim-isolate")
        if command or isolate:
            from callsim.wiring import resolve_recorder

            try:
                config._callsim_factory = resolve_recorder(
                    spec, command=command, isolate=isolate, reply_timeout=config.getoption("--callsim-reply-timeout"))
            except FactoryError as exc:
                raise OptionError(str(exc)) from None
        elif spec:  # the reference is imported lazily (a session without the suite never pays for it)
            try:
                config._callsim_factory = resolve_factory(spec)
            except FactoryError as exc:
                where = "" if config.getoption("--recorder-factory") else " (from $CALLSIM_RECORDER_FACTORY)"
                raise OptionError(f"{exc}{where}") from None
        xfail = config.getoption("--callsim-xfail")
        known = None
        if xfail:
            from .suite import all_case_ids

            known = set(all_case_ids())
        config._callsim_xfail = read_xfail(xfail, known)
        caps = load_capabilities(config.getoption("--callsim-capabilities"))
        if caps is not None:
            config._callsim_capabilities = caps
        out = config.getoption("--callsim-report")
        if out and not hasattr(config, "workerinput"):
            check_report_dir(out)
        _configure_campaign(config)
    except (OptionError, ReportPathError) as exc:
        raise pytest.UsageError(printable(str(exc))) from None


def _configure_campaign(config: Any) -> None:
    from .campaign import CampaignError, check_campaign

    database = config.getoption("--callsim-database", default=None)
    budget = config.getoption("--callsim-budget", default=None)
    replay_only = bool(config.getoption("--callsim-replay-only", default=False))
    try:
        check_campaign(database, budget, replay_only)
    except CampaignError as exc:
        raise OptionError(str(exc)) from None
    out = config.getoption("--callsim-report")
    # beside the report folder, which is replaced when the report is written
    config._callsim_progress = Path(f"{Path(out)}.progress.jsonl") if out else None
    if config._callsim_progress is not None and not hasattr(config, "workerinput"):
        config._callsim_progress.unlink(missing_ok=True)  # a new campaign's progress
    config._callsim_properties_selected = 0


def campaign_for(config: Any) -> Any:
    """The ``conformance.campaign.Campaign`` of one property in this session: the budget is
    shared among the selected properties and the pytest-xdist workers running them."""
    from .campaign import Campaign

    budget = config.getoption("--callsim-budget", default=None)
    if budget:
        workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
        budget = float(budget) * workers / max(1, getattr(config, "_callsim_properties_selected", 0) or 1)
    return Campaign(database=config.getoption("--callsim-database", default=None), budget_s=budget,
                    replay_only=bool(config.getoption("--callsim-replay-only", default=False)),
                    progress=getattr(config, "_callsim_progress", None))


def pytest_unconfigure(config: Any) -> None:
    global _STATE
    _STATE = None
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: its results are sent by now
        from .guard import exit_if_stuck

        exit_if_stuck(0)


@pytest.fixture(scope="session")
def callsim_factory(request: Any) -> Any:
    """The factory under test, resolved from the option, the environment or the default."""
    factory = getattr(request.config, "_callsim_factory", None)
    if factory is None:
        from callsim.wiring import resolve_factory

        factory = resolve_factory(None)
    return factory


@pytest.fixture(scope="session")
def recorder_factory(callsim_factory: Any) -> Any:
    """The same factory under the fixture name users' own tests may request."""
    return callsim_factory


@pytest.fixture
def simulated_call(callsim_factory: Any) -> Any:
    """Simulated calls for an application's own tests (``conformance.calls``):
    ``simulated_call(scenario)`` is a ``SimulatedCall`` whose ``channel`` has a working
    ``FileRecorder`` (the reference unless ``--recorder-factory`` names another), in virtual
    time; ``simulated_call.builder()`` starts a scenario."""
    from .calls import CallMaker

    return CallMaker(callsim_factory)


# -- what pytest saw -------------------------------------------------------------------------------
def pytest_collection_finish(session: Any) -> None:
    session.config._callsim_properties_selected = sum(
        1 for item in session.items if "::test_property[" in item.nodeid)
    if _STATE is not None:
        for item in session.items:
            if case_id_of(item.nodeid) is not None:
                _STATE.selected[item.nodeid] = None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under pytest-xdist the controller collects nothing itself: each worker sends its IDs."""
    if _STATE is not None:
        for nodeid in ids:
            if case_id_of(nodeid) is not None:
                _STATE.selected[nodeid] = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep an implementation's text from reaching the terminal raw: a conformance test's
    failure text and captured output lose control sequences, NUL and lone surrogates."""
    rep = yield
    if case_id_of(item.nodeid) is None:
        return rep
    if rep.longrepr is not None and not isinstance(rep.longrepr, tuple):
        text = str(rep.longrepr)
        safe = printable(text)
        if safe != text:
            crash = getattr(getattr(rep.longrepr, "reprcrash", None), "message", None)
            if crash:  # kept for the report's one-line summary (a plain attribute crosses xdist)
                rep.callsim_crash = printable(crash)
            rep.longrepr = safe
    if rep.sections:
        rep.sections = [(k, printable(v)) for k, v in rep.sections]
    return rep


def _why(report: Any) -> str:
    """pytest's one-line summary of a report's failure or skip."""
    longrepr = report.longrepr
    msg = getattr(report, "callsim_crash", None) or getattr(getattr(longrepr, "reprcrash", None), "message", None)
    if not msg and isinstance(longrepr, tuple) and len(longrepr) == 3:
        msg = str(longrepr[2])
    if not msg and longrepr is not None:
        lines = [ln.strip() for ln in str(longrepr).splitlines() if ln.strip()]
        msg = lines[-1] if lines else ""
    return plain_str(str(msg or report.outcome))[:1000]


def pytest_runtest_logreport(report: Any) -> None:
    st = _STATE
    if st is None or case_id_of(report.nodeid) is None:
        return
    for key, value in getattr(report, "user_properties", []):
        if key == "callsim_case":
            st.results.setdefault(report.nodeid, value)
    outcome = report.outcome
    st.events.setdefault(report.nodeid, []).append(
        (str(report.when), outcome, _why(report) if outcome != "passed" else ""))


def _reconcile(st: _State, config: Any) -> list[Any]:
    """One ``CaseResult`` per selected case: the case's own result, or one made from what
    pytest saw of it; a pytest failure no result explains is added as an ERROR finding."""
    from .grades import CaseResult, Finding, Grade
    from .suite import case_clauses

    xfail: set[str] = getattr(config, "_callsim_xfail", set())
    cases: dict[str, Any] = {}
    for nodeid in [*st.selected, *st.results, *st.events]:
        cid = case_id_of(nodeid)
        if cid is None or cid in cases:
            continue
        events = st.events.get(nodeid, [])
        failed = [(when, why) for when, outcome, why in events if outcome == "failed"]
        d = st.results.get(nodeid)
        if d is not None:
            res = CaseResult.from_json(d)
            explained = (Grade.FAIL, Grade.ERROR, Grade.XPASS)
            for when, why in failed:
                if not (when == "call" and res.grade in explained):
                    res.findings.append(Finding(Grade.ERROR, res.clauses, f"pytest reported the {when} phase failed: {why}"))
        else:
            res = CaseResult(cid, case_clauses(cid))
            crashed = [why for when, why in failed if when not in ("setup", "teardown")]
            skipped = [why for _, outcome, why in events if outcome == "skipped"]
            if crashed:
                res.findings.append(Finding(Grade.FAIL, res.clauses, f"no verdict: the case crashed: {crashed[0]}"))
            elif failed:
                res.findings.append(Finding(Grade.ERROR, res.clauses,
                                            f"no verdict: the {failed[0][0]} phase failed: {failed[0][1]}"))
            elif skipped:
                res.unsupported = f"skipped: {skipped[0]}"
            elif any(when == "call" for when, _, _ in events):
                res.findings.append(Finding(Grade.ERROR, res.clauses, "no verdict: the test passed without recording a result"))
            elif events:
                res.findings.append(Finding(Grade.ERROR, res.clauses, "no verdict: the case did not finish (the session "
                                            "was interrupted while it ran)"))
            else:
                res.findings.append(Finding(Grade.ERROR, res.clauses, "no verdict: the case never ran (the session "
                                            "was interrupted or its worker was lost)"))
            if cid in xfail:
                res.mark_expected_failure()
        cases[cid] = res
    return sorted(cases.values(), key=lambda c: c.id)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    config = session.config
    out = config.getoption("--callsim-report")
    st = _STATE
    if not out or st is None or hasattr(config, "workerinput"):  # xdist workers send results to the controller
        return
    from conformance.report import Report
    from conformance.suite import all_case_ids

    spec = _factory_spec(config)
    known = all_case_ids()
    command, isolate = config.getoption("--recorder-command"), bool(config.getoption("--callsim-isolate"))
    name = (f"command {command}" if command else
            (spec or f"{REFERENCE} (reference)") + (" (isolated: callsim host)" if isolate else ""))
    report = Report(name, factory_spec=None if command else spec, recorder_command=command, isolate=isolate,
                    profile=config.getoption("--callsim-profile"), strict_xfail=config._callsim_strict_xfail,
                    keyword=config.getoption("keyword") or None, known=len(known))
    report.cases = _reconcile(st, config)
    report.partial = not set(known) <= {c.id for c in report.cases}
    report.duration_s = time.perf_counter() - config._callsim_t0
    report.started = config._callsim_t0  # the written report's duration includes its plots
    config._callsim_report = report
    config._callsim_report_error = None
    factory = getattr(config, "_callsim_factory", None)
    if factory is None and report.failed:  # plots re-run failing scenarios with the factory
        try:
            from callsim.wiring import resolve_recorder

            factory = resolve_recorder(spec, command=command, isolate=isolate)
        except Exception:  # noqa: BLE001 - without a factory the report is written without plots
            factory = None
    tr = config.pluginmanager.get_plugin("terminalreporter")
    try:
        path = report.write(out, factory=factory)
    except (OSError, ValueError) as exc:
        config._callsim_report_error = printable(str(exc))
        if tr is not None:
            tr.write_line(f"callsim conformance: cannot write the report: {config._callsim_report_error}", red=True)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    if report.verdict() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # never green while the report is not
    config._callsim_report_path = path


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    """The suite's summary and its root causes (``conformance.console``), once, after pytest's
    own summary (``callsim conformance`` prints them itself, pytest's reporter switched off)."""
    report = getattr(config, "_callsim_report", None)
    path = getattr(config, "_callsim_report_path", None)
    if report is None or path is None or hasattr(config, "workerinput"):
        return
    from .console import summary_lines

    terminalreporter.write_sep("=", "callsim conformance")
    for line in summary_lines(report, Path(path).parent)[1:]:
        terminalreporter.write_line(line)


def summary_text(report: Any) -> str:
    """``FAIL 0, INFO 0, NON-STRICT 0, PASS 211, UNSUPPORTED 0 of 211 cases``: the five grades
    always, XFAIL, XPASS and ERROR when a case has them."""
    s = report.summary()
    always = ("PASS", "FAIL", "NON-STRICT", "INFO", "UNSUPPORTED")
    parts = [f"{k} {v}" for k, v in sorted(s.items()) if k != "total" and (k in always or v)]
    return ", ".join(parts) + f" of {s['total']} cases"
