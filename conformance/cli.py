"""``callsim conformance`` and ``callsim replay``: the suite from the command line.

``callsim conformance`` runs ``pytest --pyargs conformance`` in this process with the plugin's
options (so ``-n auto`` uses pytest-xdist), prints pytest's progress and the summary, writes the
report, and exits 1 exactly when a case FAILs (2 when the suite could not run at all).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_conformance", "run_replay", "check_scenario", "print_findings"]


def run_conformance(args: Any) -> int:
    import pytest

    argv = ["--pyargs", "conformance", "-p", "no:cacheprovider", "-o", "addopts=",
            "--callsim-report", str(args.report), "--callsim-profile", args.profile,
            "-W", "ignore::DeprecationWarning"]
    if args.recorder_factory:
        argv += ["--recorder-factory", args.recorder_factory]
    if args.numprocesses:
        argv += ["-n", str(args.numprocesses)]
    if args.xfail:
        argv += ["--callsim-xfail", args.xfail]
    if args.capabilities:
        argv += ["--callsim-capabilities", args.capabilities]
    if args.keyword:
        argv += ["-k", args.keyword]
    argv += ["-q", "--no-header", "-rN"] if args.quiet else ["-q", "--no-header", "-rf"]
    code = int(pytest.main(argv))
    index = Path(args.report) / "index.json"
    if not index.exists():
        print(f"callsim conformance: no report was written (pytest exit {code})", file=sys.stderr)
        return 2
    doc = json.loads(index.read_text())
    s = doc["summary"]
    print(f"\n{doc['implementation']}: " + ", ".join(f"{k} {v}" for k, v in s.items() if k != "total")
          + f" of {s['total']} cases; report {Path(args.report) / 'index.html'}")
    for c in doc["cases"]:
        if c["grade"] == "FAIL":
            print(f"  FAIL {c['id']} [{', '.join(c['clauses'])}]\n       {c['summary'][:300]}\n       replay: {c['replay']}")
    if s["FAIL"]:
        return 1
    return 0 if code in (0, 1, 5) or s["total"] else 2


def check_scenario(scenario: Any, factory: Any) -> tuple[int, list[Any]]:
    """Grade one scenario with the oracle (and its own [expect] table); 1 if anything FAILs."""
    from .expect import check_expect
    from .grades import Grade
    from .grading import grade_scenario

    findings, result = grade_scenario(scenario, factory)
    findings += check_expect(scenario, result)
    return (1 if any(f.grade is Grade.FAIL for f in findings) else 0), findings


def run_replay(args: Any, resolve: Callable[[str | None], Any]) -> int:
    """``callsim replay``: ``resolve`` turns the factory spelling (the option, else the one the
    report names) into a factory; the command line passes ``callsim.wiring.resolve_factory``."""
    from .report import safe_name
    from .suite import check_recorder

    index = Path(args.report_dir) / "index.json"
    doc = json.loads(index.read_text())
    case = next((c for c in doc["cases"] if c["id"] == args.case_id), None)
    if case is None:
        print(f"callsim replay: no case {args.case_id!r} in {index}", file=sys.stderr)
        return 2
    spec = args.recorder_factory or doc.get("factory")
    factory = resolve(spec)
    toml = Path(args.report_dir) / "replay" / (safe_name(case["id"]) + ".toml")
    if toml.exists():
        from simulator.scenario import load_scenario

        code, findings = check_scenario(load_scenario(toml), factory)
        print_findings(case["id"], findings)
        return code
    report = check_recorder(factory, select=case["id"], with_properties=case["id"].startswith(("property/", "stateful/")))
    for c in report.cases:
        if c.id == case["id"]:
            print(f"{c.grade.value} {c.id}: {c.summary()}")
            return 1 if c.grade.value == "FAIL" else 0
    print(f"callsim replay: case {case['id']!r} is not in this suite version", file=sys.stderr)
    return 2


def print_findings(name: str, findings: list[Any]) -> None:
    bad = [f for f in findings if f.grade.value != "PASS"]
    if not bad:
        print(f"PASS {name}")
    for f in bad:
        print(f"{f.grade.value} [{', '.join(f.clauses)}] {f.message}")
