"""The conformance report: summary by grade and clause, JSON, HTML, JUnit XML, replay files.

``Report.write(dir)`` writes ``index.json`` (keys ``implementation``, ``suite_version``,
``spec_decisions_version``, ``summary``, ``clauses``, ``cases`` with ``id``, ``clauses``,
``grade``, ``replay``), a readable ``index.html`` (summary by clause and grade, every failure
with its evidence and replay line, a link to a timeline plot where one was drawn), ``junit.xml``
and, for each case with a scenario, ``replay/<case>.toml`` that ``callsim run --check`` replays.

The folder is written fresh: into a temporary sibling folder, then moved into place, replacing
the previous report (only a folder that is empty or holds an ``index.json`` is ever replaced).
Every text an implementation may have produced is passed through ``callsim.textsafe.printable``
on its way into HTML and JUnit XML, so both are well-formed whatever an exception message holds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callsim.textsafe import printable

from .clauses import CLAUSES, SPEC_DECISIONS_VERSION
from .grades import CaseResult, Grade

__all__ = ["Report", "ReportPathError", "SUITE_VERSION", "check_report_dir", "safe_name"]

SUITE_VERSION = "0.1.0"


def safe_name(case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("_")


class ReportPathError(ValueError):
    """The report folder cannot be written (the message says why)."""


def check_report_dir(report_dir: str | Path) -> Path:
    """Refuse a report folder that cannot be (re)written: an existing file, a place under a file
    or in a folder we may not write, a non-empty folder that is not a callsim report (it would
    be replaced), or a folder holding the current one. Returns the folder to write."""
    given = Path(report_dir)
    d = given.resolve() if given.is_symlink() else given
    where = f"--report {str(given)!r}"
    if d.exists():
        if not d.is_dir():
            raise ReportPathError(f"{where} is an existing file, not a folder")
        if any(d.iterdir()) and not (d / "index.json").is_file():
            raise ReportPathError(f"{where} is a folder that is not a callsim report (it has files and no "
                                  "index.json); the report replaces its folder, so pick a new or empty one")
        cwd = Path.cwd().resolve()
        if cwd == d.resolve() or d.resolve() in cwd.parents:
            raise ReportPathError(f"{where} holds the current folder; the report replaces its folder")
    anc = d.absolute().parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ReportPathError(f"{where}: {str(anc)!r} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ReportPathError(f"{where}: {str(anc)!r} is not writable")
    return d


@dataclass
class Report:
    implementation: str
    cases: list[CaseResult] = field(default_factory=list)
    factory_spec: str | None = None
    profile: str = "ci"
    duration_s: float = 0.0
    #: an XPASS (a listed expected failure that passed) fails the run
    strict_xfail: bool = True
    #: the selection that ran (``-k``), if any; a run is *partial* when cases of the suite are missing
    keyword: str | None = None
    #: how many cases the suite knows (None: count them from ``all_case_ids``)
    known: int | None = None
    partial: bool | None = None
    #: the recorder ran as this command over the wire protocol (``--recorder-command``)
    recorder_command: str | None = None
    #: the Python factory ran in a ``callsim host`` process (``--isolate``)
    isolate: bool = False
    #: ``time.perf_counter()`` when the run began: ``write`` then sets ``duration_s`` to the
    #: time until the report is written (plots included), as the run's own clock would say
    started: float | None = None

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.grade is Grade.FAIL]

    @property
    def errors(self) -> list[CaseResult]:
        return [c for c in self.cases if c.grade is Grade.ERROR]

    @property
    def xpassed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.grade is Grade.XPASS]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors and not (self.strict_xfail and self.xpassed)

    def verdict(self) -> int:
        """The exit status this report stands for: 0 when at least one case was graded (not only
        UNSUPPORTED) and none failed; 1 when a case FAILed (or XPASSed, with ``strict_xfail``);
        2 when the harness could not grade (no case graded, or a case is ERROR)."""
        if self.errors or all(c.grade is Grade.UNSUPPORTED for c in self.cases):
            return 2
        return 0 if self.ok else 1

    def is_partial(self) -> bool:
        if self.partial is not None:
            return self.partial
        from .suite import all_case_ids

        return not set(all_case_ids()) <= {c.id for c in self.cases}

    def known_cases(self) -> int:
        if self.known is not None:
            return self.known
        from .suite import all_case_ids

        return len(all_case_ids())

    def partial_note(self) -> str:
        """One line saying the run is partial ("" when it is not)."""
        if not self.is_partial():
            return ""
        how = f" (-k {self.keyword!r})" if self.keyword else ""
        return f"partial run{how}: {len(self.cases)} of the suite's {self.known_cases()} cases"

    def summary(self) -> dict[str, int]:
        counts = Counter(c.grade.value for c in self.cases)
        return {g.value: counts.get(g.value, 0) for g in Grade} | {"total": len(self.cases)}

    def by_clause(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for cid, cl in CLAUSES.items():
            cases = [c for c in self.cases if cid in c.clauses or any(cid in f.clauses for f in c.findings)]
            grades = Counter(c.grade.value for c in cases if cid in c.clauses)
            out[cid] = {"text": cl.text, "source": cl.source, "cases": [c.id for c in cases if cid in c.clauses],
                        "grades": dict(grades),
                        "failed_by": sorted({c.id for c in cases for f in c.findings if cid in f.clauses and f.grade is Grade.FAIL})}
        return out

    def replay_line(self, case: CaseResult, report_dir: str | Path) -> str:
        factory = f" --recorder-factory {self.factory_spec}" if self.factory_spec else ""
        if self.recorder_command:
            factory += f" --recorder-command {shlex.quote(self.recorder_command)}"
        if self.isolate:
            factory += " --isolate"
        if case.scenario_toml:
            return f"callsim run {Path(report_dir) / 'replay' / (safe_name(case.id) + '.toml')} --check{factory}"
        return f"callsim replay {report_dir} {case.id}{factory}"

    def to_json(self, report_dir: str | Path = "report") -> dict[str, Any]:
        cases = []
        for c in self.cases:
            d = c.to_json()
            d["replay"] = self.replay_line(c, report_dir)
            d.pop("scenario", None)
            cases.append(d)
        return {
            "implementation": self.implementation,
            "factory": self.factory_spec,
            "recorder_command": self.recorder_command,
            "isolate": self.isolate,
            "suite_version": SUITE_VERSION,
            "spec_decisions_version": SPEC_DECISIONS_VERSION,
            "profile": self.profile,
            "duration_s": round(self.duration_s, 3),
            "summary": self.summary(),
            "clauses": self.by_clause(),
            "cases": cases,
            "partial": self.is_partial(),
            "selection": {"keyword": self.keyword, "selected": len(self.cases), "known": self.known_cases()},
            "strict_xfail": self.strict_xfail,
            "verdict": self.verdict(),
            "groups": self.groups_json(report_dir),
        }

    def groups(self) -> list[Any]:
        """The root causes of the cases not passing (``conformance.groups``), largest first."""
        from .groups import group_cases

        return group_cases(self.cases)

    def groups_json(self, report_dir: str | Path = "report") -> list[dict[str, Any]]:
        out = []
        for g in self.groups():
            d = g.to_json()
            d["replay"] = self.replay_line(g.smallest, report_dir) if g.grade != "XPASS" else None
            d["quote"] = g.quote if g.grade == "FAIL" else ""
            out.append(d)
        return out

    # -- writing ---------------------------------------------------------------------
    def write(self, report_dir: str | Path, *, factory: Any = None, plots: bool = True, max_plots: int = 20) -> Path:
        """Write the report folder fresh (see the module's doc); raises ``ReportPathError`` when
        ``report_dir`` cannot be written or is not a report folder to replace."""
        given = Path(report_dir)
        final = check_report_dir(given)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.new-", dir=final.parent))
        try:
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)
            (tmp / "replay").mkdir()
            for c in self.cases:
                if c.scenario_toml:
                    (tmp / "replay" / (safe_name(c.id) + ".toml")).write_text(self.replay_file(c, given),
                                                                              encoding="utf-8")
            note = self._plot_failures(tmp, factory, max_plots) if plots else ""
            if self.started is not None:
                self.duration_s = time.perf_counter() - self.started
            doc = self.to_json(given)
            _write(tmp / "index.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
            _write(tmp / "index.html", self.to_html(doc, tmp, note))
            _write(tmp / "junit.xml", self.to_junit(given))
            _swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return given / "index.html"

    def replay_file(self, case: CaseResult, report_dir: str | Path) -> str:
        """The case's scenario as a replay file that explains itself: a header comment (case ID,
        grade and first finding, suite and spec-decisions versions, implementation, the exact
        command) and, when the scenario has none, ``name`` set to the case ID, so a plot of it
        is titled by the case. The scenario itself is unchanged (``callsim run`` reads the
        comment as nothing and ``name`` only as the title)."""
        text = case.scenario_toml or ""
        bad = next((f for f in case.findings if f.grade is case.grade), None)
        finding = f"{bad.grade.value} [{', '.join(bad.clauses)}] {bad.message}" if bad else case.grade.value
        header = [
            f"callsim replay file of case {case.id}",
            f"grade: {case.grade.value}; finding: {finding[:300]}",
            f"suite {SUITE_VERSION}, spec decisions v{SPEC_DECISIONS_VERSION}, profile {self.profile}",
            f"implementation: {self.implementation}",
            f"replay: {self.replay_line(case, report_dir)}",
        ]
        lines = ["# " + _comment(h) for h in header]
        try:
            has_name = "name" in tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            has_name = True  # not ours to touch: written as it came
        if not has_name:
            lines.append("name = " + json.dumps(printable(case.id), ensure_ascii=False))  # a TOML basic string
        return "\n".join(lines) + "\n" + text

    def _plot_failures(self, d: Path, factory: Any, max_plots: int) -> str:
        """A timeline plot for FAIL cases with a scenario (needs the plot extra): the smallest
        case of each root cause first, then the others, at most ``max_plots``. Returns a note
        for the page when cases were left without a plot ("" when none was)."""
        failing = [c for c in self.cases if c.grade is Grade.FAIL and c.scenario_toml]
        if not failing:
            return ""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return (f"no timeline plots: matplotlib is not installed (pip install 'callsim[plot]'); "
                    f"{len(failing)} failing cases could have one")
        from callsim.plot import plot_run
        from simulator.runner import run_scenario
        from simulator.scenario import loads_scenario

        if factory is None:  # the caller decides which recorder a plot re-runs; none, no plots
            return ""
        groups = [g for g in self.groups() if g.grade == "FAIL"]
        label = {c.id: g.label for g in groups for c in g.cases}
        firsts = [g.smallest for g in groups if g.smallest.scenario_toml]
        order = list({c.id: c for c in [*firsts, *failing]}.values())
        chosen = order[:max_plots]
        (d / "plots").mkdir(exist_ok=True)
        for c in chosen:
            try:
                scenario = loads_scenario(c.scenario_toml or "")
                result = run_scenario(scenario, factory)
                plot_run(scenario, result, d / "plots" / (safe_name(c.id) + ".png"),
                         title=printable(f"{c.id}: {label.get(c.id) or c.summary()[:200]}"))
            except KeyboardInterrupt:  # a plot is a convenience: stop drawing, write the report
                break
            except BaseException:  # noqa: BLE001 - the implementation runs again here; whatever it raises, the report is written
                continue
        left = len(order) - len(chosen)
        if left <= 0:
            return ""
        return (f"timeline plots were drawn for {len(chosen)} of the {len(order)} failing cases (the smallest case "
                f"of each root cause first); draw another with: callsim plot <replay file> --recorder-factory ...")

    def to_junit(self, report_dir: Path) -> str:
        s = self.summary()
        p = printable
        failures = s["FAIL"] + (s["XPASS"] if self.strict_xfail else 0)
        suite = ET.Element("testsuite", name=p(f"callsim-conformance ({self.implementation})"), tests=str(s["total"]),
                           failures=str(failures), errors=str(s["ERROR"]), skipped=str(s["UNSUPPORTED"] + s["XFAIL"]),
                           time=f"{self.duration_s:.3f}")
        sprops = ET.SubElement(suite, "properties")
        for name, value in (("partial", str(self.is_partial()).lower()), ("selection", self.keyword or ""),
                            ("strict_xfail", str(self.strict_xfail).lower()), ("verdict", str(self.verdict()))):
            ET.SubElement(sprops, "property", name=name, value=p(value))
        for c in self.cases:
            tc = ET.SubElement(suite, "testcase", classname=p("callsim." + c.id.split("/")[0]), name=p(c.id),
                               time=f"{c.duration_s:.4f}")
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="grade", value=c.grade.value)
            ET.SubElement(props, "property", name="clauses", value=p(" ".join(c.clauses)))
            summary = p(c.summary())
            if c.grade is Grade.FAIL or (c.grade is Grade.XPASS and self.strict_xfail):
                f = ET.SubElement(tc, "failure", message=summary[:500])
                f.text = summary + "\nreplay: " + p(self.replay_line(c, report_dir))
            elif c.grade is Grade.ERROR:
                f = ET.SubElement(tc, "error", message=summary[:500])
                f.text = summary
            elif c.grade is Grade.UNSUPPORTED:
                ET.SubElement(tc, "skipped", message=p(c.unsupported or "unsupported"))
            elif c.grade is Grade.XFAIL:
                ET.SubElement(tc, "skipped", type="xfail", message=summary[:500])
            elif c.grade in (Grade.NON_STRICT, Grade.INFO, Grade.XPASS):
                so = ET.SubElement(tc, "system-out")
                so.text = summary
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def to_html(self, doc: dict[str, Any], report_dir: Path, plot_note: str = "") -> str:
        from .htmlreport import render_html

        return render_html(doc, report_dir, plot_note)


def _comment(text: str) -> str:
    """``text`` fit for one TOML comment line: printable, no line breaks."""
    return " ".join(printable(text).split())


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def _swap_in(tmp: Path, final: Path) -> None:
    """Move the freshly written ``tmp`` folder to ``final``, replacing an old report there."""
    if not final.exists():
        os.rename(tmp, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.rmdir(old)
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)
