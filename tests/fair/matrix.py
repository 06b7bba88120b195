"""The fairness matrix as data: run the conformance suite on a fair recorder, summarise the grades.

``run_row(readings, select=..., with_properties=...)`` runs ``conformance.check_recorder`` on
``make_factory(*readings)`` and returns a ``Row`` (cases run, FAIL and NON-STRICT counts, the
first FAIL message, the decisions the NON-STRICT findings name). ``render(rows)`` makes the
markdown table of ``docs/fairness.md``.

``python3 -m tests.fair.matrix [--full] [--properties] [-j N] [--json FILE]`` prints the table for
every reading alone and the combinations of ``tests/test_fairness.py`` (the cases relevant to
each reading, or with ``--full`` the whole catalogue).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from .recorder import make_factory

__all__ = ["Row", "run_row", "render", "findings_of"]


@dataclass
class Row:
    label: str
    readings: tuple[str, ...]
    select: str | None
    cases: int = 0
    fail: int = 0  # cases graded FAIL
    non_strict: int = 0  # cases graded NON-STRICT
    info: int = 0  # cases with an INFO finding (a quality or gray-zone note, never a failure)
    first_fail: str = ""
    decisions: list[str] = field(default_factory=list)  # SD-* named by NON-STRICT findings
    fail_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


def findings_of(report: Any, grade: str) -> list[tuple[str, Any]]:
    """(case id, finding) of every finding of ``grade`` (a Grade value such as "FAIL")."""
    return [(c.id, f) for c in report.cases for f in c.findings if f.grade.value == grade]


def run_row(readings: tuple[str, ...], *, select: str | None, with_properties: bool = False,
            label: str | None = None, probes: list[tuple[str, Any]] | None = None) -> tuple[Row, Any]:
    """Grade ``make_factory(*readings)`` on the selected cases plus ``probes`` ((id, scenario)
    pairs graded by the same oracle)."""
    import conformance
    from conformance.grades import CaseResult
    from conformance.grading import grade_scenario

    factory = make_factory(*readings)
    t0 = time.perf_counter()
    report = conformance.check_recorder(factory, select=select, with_properties=with_properties)
    for pid, scenario in probes or []:
        res = CaseResult(pid, ())
        res.findings, _ = grade_scenario(scenario, factory)
        report.cases.append(res)
    row = Row(label or "+".join(readings) or "(none)", tuple(readings), select)
    row.seconds = round(time.perf_counter() - t0, 1)
    row.cases = len(report.cases)
    failed = [c for c in report.cases if c.grade.value == "FAIL"]
    row.fail = len(failed)
    row.fail_ids = [c.id for c in failed]
    row.non_strict = sum(c.grade.value == "NON-STRICT" for c in report.cases)
    row.info = sum(any(f.grade.value == "INFO" for f in c.findings) for c in report.cases)
    fails = findings_of(report, "FAIL")
    if fails:
        cid, f = fails[0]
        row.first_fail = f"{cid}: [{', '.join(f.clauses)}] {f.message}"
    row.decisions = sorted({cl for _, f in findings_of(report, "NON-STRICT") for cl in f.clauses if cl.startswith("SD-")})
    return row, report


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(rows: list[Row]) -> str:
    out = ["| reading | cases run | FAIL | NON-STRICT | INFO | decisions named (NON-STRICT) | first FAIL message |",
           "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        out.append(f"| `{r.label}` | {r.cases} | {r.fail} | {r.non_strict} | {r.info} | {', '.join(r.decisions) or '-'} | "
                   f"{_cell(r.first_fail) or '-'} |")
    return "\n".join(out)


def _job(args: tuple[str, tuple[str, ...], str | None, bool]) -> dict[str, Any]:
    from tests.test_fairness import PROBES

    label, readings, select, props = args
    of = readings or tuple(PROBES)  # the no-reading row runs every probe
    probes = list({pid: s for r in of for pid, s in PROBES.get(r, [])}.items())
    row, _ = run_row(readings, select=select, with_properties=props, label=label, probes=probes)
    return asdict(row)


def main(argv: list[str] | None = None) -> int:
    from tests.test_fairness import COMBINATIONS, SELECT

    from .recorder import READINGS

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="the whole catalogue for every row")
    ap.add_argument("--properties", action="store_true", help="with the generated properties")
    ap.add_argument("-j", type=int, default=2, help="processes")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    args = ap.parse_args(argv)
    everything = "|".join(dict.fromkeys(k for v in SELECT.values() for k in v.split("|")))
    jobs: list[tuple[str, tuple[str, ...], str | None, bool]] = [("(none)", (), None if args.full else everything, args.properties)]
    jobs += [(r, (r,), None if args.full else SELECT[r], args.properties) for r in READINGS]
    for name, (readings, select) in COMBINATIONS.items():
        jobs.append((name, readings, None if args.full else select, args.properties))
    with ProcessPoolExecutor(args.j) as pool:
        rows = [Row(**d) for d in pool.map(_job, jobs)]
    print(render(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
