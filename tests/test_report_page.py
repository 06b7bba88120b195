"""What a person reads: the terminal of ``callsim conformance``, the HTML page, the replay files.

* A recorder with one wrong cause mapping (``tests/faulty/causes.py``,
  ``SilenceReportedAsTimeout``) prints under 40 lines: one progress display with the total up
  front, one summary, the single root cause once with its smallest case; no warnings, no
  pytest FAILURES block, no second summary. ``-q`` prints the summary and the groups only.
* The HTML page, parsed: summary, root causes and contents first; every case not passing
  collapsible and filterable; observed vs allowed side by side with the difference marked;
  evidence pretty-printed (no ``{}`` boxes, no literal ``\\n``); UNSUPPORTED shows its reason and
  no replay line; XFAIL and XPASS shown; a partial run marked; no link without its target.
* The same page in a real browser (Debian's chromium, headless, driven by selenium): no console
  errors, the single root cause named on the first screen, the filter and a link to a case
  work. The screenshot is kept in the test's temporary folder (and copied to
  ``$CALLSIM_ARTIFACTS`` when that is set, for CI to keep).
* Replay files carry a header (case, finding, versions, implementation, command) and ``name``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.grades import CaseResult, Finding, Grade
from conformance.report import Report

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
for _k in [k for k in ENV if k.startswith("PYTEST_") or k == "CALLSIM_RECORDER_FACTORY"]:
    del ENV[_k]
FAULTY = "tests.faulty.causes:SilenceReportedAsTimeout"
#: a third of the suite that the wrong mapping breaks in several ways (a -k selection keeps the
#: default run short; tests/test_report_page.py::test_full_run_of_one_wrong_mapping is the whole suite)
SELECTION = "limits/"


def callsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callsim", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    d = tmp_path_factory.mktemp("page") / "report"
    r = callsim("conformance", "--recorder-factory", FAULTY, "--report", str(d), "-k", SELECTION)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    return r, d


def assert_short_grouped_terminal(r: subprocess.CompletedProcess[str], total: int) -> list[str]:
    lines = r.stdout.splitlines()
    assert len(lines) < 40, r.stdout
    out = r.stdout + r.stderr
    for noise in ("Warning", "warning", "bringing up nodes", "FAILURES", "short test summary", "[gw", "Traceback"):
        assert noise not in out, (noise, out)
    assert lines[0].startswith(f"callsim conformance: {total} cases"), lines[0]  # the total, up front
    assert sum("root cause" in ln for ln in lines) == 1
    assert "1 root cause (" in r.stdout and "'SILENCE' expected, 'TIMEOUT' observed" in r.stdout
    assert sum(ln.lstrip().startswith(("FAIL ", "PASS ")) for ln in lines) == 2  # one summary, one group
    return lines


def test_one_wrong_mapping_prints_one_root_cause_in_few_lines(faulty_run):
    r, d = faulty_run
    doc = json.loads((d / "index.json").read_text())
    lines = assert_short_grouped_terminal(r, doc["selection"]["selected"])
    (group,) = doc["groups"]
    assert group["count"] == doc["summary"]["FAIL"] > 5
    # every failing case is named once, in the group's list of cases (or the report, when long)
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("cases:"))
    listed = re.split(r"[,\s]+", " ".join(lines[start:]).replace("cases:", ""))
    for cid in group["cases"]:
        assert listed.count(cid) <= 1
    assert f"smallest case: {group['smallest']}" in r.stdout and group["replay"] in r.stdout


def test_quiet_prints_the_summary_and_the_groups_only(tmp_path: Path):
    r = callsim("conformance", "--recorder-factory", FAULTY, "--report", str(tmp_path / "r"), "-q", "-k",
                "limits/silence-basic or limits/silence-at-limit")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("FAIL ") and "root cause" in r.stdout
    assert not any(ln.startswith(("callsim conformance:", ".", "F")) for ln in lines[1:])
    assert "cases:" not in r.stdout and r.stderr == ""


# -- the page, parsed --------------------------------------------------------------------------------
class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        for key, bucket in (("href", self.hrefs), ("src", self.srcs)):
            v = a.get(key)
            if v:
                bucket.append(v)
                if re.match(r"^[a-z]+:", v):
                    self.external.append(v)


def assert_no_dead_links(report_dir: Path) -> _Page:
    page = _Page()
    page.feed((report_dir / "index.html").read_text(encoding="utf-8"))
    assert not page.external, page.external  # no external resources
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    for href in page.hrefs + page.srcs:
        if href.startswith("#"):
            assert href[1:] in page.ids, f"dead anchor {href}"
        else:
            assert (report_dir / href).is_file(), f"dead link {href}"
    return page


def synthetic_report() -> Report:
    fail = Finding(Grade.FAIL, ("SPEC-SILENCE",), "step 0 record() gave returned 'TIMEOUT'",
                   {"call": "record", "expected": {"end_ms": 1000.0, "returned": "SILENCE"},
                    "observed": {"end_ms": 1000.0, "returned": "TIMEOUT"}})
    hyp = Finding(Grade.FAIL, ("SPEC-WAV",), "'f.wav' holds 10 samples",
                  {"hypothesis": ["Falsifying example: check(\n    scenario=Scenario(seed=0),\n)"], "examples": 3})
    cases = [
        CaseResult("a/fail", ("SPEC-SILENCE",), [fail], scenario_toml="seed = 1\n"),
        CaseResult("a/fail-2", ("SPEC-SILENCE",), [fail], scenario_toml="seed = 2\n# longer\n"),
        CaseResult("b/hyp", ("SPEC-WAV",), [hyp], scenario_toml='name = "mine"\nseed = 3\n'),
        CaseResult("c/pass", ("SPEC-RECORD",), [Finding(Grade.PASS, ("SPEC-RECORD",), "ok")]),
        CaseResult("d/unsupported", ("SPEC-FORMATS",), unsupported="formats: oki not declared"),
        CaseResult("e/xfail", ("SPEC-STOP",), [Finding(Grade.FAIL, ("SPEC-STOP",), "stop() returned None", {})]),
        CaseResult("f/xpass", ("SPEC-STOP",), []),
        CaseResult("g/nonstrict", ("SD-TIES",), [Finding(Grade.NON_STRICT, ("SD-TIES",), "ours differ", {})]),
    ]
    cases[5].mark_expected_failure()
    cases[6].mark_expected_failure()
    return Report("impl:Rec", cases=cases, factory_spec="impl:Rec", keyword="a or b", known=300, partial=True)


def test_the_page_scales_and_has_no_dead_links(tmp_path: Path):
    d = tmp_path / "rep"
    synthetic_report().write(d, plots=False)
    page = assert_no_dead_links(d)
    text = (d / "index.html").read_text(encoding="utf-8")
    # the verdict and the root causes come first, then the contents, the cases, the tables
    order = [text.index(f'id="{i}"') for i in ("summary", "root-causes", "toc", "cases", "clauses", "all-cases")]
    assert order == sorted(order)
    assert "partial run" in text[:text.index('id="root-causes"')]
    assert "case-c_pass" not in page.ids  # a PASS case has no section, and nothing links to one
    for cid in ("a_fail", "b_hyp", "d_unsupported", "e_xfail", "f_xpass", "g_nonstrict"):
        assert f"case-{cid}" in page.ids
    sections = dict(re.findall(r'<details class="case" id="case-([^"]+)"(.*?)</details>', text, flags=re.S))
    assert "formats: oki not declared" in sections["d_unsupported"] and "replay:" not in sections["d_unsupported"]
    assert ">XFAIL<" in sections["e_xfail"] and ">XPASS<" in sections["f_xpass"]
    assert '<tr class="diff"><td>returned</td>' in sections["a_fail"]  # the differing field marked
    assert '<tr><td>end_ms</td>' in sections["a_fail"]  # the same one not
    assert "<pre>{}</pre>" not in text and "\\n" not in text  # no empty boxes, no literal \n
    assert "Falsifying example: check(\n    scenario=" in text
    assert 'id="f-grade"' in text and 'id="f-clause"' in text and "<script>" in text


def test_replay_files_explain_themselves(tmp_path: Path):
    from simulator.scenario import load_scenario

    rep = synthetic_report()
    rep.write(tmp_path / "rep", plots=False)
    f = tmp_path / "rep" / "replay" / "a_fail.toml"
    head = f.read_text().splitlines()
    assert head[0] == "# callsim replay file of case a/fail"
    assert head[1].startswith("# grade: FAIL; finding: FAIL [SPEC-SILENCE] step 0 record()")
    assert "spec decisions v" in head[2] and head[3] == "# implementation: impl:Rec"
    assert head[4] == f"# replay: callsim run {tmp_path / 'rep' / 'replay' / 'a_fail.toml'} --check --recorder-factory impl:Rec"
    assert load_scenario(f).name == "a/fail" and load_scenario(f).seed == 1
    assert load_scenario(tmp_path / "rep" / "replay" / "b_hyp.toml").name == "mine"  # a name of its own is kept


def test_faulty_report_page_has_no_dead_links_and_notes_limited_plots(faulty_run):
    pytest.importorskip("matplotlib", reason="plots need the plot extra")
    _, d = faulty_run
    assert_no_dead_links(d)
    doc = json.loads((d / "index.json").read_text())
    n_plots = len(list((d / "plots").glob("*.png")))
    text = (d / "index.html").read_text(encoding="utf-8")
    assert (f"plots were drawn for {n_plots} of the" in text) == (doc["summary"]["FAIL"] > n_plots)
    smallest = doc["groups"][0]["smallest"]
    assert (d / "plots" / (smallest.replace("/", "_") + ".png")).is_file()  # each root cause gets its plot


# -- in a real browser -------------------------------------------------------------------------------
def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra) drives the browser")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="callsim-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,900"):
        opts.add_argument(flag)
    opts.binary_location = chromium
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts), profile


def test_the_page_in_a_real_browser(faulty_run, tmp_path_factory: pytest.TempPathFactory):
    _, d = faulty_run
    doc = json.loads((d / "index.json").read_text())
    browser, profile = _browser()
    try:
        browser.get((d / "index.html").as_uri())
        errors = [m for m in browser.get_log("browser") if m.get("level") == "SEVERE"]
        assert not errors, errors
        height = browser.execute_script("return window.innerHeight")
        box = browser.execute_script("var r = document.getElementById('root-causes').getBoundingClientRect();"
                                     "return [r.top, r.bottom];")
        assert 0 < box[0] < box[1] <= height, (box, height)  # the verdict fits the first screen
        causes = browser.find_element("id", "root-causes")
        assert causes.is_displayed() and "1 root cause" in causes.text
        assert "'SILENCE' expected, 'TIMEOUT' observed" in causes.text
        for sid in ("summary", "toc", "cases", "f-grade", "f-clause"):
            assert browser.find_element("id", sid).is_displayed(), sid
        shot = tmp_path_factory.mktemp("artifacts") / "report-first-screen.png"
        browser.save_screenshot(str(shot))
        # the filter: by grade, then by a clause no failing case names
        def choose(select: str, value: str) -> int:
            return browser.execute_script(
                f"var s = document.getElementById('{select}'); s.value = arguments[0];"
                "s.dispatchEvent(new Event('input'));"
                "return document.querySelectorAll('details.case:not([hidden])').length", value)

        assert choose("f-grade", "FAIL") == doc["summary"]["FAIL"]
        failing_clauses = {cl for c in doc["cases"] if c["grade"] != "PASS" for cl in c["clauses"]}
        other = next(cl for c in doc["cases"] for cl in c["clauses"] if cl not in failing_clauses)
        assert choose("f-clause", other) == 0
        assert choose("f-clause", "") == doc["summary"]["FAIL"]
        # the link to the smallest case opens it
        smallest = doc["groups"][0]["smallest"]
        browser.find_element("css selector", "#root-causes a[href^='#case-']").click()
        anchor = "case-" + re.sub(r"[^A-Za-z0-9._-]+", "_", smallest).strip("_")
        # the page opens it on 'hashchange', an event the browser delivers after the click
        # returns: wait for it (a loaded machine can take a moment)
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 10).until(
            lambda b: b.execute_script(f"return document.getElementById('{anchor}').open") is True)
        browser.save_screenshot(str(shot.with_name("report-smallest-case.png")))
        assert not [m for m in browser.get_log("browser") if m.get("level") == "SEVERE"]
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("CALLSIM_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in shot.parent.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)


@pytest.mark.slow
def test_full_run_of_one_wrong_mapping(tmp_path: Path):
    """The whole suite against the one-wrong-mapping recorder: under 40 lines, one root cause."""
    r = callsim("conformance", "--recorder-factory", FAULTY, "--report", str(tmp_path / "r"), "-n", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads((tmp_path / "r" / "index.json").read_text())
    assert_short_grouped_terminal(r, doc["summary"]["total"])
    assert len(doc["groups"]) == 1


def test_progress_is_one_display_with_the_total_up_front():
    import io
    from types import SimpleNamespace

    from conformance.console import Progress

    def rep(cid: str, outcome: str, when: str = "call") -> SimpleNamespace:
        return SimpleNamespace(nodeid=f"conformance/test_conformance.py::TestConformance::test_case[{cid}]",
                               when=when, outcome=outcome)

    for tty in (False, True):
        out = io.StringIO()
        p = Progress("m:F", out=out, isatty=tty, workers="2")
        p.pytest_xdist_node_collection_finished(None, [rep(f"a/{i}", "").nodeid for i in range(130)] + ["other::test"])
        for i in range(130):
            p.pytest_runtest_logreport(rep(f"a/{i}", "passed", "setup"))
            p.pytest_runtest_logreport(rep(f"a/{i}", "failed" if i % 50 == 0 else "passed"))
        p.finish()
        text = out.getvalue()
        assert text.startswith("callsim conformance: 130 cases, recorder m:F, 2 workers\n")
        if tty:  # one line, rewritten in place
            assert text.count("\n") == 2 and text.rstrip().endswith("130/130 cases, 3 not passing")
        else:  # rows of one letter per case, each ending with the count
            rows = text.splitlines()[1:]
            assert [r[-9:] for r in rows] == ["[ 60/130]", "[120/130]", "[130/130]"] and "".join(r[:60] for r in rows).count("F") == 3


def test_the_plugin_door_prints_the_root_causes_once_after_pytests_output(tmp_path: Path):
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance", "-q", "-p", "no:cacheprovider",
                        "--recorder-factory", FAULTY, "--callsim-report", str(tmp_path / "r"), "-k", "limits/silence-basic or limits/silence-at-limit"],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.stdout.count("root cause") == 1 and r.stdout.count("== callsim conformance ==") == 1
    section = r.stdout.split("== callsim conformance ==", 1)[1]
    assert section.splitlines()[1].startswith("FAIL ") and "'SILENCE' expected, 'TIMEOUT' observed" in section
    assert "]callsim" not in r.stdout  # never glued to the progress line


def test_plot_titles_are_wrapped_never_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("matplotlib", reason="plots need the plot extra")
    from matplotlib.figure import Figure

    from callsim.plot import plot_run
    from recorder import FileRecorder
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    seen: list[tuple[float, float, float]] = []
    save = Figure.savefig

    def measuring_savefig(fig, *args, **kwargs):
        out = save(fig, *args, **kwargs)
        box = fig._suptitle.get_window_extent(fig._get_renderer())
        seen.append((box.x0, box.x1, fig.bbox.x1))
        return out

    monkeypatch.setattr(Figure, "savefig", measuring_savefig)
    scenario = ScenarioBuilder().speech(0, 500).record(filename="f", milliseconds_max_silence=300).build()
    title = "limits/some-case: SPEC-SILENCE: 'SILENCE' expected, 'TIMEOUT' observed; " * 4
    plot_run(scenario, run_scenario(scenario, FileRecorder), tmp_path / "p.png", title=title)
    ((x0, x1, width),) = seen
    assert 0 <= x0 < x1 <= width
