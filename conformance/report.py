"""The conformance report: summary by grade and clause, JSON, HTML, JUnit XML, replay files.

``Report.write(dir)`` writes ``index.json`` (keys ``implementation``, ``suite_version``,
``spec_decisions_version``, ``summary``, ``clauses``, ``cases`` with ``id``, ``clauses``,
``grade``, ``replay``), a readable ``index.html`` (summary by clause and grade, every failure
with its evidence and replay line, a link to a timeline plot where one was drawn), ``junit.xml``
and, for each case with a scenario, ``replay/<case>.toml`` that ``callsim run --check`` replays.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clauses import CLAUSES, SPEC_DECISIONS_VERSION
from .grades import CaseResult, Grade

__all__ = ["Report", "SUITE_VERSION", "safe_name"]

SUITE_VERSION = "0.1.0"


def safe_name(case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("_")


@dataclass
class Report:
    implementation: str
    cases: list[CaseResult] = field(default_factory=list)
    factory_spec: str | None = None
    profile: str = "ci"
    duration_s: float = 0.0

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.grade is Grade.FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

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
        }

    # -- writing ---------------------------------------------------------------------
    def write(self, report_dir: str | Path, *, factory: Any = None, plots: bool = True, max_plots: int = 20) -> Path:
        d = Path(report_dir)
        (d / "replay").mkdir(parents=True, exist_ok=True)
        for c in self.cases:
            if c.scenario_toml:
                (d / "replay" / (safe_name(c.id) + ".toml")).write_text(c.scenario_toml)
        if plots:
            self._plot_failures(d, factory, max_plots)
        doc = self.to_json(d)
        (d / "index.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        (d / "index.html").write_text(self.to_html(doc, d))
        (d / "junit.xml").write_text(self.to_junit(d))
        return d / "index.html"

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
                plot_run(scenario, result, d / "plots" / (safe_name(c.id) + ".png"), title=f"{c.id}: {c.summary()[:90]}")
            except Exception:  # noqa: BLE001 - a plot is a convenience; the report must still be written
                continue

    def to_junit(self, report_dir: Path) -> str:
        s = self.summary()
        suite = ET.Element("testsuite", name=f"callsim-conformance ({self.implementation})", tests=str(s["total"]),
                           failures=str(s["FAIL"]), skipped=str(s["UNSUPPORTED"]), time=f"{self.duration_s:.3f}")
        for c in self.cases:
            tc = ET.SubElement(suite, "testcase", classname="callsim." + c.id.split("/")[0], name=c.id,
                               time=f"{c.duration_s:.4f}")
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="grade", value=c.grade.value)
            ET.SubElement(props, "property", name="clauses", value=" ".join(c.clauses))
            if c.grade is Grade.FAIL:
                f = ET.SubElement(tc, "failure", message=c.summary()[:500])
                f.text = c.summary() + "\nreplay: " + self.replay_line(c, report_dir)
            elif c.grade is Grade.UNSUPPORTED:
                ET.SubElement(tc, "skipped", message=c.unsupported or "unsupported")
            elif c.grade in (Grade.NON_STRICT, Grade.INFO):
                so = ET.SubElement(tc, "system-out")
                so.text = c.summary()
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def to_html(self, doc: dict[str, Any], report_dir: Path) -> str:
        e = html.escape
        s = doc["summary"]
        colors = {"PASS": "#2e7d32", "FAIL": "#c62828", "NON-STRICT": "#ef6c00", "INFO": "#1565c0", "UNSUPPORTED": "#757575"}
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
        summary = " ".join(f"{badge(g)}&nbsp;{s[g]}" for g in colors)
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>callsim conformance: {e(doc['implementation'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}td,th{{border-bottom:1px solid #ddd;padding:4px;vertical-align:top;text-align:left}}
table{{border-collapse:collapse;width:100%}}.g{{color:#fff;padding:1px 6px;border-radius:3px;font-size:85%}}pre{{background:#f5f5f5;padding:4px;white-space:pre-wrap}}</style></head><body>
<h1>callsim conformance report</h1>
<p>implementation: <code>{e(doc['implementation'])}</code> · suite {e(doc['suite_version'])} · spec decisions v{doc['spec_decisions_version']} · profile {e(doc['profile'])} · {doc['duration_s']} s</p>
<p>{summary} · {s['total']} cases</p>
<h2>Cases not passing</h2>{''.join(details) or '<p>none</p>'}
<h2>By clause</h2><table><tr><th>clause</th><th>source</th><th>requirement</th><th>cases</th><th>grades</th><th>failed by</th></tr>{''.join(rows)}</table>
<h2>All cases</h2><table><tr><th>grade</th><th>case</th><th>clauses</th><th>summary</th></tr>{case_rows}</table>
</body></html>
"""
