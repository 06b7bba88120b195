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

import html
import json
import os
import re
import shutil
import tempfile
import time
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
        }

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
                    (tmp / "replay" / (safe_name(c.id) + ".toml")).write_text(c.scenario_toml, encoding="utf-8")
            if plots:
                self._plot_failures(tmp, factory, max_plots)
            if self.started is not None:
                self.duration_s = time.perf_counter() - self.started
            doc = self.to_json(given)
            _write(tmp / "index.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
            _write(tmp / "index.html", self.to_html(doc, tmp))
            _write(tmp / "junit.xml", self.to_junit(given))
            _swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return given / "index.html"

    def _plot_failures(self, d: Path, factory: Any, max_plots: int) -> None:
        """A timeline plot for each FAIL case that has a scenario (needs the plot extra)."""
        failing = [c for c in self.cases if c.grade is Grade.FAIL and c.scenario_toml][:max_plots]
        if not failing:
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return
        from callsim.plot import plot_run
        from simulator.runner import run_scenario
        from simulator.scenario import loads_scenario

        if factory is None:  # the caller decides which recorder a plot re-runs; none, no plots
            return
        (d / "plots").mkdir(exist_ok=True)
        for c in failing:
            try:
                scenario = loads_scenario(c.scenario_toml or "")
                result = run_scenario(scenario, factory)
                plot_run(scenario, result, d / "plots" / (safe_name(c.id) + ".png"),
                         title=printable(f"{c.id}: {c.summary()[:90]}"))
            except KeyboardInterrupt:  # a plot is a convenience: stop drawing, write the report
                break
            except BaseException:  # noqa: BLE001 - the implementation runs again here; whatever it raises, the report is written
                continue

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

    def to_html(self, doc: dict[str, Any], report_dir: Path) -> str:
        def e(text: Any) -> str:
            return html.escape(printable(text))

        s = doc["summary"]
        colors = {"PASS": "#2e7d32", "FAIL": "#c62828", "NON-STRICT": "#ef6c00", "INFO": "#1565c0", "UNSUPPORTED": "#757575",
                  "XFAIL": "#6a1b9a", "XPASS": "#ad1457", "ERROR": "#212121"}
        badge = lambda g: f'<span class="g" style="background:{colors[g]}">{e(g)}</span>'  # noqa: E731
        rows = []
        for cid, cl in doc["clauses"].items():
            grades = " ".join(f"{badge(g)}&nbsp;{n}" for g, n in sorted(cl["grades"].items()))
            fails = ", ".join(f'<a href="#{e(safe_name(x))}">{e(x)}</a>' for x in cl["failed_by"])
            rows.append(f"<tr><td><code>{e(cid)}</code></td><td>{e(cl['source'])}</td><td>{e(cl['text'])}</td>"
                        f"<td>{len(cl['cases'])}</td><td>{grades}</td><td>{fails}</td></tr>")
        details = []
        for c in doc["cases"]:
            if c["grade"] == "PASS":
                continue
            ev = "".join(f"<li>{badge(f['grade'])} [{e(', '.join(f['clauses']))}] {e(f['message'])}"
                         f"<pre>{e(json.dumps(f['evidence'], indent=1, default=str))}</pre></li>" for f in c["findings"])
            plot = report_dir / "plots" / (safe_name(c["id"]) + ".png")
            plot_html = f'<p><a href="plots/{e(plot.name)}"><img src="plots/{e(plot.name)}" width="720"></a></p>' if plot.exists() else ""
            details.append(f'<section id="{e(safe_name(c["id"]))}"><h3>{badge(c["grade"])} {e(c["id"])}</h3>'
                           f"<p>clauses: {e(', '.join(c['clauses']))}</p><ul>{ev}</ul>"
                           f"<p>replay: <code>{e(c['replay'])}</code></p>{plot_html}</section>")
        case_rows = "".join(f"<tr><td>{badge(c['grade'])}</td><td><a href=\"#{e(safe_name(c['id']))}\">{e(c['id'])}</a></td>"
                            f"<td>{e(', '.join(c['clauses']))}</td><td>{e(c['summary'][:200])}</td></tr>" for c in doc["cases"])
        summary = " ".join(f"{badge(g)}&nbsp;{s[g]}" for g in colors if s.get(g) or g in _ALWAYS_SHOWN)
        banner = ""
        if doc.get("partial"):
            sel = doc["selection"]
            how = f" (-k <code>{e(sel['keyword'])}</code>)" if sel["keyword"] else ""
            banner = (f'<p class="partial"><strong>partial run</strong>{how}: {sel["selected"]} of the suite\'s '
                      f'{sel["known"]} cases; not a verdict on the whole suite</p>')
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>callsim conformance: {e(doc['implementation'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}td,th{{border-bottom:1px solid #ddd;padding:4px;vertical-align:top;text-align:left}}
table{{border-collapse:collapse;width:100%}}.partial{{background:#fff3e0;border:1px solid #ef6c00;padding:6px}}.g{{color:#fff;padding:1px 6px;border-radius:3px;font-size:85%}}pre{{background:#f5f5f5;padding:4px;white-space:pre-wrap}}</style></head><body>
<h1>callsim conformance report</h1>
{banner}
<p>implementation: <code>{e(doc['implementation'])}</code> · suite {e(doc['suite_version'])} · spec decisions v{doc['spec_decisions_version']} · profile {e(doc['profile'])} · {doc['duration_s']} s</p>
<p>{summary} · {s['total']} cases</p>
<h2>Cases not passing</h2>{''.join(details) or '<p>none</p>'}
<h2>By clause</h2><table><tr><th>clause</th><th>source</th><th>requirement</th><th>cases</th><th>grades</th><th>failed by</th></tr>{''.join(rows)}</table>
<h2>All cases</h2><table><tr><th>grade</th><th>case</th><th>clauses</th><th>summary</th></tr>{case_rows}</table>
</body></html>
"""


#: The grades the summary always shows (the others only when a case has them).
_ALWAYS_SHOWN = ("PASS", "FAIL", "NON-STRICT", "INFO", "UNSUPPORTED")


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
