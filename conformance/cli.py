"""``callsim conformance`` and ``callsim replay``: the suite from the command line.

``callsim conformance`` checks its options first (the factory imports and is callable, the
expected-failures file names known cases, the capabilities object, ``-n``, the report folder),
then runs ``pytest --pyargs conformance`` in this process with the plugin's options (so
``-n auto`` uses pytest-xdist), prints pytest's progress and the summary, writes the report and
exits 0, 1 or 2 as ``callsim conformance --help`` and docs/conformance.md explain. The summary is the report pytest's session built in memory,
never a report read back from disk.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callsim.textsafe import printable

__all__ = ["run_conformance", "run_replay", "check_scenario", "check_scenario_run", "print_findings"]

def _error(message: str) -> None:
    print(f"callsim conformance: {printable(message)}", file=sys.stderr)


def _preflight(args: Any, resolve: Callable[[str | None], Any] | None) -> str | None:
    """Why the options cannot grade anything (None when they can): checked before pytest starts,
    so a typo is one line, not an error per case."""
    from .plugin import OptionError, load_capabilities, read_xfail
    from .report import ReportPathError, check_report_dir

    if resolve is not None:
        try:
            resolve(args.recorder_factory)
        except (ValueError, ImportError, AttributeError) as exc:  # callsim.wiring.FactoryError is a ValueError
            return str(exc)
    n = args.numprocesses
    if n is not None:
        if not (str(n) in ("auto", "logical") or str(n).isdigit()):
            return f"-n {n!r}: give a number of workers, 'auto' or 'logical'"
        if importlib.util.find_spec("xdist") is None:
            return "-n needs pytest-xdist (pip install pytest-xdist)"
    try:
        from .campaign import CampaignError, check_campaign

        check_campaign(getattr(args, "database", None), getattr(args, "budget", None),
                       bool(getattr(args, "replay_only", False)))
    except CampaignError as exc:
        return str(exc)
    try:
        if args.xfail:
            from .suite import all_case_ids

            read_xfail(args.xfail, set(all_case_ids()), option="--xfail")
        load_capabilities(args.capabilities, option="--capabilities")
        check_report_dir(args.report)
    except (OptionError, ReportPathError) as exc:
        return str(exc)
    return None


class _Session:
    """A pytest plugin object that keeps the session's config, where the conformance plugin
    leaves the report it built."""

    config: Any = None

    def pytest_configure(self, config: Any) -> None:
        self.config = config


_PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
#: pytest's own reporter is off under callsim conformance (conformance.console): where to see it
_PYTEST_HINT = "see the lines above, or run pytest --pyargs conformance with the same options for pytest's own report"


def run_conformance(args: Any, resolve: Callable[[str | None], Any] | None = None) -> int:
    """``_run_conformance``, then the process ends at once if a recorder left a non-daemon
    thread running (``conformance.guard.exit_if_stuck``): the interpreter would wait for it."""
    from .guard import exit_if_stuck

    code = _run_conformance(args, resolve)
    exit_if_stuck(code)
    return code


def _run_conformance(args: Any, resolve: Callable[[str | None], Any] | None = None) -> int:
    """``callsim conformance``: ``resolve`` (the command line passes
    ``callsim.wiring.resolve_factory``) checks the factory before pytest starts; without it the
    plugin checks it when pytest configures."""
    problem = _preflight(args, resolve)
    if problem:
        _error(problem)
        return 2
    import pytest

    # pytest's own terminal reporter is off: conformance.console prints one progress display and
    # one summary. The suite's checks do not rely on assertion rewriting (--assert=plain: no
    # PytestAssertRewriteWarning for the modules the option checks imported); pytest-benchmark,
    # if installed, has nothing to measure here and only warns under xdist.
    argv = ["--pyargs", "conformance", "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:benchmark",
            "-o", "addopts=", "--assert=plain", "--callsim-report", str(args.report),
            "--callsim-profile", args.profile, "-W", "ignore::DeprecationWarning"]
    if args.recorder_factory:
        argv += ["--recorder-factory", args.recorder_factory]
    if getattr(args, "recorder_command", None):
        argv += ["--recorder-command", args.recorder_command]
    if getattr(args, "isolate", False):
        argv += ["--callsim-isolate"]
    if getattr(args, "reply_timeout", None) is not None:
        argv += ["--callsim-reply-timeout", str(args.reply_timeout)]
    if args.numprocesses:
        argv += ["-n", str(args.numprocesses)]
    if args.xfail:
        argv += ["--callsim-xfail", args.xfail]
    if not getattr(args, "strict_xfail", True):
        argv += ["--callsim-no-strict-xfail"]
    if args.capabilities:
        argv += ["--callsim-capabilities", args.capabilities]
    if getattr(args, "case_timeout", None) is not None:
        argv += ["--callsim-case-timeout", str(args.case_timeout)]
    if getattr(args, "database", None):
        argv += ["--callsim-database", args.database]
    if getattr(args, "budget", None) is not None:
        argv += ["--callsim-budget", str(args.budget)]
    if getattr(args, "replay_only", False):
        argv += ["--callsim-replay-only"]
    if args.keyword:
        argv += ["-k", args.keyword]
    from .console import Progress

    session = _Session()
    progress = Progress(args.recorder_factory or "the reference recorder", quiet=args.quiet,
                        workers=str(args.numprocesses) if args.numprocesses else None)
    try:
        code = int(pytest.main(argv, plugins=[session, progress]))
    finally:
        progress.finish()
    config = session.config
    report = getattr(config, "_callsim_report", None)
    write_error = getattr(config, "_callsim_report_error", None)
    if write_error:
        _error(f"cannot write the report: {write_error}")
        return 2
    if report is None:
        _error(f"pytest stopped before grading ({_PYTEST_EXIT.get(code, f'exit {code}')}); {_PYTEST_HINT}")
        return 2
    if not report.cases:
        known = report.known_cases()
        _error(f"-k {args.keyword!r} selected none of the suite's {known} cases" if args.keyword
               else f"no case was collected (pytest: {_PYTEST_EXIT.get(code, f'exit {code}')})")
        return 2
    _print_summary(report, Path(args.report), quiet=bool(args.quiet))
    if args.profile == "deep" or getattr(args, "database", None) or getattr(args, "budget", None):
        _print_campaign(Path(args.report))
    if code in (2, 3, 4):
        _error(f"the verdict is incomplete: pytest ended with exit status {code} ({_PYTEST_EXIT[code]})")
        return 2
    verdict = int(report.verdict())
    if verdict == 2:
        errors = report.errors
        _error(f"{len(errors)} case(s) could not be graded (ERROR), first {errors[0].id}: {errors[0].summary()[:200]}"
               if errors else f"no case was graded: all {len(report.cases)} selected cases are UNSUPPORTED")
    elif verdict == 0 and code != 0:
        _error(f"pytest reported failures (exit {code}) that no case explains; {_PYTEST_HINT}")
        return 2
    return verdict


def _print_summary(report: Any, report_dir: Path, quiet: bool = False) -> None:
    from .console import summary_lines

    print("\n".join(summary_lines(report, report_dir, quiet=quiet)))


def _print_campaign(report_dir: Path) -> None:
    """Per generated property: the examples run and the failures found (from the campaign's
    progress file, ``REPORT.progress.jsonl``)."""
    from .campaign import read_progress

    progress = read_progress(Path(f"{report_dir}.progress.jsonl"))
    if not progress:
        return
    total = sum(v["examples"] for v in progress.values())
    found = sum(v["failures"] for v in progress.values())
    print(f"campaign: {total} examples over {len(progress)} properties, {found} failure(s) found")
    for pid, v in progress.items():
        print(f"  {pid:<34} {v['examples']:>7} examples in {v['rounds']} round(s), {v['failures']} failure(s)")


def check_scenario(scenario: Any, factory: Any) -> tuple[int, list[Any]]:
    """Grade one scenario with the oracle (and its own [expect] table); 1 if anything FAILs."""
    code, findings, _ = check_scenario_run(scenario, factory)
    return code, findings


def check_scenario_run(scenario: Any, factory: Any) -> tuple[int, list[Any], Any]:
    """``check_scenario`` that also returns the run (``simulator.runner.RunResult``)."""
    from .expect import check_expect
    from .grades import Grade
    from .grading import grade_scenario

    findings, result = grade_scenario(scenario, factory)
    findings += check_expect(scenario, result)
    return (1 if any(f.grade is Grade.FAIL for f in findings) else 0), findings, result


def run_replay(args: Any, resolve: Callable[..., Any]) -> int:
    """``callsim replay``: ``resolve`` turns the factory spelling (the option, else the one the
    report names) into a factory; the command line passes ``callsim.wiring.resolve_factory``."""
    from .report import safe_name
    from .suite import check_recorder

    index = Path(args.report_dir) / "index.json"
    problem = _report_problem(Path(args.report_dir))
    if problem:
        print(printable(f"callsim replay: {problem}"), file=sys.stderr)
        return 2
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
        ids = [c["id"] for c in doc["cases"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(printable(f"callsim replay: cannot read {index}: {exc}"), file=sys.stderr)
        return 2
    case = next((c for c in doc["cases"] if c["id"] == args.case_id), None)
    if case is None:
        print(printable(f"callsim replay: no case {args.case_id!r} in {index}{_did_you_mean(args.case_id, ids)}"),
              file=sys.stderr)
        return 2
    spec = args.recorder_factory or doc.get("factory")
    # a report of a recorder process replays with its command (or --isolate) unless told otherwise
    command = None if (args.recorder_factory or getattr(args, "recorder_command", None)) else doc.get("recorder_command")
    if doc.get("isolate") and not args.recorder_factory and not getattr(args, "recorder_command", None):
        args.isolate = True
    try:
        factory = resolve(spec) if command is None else resolve(spec, command=command)
    except (ValueError, ImportError, AttributeError) as exc:
        print(printable(f"callsim replay: {exc}"), file=sys.stderr)
        return 2
    toml = Path(args.report_dir) / "replay" / (safe_name(case["id"]) + ".toml")
    if toml.exists():
        from simulator.scenario import load_scenario

        code, findings = check_scenario(load_scenario(toml), factory)
        print_findings(case["id"], findings)
        return code
    report = check_recorder(factory, select=case["id"], with_properties=case["id"].startswith(("property/", "stateful/")))
    for c in report.cases:
        if c.id == case["id"]:
            print(printable(f"{c.grade.value} {c.id}: {c.summary()}"))
            return 1 if c.grade.value == "FAIL" else 0
    print(f"callsim replay: case {case['id']!r} is not in this suite version", file=sys.stderr)
    return 2


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _report_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a report to replay from (None when it is one)."""
    if folder.is_dir():
        return None if (folder / "index.json").is_file() else f"{str(folder)!r} is not a conformance report (no index.json in it)"
    if folder.exists():
        return f"{str(folder)!r} is a file, not a report folder"
    parent = folder.parent if str(folder.parent) else Path(".")
    try:
        reports = [p.name for p in parent.iterdir() if (p / "index.json").is_file()] if parent.is_dir() else []
    except OSError:
        reports = []
    return f"no report folder {str(folder)!r}{_did_you_mean(folder.name, reports)}"


def print_findings(name: str, findings: list[Any]) -> None:
    bad = [f for f in findings if f.grade.value != "PASS"]
    if not bad:
        print(printable(f"PASS {name}"))
    for f in bad:
        print(printable(f"{f.grade.value} [{', '.join(f.clauses)}] {f.message}"))
