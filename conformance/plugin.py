"""The pytest plugin (``pytest11`` entry point ``callsim_conformance``).

Options: ``--recorder-factory=MODULE:CALLABLE`` (default ``$CALLSIM_RECORDER_FACTORY``, else the
reference ``recorder.FileRecorder``), ``--callsim-profile=ci|deep`` (hypothesis profile),
``--callsim-report=DIR`` (write ``index.json``, ``index.html``, ``junit.xml`` and replay files
there when the session ends; works under pytest-xdist), ``--callsim-xfail=FILE`` (the
implementation's expected failures: one case id per line, ``#`` comments) and
``--callsim-capabilities=MODULE:NAME`` (a ``conformance.Capabilities`` object).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from callsim.wiring import REFERENCE

__all__ = ["pytest_addoption", "pytest_configure", "recorder_factory", "read_xfail"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("callsim", "callsim conformance")
    group.addoption("--recorder-factory", action="store", default=None, metavar="MODULE:CALLABLE",
                    help="recorder factory under test: factory(channel) -> recorder "
                    "(default: $CALLSIM_RECORDER_FACTORY, else the reference recorder.FileRecorder)")
    group.addoption("--callsim-profile", action="store", default="ci", choices=("ci", "deep"),
                    help="hypothesis profile of the generated conformance properties")
    group.addoption("--callsim-report", action="store", default=None, metavar="DIR",
                    help="write the conformance report (index.json, index.html, junit.xml) to DIR")
    group.addoption("--callsim-xfail", action="store", default=None, metavar="FILE",
                    help="expected-failures file: one case id per line")
    group.addoption("--callsim-capabilities", action="store", default=None, metavar="MODULE:NAME",
                    help="capabilities object of the implementation (conformance.Capabilities)")


def read_xfail(path: str | None) -> set[str]:
    if not path:
        return set()
    ids = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(line)
    return ids


def _factory_spec(config: Any) -> str | None:
    return config.getoption("--recorder-factory") or os.environ.get("CALLSIM_RECORDER_FACTORY")


def pytest_configure(config: Any) -> None:
    config._callsim_xfail = read_xfail(config.getoption("--callsim-xfail"))
    caps_spec = config.getoption("--callsim-capabilities")
    if caps_spec:
        config._callsim_capabilities = _load_object(caps_spec)
    _RESULTS.clear()  # one list per session, also when pytest.main runs twice in a process
    config._callsim_t0 = time.perf_counter()


def _load_object(spec: str) -> Any:
    import importlib

    mod, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.fixture(scope="session")
def callsim_factory(request: Any) -> Any:
    """The factory under test, resolved from the option, the environment or the default."""
    from callsim.wiring import resolve_factory

    return resolve_factory(_factory_spec(request.config))


@pytest.fixture(scope="session")
def recorder_factory(callsim_factory: Any) -> Any:
    """The same factory under the fixture name users' own tests may request."""
    return callsim_factory


def pytest_runtest_logreport(report: Any) -> None:
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    for key, value in getattr(report, "user_properties", []):
        if key == "callsim_case":
            _RESULTS.append(value)


_RESULTS: list[dict[str, Any]] = []


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    config = session.config
    out = config.getoption("--callsim-report")
    if not out or hasattr(config, "workerinput"):  # xdist workers send results to the controller
        return
    from conformance.grades import CaseResult
    from conformance.report import Report

    spec = _factory_spec(config)
    report = Report(spec or f"{REFERENCE} (reference)", factory_spec=spec,
                    profile=config.getoption("--callsim-profile"))
    seen = set()
    for d in _RESULTS:
        if d["id"] in seen:
            continue
        seen.add(d["id"])
        res = CaseResult.from_json(d)
        if res.id in config._callsim_xfail:
            res.mark_expected_failure()
        report.cases.append(res)
    report.cases.sort(key=lambda c: c.id)
    report.duration_s = time.perf_counter() - config._callsim_t0
    try:
        from callsim.wiring import resolve_factory

        factory = resolve_factory(spec)
    except Exception:  # noqa: BLE001 - without a factory the report is written without plots
        factory = None
    path = report.write(out, factory=factory)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        s = report.summary()
        tr.write_line("callsim conformance: " + ", ".join(f"{k} {v}" for k, v in s.items()) + f"; report: {path}")
