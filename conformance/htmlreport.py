"""The report's ``index.html``: a page a person reads in a minute, for 5 cases or 500.

The first screen is the verdict: the grades, a partial run marked, and the root causes
(``conformance.groups``), each with the sentence of the spec it breaks, a link to its smallest
case and that case's replay line. A table of contents and a filter (grade, clause, case ID)
follow; then every case that did not pass as a collapsed ``<details>`` (a link to a case opens
it): its findings with what the spec allows and what was observed side by side, the differing
fields highlighted, the rest of the evidence pretty-printed, its replay line (none for an
UNSUPPORTED case, which shows its reason), and its timeline plot full-width (a click opens it
at full size), with a note saying how many failing cases were plotted. The clause table and the
table of all cases come last, collapsed.

The page is one self-contained file: inline CSS and a small inline script (the filter and
opening a linked case), no external resources. Every link points at an element of the page or
a file of the report (a PASS case has no section, so nothing links to one). Every text an
implementation may have produced goes through ``callsim.textsafe.printable`` and
``html.escape``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from callsim.textsafe import printable

from .report import safe_name

__all__ = ["render_html", "case_anchor", "COLORS"]

COLORS = {"PASS": "#2e7d32", "FAIL": "#c62828", "NON-STRICT": "#ef6c00", "INFO": "#1565c0", "UNSUPPORTED": "#757575",
          "XFAIL": "#6a1b9a", "XPASS": "#ad1457", "ERROR": "#212121"}
#: Root causes listed open on the first screen; the others follow collapsed.
_FIRST_GROUPS = 6
#: The grades the summary always shows (the others only when a case has them).
ALWAYS_SHOWN = ("PASS", "FAIL", "NON-STRICT", "INFO", "UNSUPPORTED")


def e(text: Any) -> str:
    return html.escape(printable(text))


def case_anchor(case_id: str) -> str:
    return "case-" + safe_name(case_id)


def badge(grade: str, *, filter_button: bool = False) -> str:
    color = COLORS.get(grade, "#555")
    if filter_button:
        return (f'<button type="button" class="g" data-filter="{e(grade)}" style="background:{color}" '
                f'title="show only {e(grade)} cases">{e(grade)}</button>')
    return f'<span class="g" style="background:{color}">{e(grade)}</span>'


def _compact(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def _side_by_side(expected: Any, observed: Any, expected_name: str) -> str:
    """What the spec allows next to what was observed; rows whose values differ highlighted."""
    head = f"<tr><th>field</th><th>{e(expected_name)}</th><th>observed</th></tr>"
    rows = []
    if isinstance(expected, dict) and isinstance(observed, dict):
        for k in sorted(set(expected) | set(observed), key=str):
            a, b = expected.get(k), observed.get(k)
            cls = ' class="diff"' if a != b else ""
            rows.append(f"<tr{cls}><td>{e(k)}</td><td><code>{e(_compact(a))}</code></td>"
                        f"<td><code>{e(_compact(b))}</code></td></tr>")
    elif isinstance(expected, list) and expected and isinstance(observed, dict) and all(isinstance(a, dict) for a in expected):
        alts = list({json.dumps(a, sort_keys=True, default=str): a for a in expected}.values())
        shown, more = alts[:6], len(alts) - 6
        head = ("<tr><th>field</th>" + "".join(f"<th>{e(expected_name)}{f' ({i + 1})' if len(shown) > 1 else ''}</th>"
                                               for i in range(len(shown))) + "<th>observed</th></tr>")
        for k in sorted(set(observed).union(*shown), key=str):
            values = [a.get(k) for a in shown]
            cls = ' class="diff"' if observed.get(k) not in values else ""
            cells = "".join(f"<td><code>{e(_compact(v))}</code></td>" for v in values)
            rows.append(f"<tr{cls}><td>{e(k)}</td>{cells}<td><code>{e(_compact(observed.get(k)))}</code></td></tr>")
        if more > 0:
            rows.append(f'<tr><td colspan="{len(shown) + 2}">... and {more} more allowed outcomes</td></tr>')
    elif isinstance(expected, list) and not isinstance(observed, list):
        cls = ' class="diff"' if observed not in expected else ""
        listed = "<br>".join(f"<code>{e(_compact(a))}</code>" for a in expected) or "(nothing)"
        rows.append(f"<tr{cls}><td>value</td><td>one of:<br>{listed}</td><td><code>{e(_compact(observed))}</code></td></tr>")
    else:
        cls = ' class="diff"' if expected != observed else ""
        rows.append(f"<tr{cls}><td>value</td><td><code>{e(_compact(expected))}</code></td>"
                    f"<td><code>{e(_compact(observed))}</code></td></tr>")
    return f'<table class="sbs">{head}{"".join(rows)}</table>'


def _evidence(ev: Any) -> str:
    """A finding's evidence: observed vs allowed side by side, long texts (hypothesis's
    falsifying example) as text with their line breaks, the rest as indented JSON; nothing for
    empty evidence."""
    if not isinstance(ev, dict) or not ev:
        return ""
    out = []
    rest = dict(ev)
    exp_key = next((k for k in ("expected", "allowed") if k in ev), None)
    if "observed" in ev and exp_key is not None:
        out.append(_side_by_side(ev[exp_key], ev["observed"], "the spec allows" if exp_key == "allowed" else "expected"))
        rest.pop(exp_key)
        rest.pop("observed")
    for k in list(rest):
        v = rest[k]
        texts = v if isinstance(v, list) and v and all(isinstance(x, str) for x in v) else [v] if isinstance(v, str) else None
        if texts is not None and any("\n" in t or len(t) > 120 for t in texts):
            out.append(f'<div class="evk">{e(k)}</div><pre>{e(chr(10).join(texts))}</pre>')
            del rest[k]
    if rest:
        out.append(f"<pre>{e(json.dumps(rest, indent=2, sort_keys=True, default=str))}</pre>")
    return "".join(out)


def _case_section(c: dict[str, Any], plot: Path | None) -> str:
    grade = c["grade"]
    clauses = " ".join(c["clauses"])
    head = (f'<summary>{badge(grade)} <b>{e(c["id"])}</b> <span class="muted">'
            f'{e(c["summary"][:180])}</span></summary>')
    body = [f'<p class="muted">clauses: {e(", ".join(c["clauses"]))} · {c.get("duration_s", 0)} s</p>']
    if grade == "UNSUPPORTED":
        body.append(f'<p>not run: <b>{e(c.get("unsupported") or "a capability the implementation declared missing")}</b></p>')
    else:
        items = []
        for f in c["findings"]:
            quote = f'<blockquote>{e(f["quote"])}</blockquote>' if f.get("quote") else ""
            items.append(f'<li>{badge(f["grade"])} <code>{e(", ".join(f["clauses"]))}</code> {e(f["message"])}'
                         f'{quote}{_evidence(f.get("evidence"))}</li>')
        if items:
            body.append(f'<ul class="findings">{"".join(items)}</ul>')
        if grade != "PASS":
            body.append(f'<p>replay: <code class="replay">{e(c["replay"])}</code></p>')
    if plot is not None:
        body.append(f'<figure><a href="plots/{e(plot.name)}" target="_blank" title="open the plot at full size">'
                    f'<img src="plots/{e(plot.name)}" alt="timeline of {e(c["id"])}" loading="lazy"></a>'
                    f"<figcaption>timeline of the replayed scenario (click to enlarge)</figcaption></figure>")
    return (f'<details class="case" id="{e(case_anchor(c["id"]))}" data-grade="{e(grade)}" '
            f'data-clauses="{e(clauses)}" data-id="{e(c["id"])}">{head}<div class="body">{"".join(body)}</div></details>')


def _groups_html(doc: dict[str, Any], shown: set[str]) -> str:
    groups = doc.get("groups") or []
    if not groups:
        verdict = "no case failed" if doc["summary"].get("total") else "no case ran"
        return f'<section id="root-causes"><h2>Root causes</h2><p class="ok">{verdict}.</p></section>'
    n = sum(g["count"] for g in groups)
    items = []
    for g in groups:
        smallest = g["smallest"]
        link = (f'<a href="#{e(case_anchor(smallest))}">{e(smallest)}</a>' if smallest in shown else e(smallest))
        quote = f'<blockquote>{e(g["quote"])}</blockquote>' if g.get("quote") else ""
        others = "".join(f'<li><a href="#{e(case_anchor(cid))}">{e(cid)}</a></li>' if cid in shown else f"<li>{e(cid)}</li>"
                         for cid in g["cases"])
        replay = f'<p>replay: <code class="replay">{e(g["replay"])}</code></p>' if g.get("replay") else ""
        if g["count"] == 1:
            items.append(f'<li class="group">{badge(g["grade"])} <b>{e(g["label"])}</b>: 1 case, {link}{quote}'
                         f'{replay}</li>')
            continue
        items.append(f'<li class="group">{badge(g["grade"])} <b>{e(g["label"])}</b>: {g["count"]} cases{quote}'
                     f'<p>smallest case: {link}</p>{replay}'
                     f'<details><summary>the {g["count"]} cases</summary><ul class="cols">{others}</ul></details></li>')
    title = f"{len(groups)} root cause{'s' if len(groups) != 1 else ''} ({n} case{'s' if n != 1 else ''} not passing)"
    first, rest = items[:_FIRST_GROUPS], items[_FIRST_GROUPS:]
    more = (f'<details><summary>{len(rest)} more root causes</summary><ol class="groups" start="{_FIRST_GROUPS + 1}">'
            f'{"".join(rest)}</ol></details>') if rest else ""
    return f'<section id="root-causes"><h2>{e(title)}</h2><ol class="groups">{"".join(first)}</ol>{more}</section>'


_CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em 2em;max-width:1400px;line-height:1.4}
h1{margin:.2em 0}h2{margin-top:1.4em;border-bottom:1px solid #ccc}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
table{border-collapse:collapse;width:100%}
.g{color:#fff;padding:1px 7px;border-radius:3px;font-size:85%;border:0;font-family:inherit}
button.g{cursor:pointer}
.muted{color:#555}.ok{color:#2e7d32;font-weight:bold}
.partial{background:#fff3e0;border:1px solid #ef6c00;padding:6px 10px}
.verdict{font-size:110%}
pre{background:#f5f5f5;padding:6px;white-space:pre-wrap;overflow-wrap:anywhere;max-height:30em;overflow:auto}
blockquote{margin:.4em 0 .4em 1em;padding-left:.8em;border-left:3px solid #c62828;color:#333;font-style:italic}
code.replay{background:#f5f5f5;padding:2px 4px;overflow-wrap:anywhere}
#root-causes{background:#fafafa;border:1px solid #ddd;padding:.2em 1em .6em;border-radius:4px}
#root-causes h2{border:0;margin-top:.4em}
ol.groups>li{margin-bottom:.8em}
ul.cols{columns:3 18em}
nav#toc a{margin-right:1.2em}
.filters{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #eee;z-index:1}
.filters label{margin-right:1em}
details.case{scroll-margin-top:3.5em;border:1px solid #ddd;border-radius:4px;margin:.3em 0;padding:.2em .6em}
details.case[open]{background:#fcfcfc}
details.case>summary{cursor:pointer}
details.case .body{padding:.4em 0}
table.sbs{width:auto;margin:.4em 0}table.sbs td,table.sbs th{border:1px solid #ddd}
tr.diff td{background:#ffebee;font-weight:bold}
.evk{font-weight:bold;margin-top:.4em}
figure{margin:.6em 0}figure img{width:100%;height:auto;border:1px solid #ddd}
figcaption{color:#555;font-size:90%}
.note{background:#e3f2fd;border:1px solid #1565c0;padding:6px 10px}
"""

_JS = """
(function () {
  var grade = document.getElementById('f-grade'), clause = document.getElementById('f-clause'),
      text = document.getElementById('f-text'), count = document.getElementById('f-count');
  function apply() {
    var g = grade.value, c = clause.value, q = text.value.toLowerCase(), shown = 0;
    document.querySelectorAll('[data-grade]').forEach(function (el) {
      var ok = (!g || el.dataset.grade === g) &&
               (!c || (' ' + el.dataset.clauses + ' ').indexOf(' ' + c + ' ') >= 0) &&
               (!q || el.dataset.id.toLowerCase().indexOf(q) >= 0);
      el.hidden = !ok;
      if (ok && el.tagName === 'DETAILS') { shown += 1; }
    });
    count.textContent = shown + ' of ' + document.querySelectorAll('details.case').length + ' cases shown';
  }
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === 'DETAILS') { el.hidden = false; el.open = true; el.scrollIntoView(); }
  }
  [grade, clause, text].forEach(function (x) { x.addEventListener('input', apply); });
  document.querySelectorAll('button[data-filter]').forEach(function (b) {
    b.addEventListener('click', function () {
      grade.value = b.dataset.filter; apply();
      document.getElementById('cases').scrollIntoView();
    });
  });
  window.addEventListener('hashchange', openTarget);
  apply();
  openTarget();
})();
"""


def render_html(doc: dict[str, Any], report_dir: Path, plot_note: str = "") -> str:
    """The page for ``doc`` (the report's JSON, with ``groups``); ``report_dir`` holds the plots."""
    s = doc["summary"]
    not_passing = [c for c in doc["cases"] if c["grade"] != "PASS"]
    shown = {c["id"] for c in not_passing}
    summary = " ".join(f'{badge(g, filter_button=bool(s.get(g)))}&nbsp;{s.get(g, 0)}'
                       for g in COLORS if s.get(g) or g in ALWAYS_SHOWN)
    banner = ""
    if doc.get("partial"):
        sel = doc["selection"]
        how = f" (-k <code>{e(sel['keyword'])}</code>)" if sel["keyword"] else ""
        banner = (f'<p class="partial"><strong>partial run</strong>{how}: {sel["selected"]} of the suite\'s '
                  f'{sel["known"]} cases; not a verdict on the whole suite</p>')
    verdict = {0: "passed: no case failed", 1: "failed", 2: "could not grade"}.get(int(doc.get("verdict", -1)), "")
    sections = []
    for c in not_passing:
        plot = report_dir / "plots" / (safe_name(c["id"]) + ".png")
        sections.append(_case_section(c, plot if plot.exists() else None))
    grades_present = [g for g in COLORS if s.get(g)]
    grade_opts = "".join(f'<option value="{e(g)}">{e(g)} ({s[g]})</option>' for g in grades_present)
    clause_ids = sorted({cl for c in doc["cases"] for cl in c["clauses"]})
    clause_opts = "".join(f'<option value="{e(cl)}">{e(cl)}</option>' for cl in clause_ids)
    rows = []
    for cid, cl in doc["clauses"].items():
        grades = " ".join(f"{badge(g)}&nbsp;{n}" for g, n in sorted(cl["grades"].items()))
        fails = ", ".join(f'<a href="#{e(case_anchor(x))}">{e(x)}</a>' if x in shown else e(x) for x in cl["failed_by"])
        rows.append(f"<tr><td><code>{e(cid)}</code></td><td>{e(cl['source'])}</td><td>{e(cl['text'])}</td>"
                    f"<td>{len(cl['cases'])}</td><td>{grades}</td><td>{fails}</td></tr>")
    case_rows = "".join(
        f'<tr data-grade="{e(c["grade"])}" data-clauses="{e(" ".join(c["clauses"]))}" data-id="{e(c["id"])}">'
        f'<td>{badge(c["grade"])}</td><td>'
        + (f'<a href="#{e(case_anchor(c["id"]))}">{e(c["id"])}</a>' if c["id"] in shown else e(c["id"]))
        + f'</td><td>{e(", ".join(c["clauses"]))}</td><td>{e(c["summary"][:200])}</td></tr>' for c in doc["cases"])
    note = f'<p class="note">{e(plot_note)}</p>' if plot_note else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>callsim conformance: {e(doc['implementation'])}</title><style>{_CSS}</style></head><body>
<header id="summary"><h1>callsim conformance report</h1>
{banner}
<p class="muted">implementation <code>{e(doc['implementation'])}</code> · suite {e(doc['suite_version'])} · spec decisions v{e(doc['spec_decisions_version'])} · profile {e(doc['profile'])} · {doc['duration_s']} s</p>
<p class="verdict"><b>{e(verdict)}</b> · {summary} · {s['total']} cases</p></header>
{_groups_html(doc, shown)}
<nav id="toc"><b>Contents:</b> <a href="#root-causes">Root causes</a> <a href="#cases">Cases not passing ({len(not_passing)})</a> <a href="#clauses">By clause</a> <a href="#all-cases">All cases ({s['total']})</a></nav>
<section id="cases"><h2>Cases not passing</h2>
<div class="filters"><label>grade <select id="f-grade"><option value="">all</option>{grade_opts}</select></label>
<label>clause <select id="f-clause"><option value="">all</option>{clause_opts}</select></label>
<label>case <input id="f-text" type="search" placeholder="part of a case ID"></label> <span id="f-count" class="muted"></span></div>
{note}
{''.join(sections) or '<p class="ok">every case passed.</p>'}
</section>
<section id="clauses"><h2>By clause</h2><details><summary>{len(rows)} clauses: the requirement, its cases and their grades</summary>
<table><tr><th>clause</th><th>source</th><th>requirement</th><th>cases</th><th>grades</th><th>failed by</th></tr>{''.join(rows)}</table></details></section>
<section id="all-cases"><h2>All cases</h2><details><summary>the {s['total']} cases with their grades</summary>
<table><tr><th>grade</th><th>case</th><th>clauses</th><th>summary</th></tr>{case_rows}</table></details></section>
<script>{_JS}</script>
</body></html>
"""
