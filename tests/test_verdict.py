"""A verdict a CI pipeline can gate on: never green by accident, never garbled.

* exit status 0 only when cases ran and none FAILed, 1 when one FAILed, 2 (with one line on
  stderr) when the run could not grade: a bad factory, option, ``--xfail`` file, ``--report``
  folder, or a ``-k`` that selects nothing;
* every selected case appears in every report format exactly once, also when the recorder
  escapes the case with a ``BaseException`` or kills the worker; findings are plain JSON;
* the report folder is written fresh; JUnit XML, HTML, JSON and the terminal survive hostile
  text (control sequences, NUL, lone surrogates); a ``-k`` run is marked partial everywhere;
* expected failures show as XFAIL, a listed case that passes as XPASS, unknown IDs are refused;
* ``callsim run --check`` honours ``--out``, ``--log`` and ``--json``.

The hostile recorders are in ``tests/faulty/harness.py``.
"""

from __future__ import annotations

import enum
import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from callsim.cli import build_parser, main
from conformance.grades import CaseResult, Finding, Grade
from conformance.report import Report
from conformance.suite import all_case_ids

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
for _k in [k for k in ENV if k.startswith("PYTEST_") or k == "CALLSIM_RECORDER_FACTORY"]:
    del ENV[_k]  # a run of our own is not a pytest-xdist worker (plugins read these)
HOSTILE = "boom \x1b[2J\x1b]0;pwned\x07 nul\x00 sur\ud800 bell\x07 csi\x9b31m end"
#: Bytes that must never reach a terminal (ESC, BEL, NUL, the UTF-8 of C1 CSI).
UNSAFE_BYTES = (b"\x1b", b"\x07", b"\x00", b"\xc2\x9b", b"\r")
EXAMPLES = sorted(i for i in all_case_ids() if "examples/" in i)


def callsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "callsim", *args], cwd=cwd, env=ENV,
                          capture_output=True, timeout=600)


def text(r: subprocess.CompletedProcess[bytes]) -> str:
    return r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def assert_terminal_safe(r: subprocess.CompletedProcess[bytes]) -> None:
    for stream in (r.stdout, r.stderr):
        stream.decode("utf-8")  # strict: no lone surrogate was written
        for bad in UNSAFE_BYTES:
            assert bad not in stream, (bad, stream[-3000:])


def one_line_error(r: subprocess.CompletedProcess[bytes] | tuple[int, str, str], *needles: str) -> str:
    if isinstance(r, tuple):
        code, out, err = r
    else:
        code, out, err = r.returncode, r.stdout.decode(), r.stderr.decode()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out[-2000:], err[-2000:])
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def report_ids(d: Path) -> tuple[list[str], list[str], list[str]]:
    """Case IDs as each format lists them: index.json, junit.xml, the HTML table of all cases."""
    doc = json.loads((d / "index.json").read_text(encoding="utf-8"))
    junit = ET.parse(d / "junit.xml").getroot()
    all_cases = (d / "index.html").read_text(encoding="utf-8").split("<h2>All cases</h2>", 1)[1]
    return ([c["id"] for c in doc["cases"]], [tc.get("name", "") for tc in junit.iter("testcase")],
            re.findall(r'<tr data-grade="[^"]*" data-clauses="[^"]*" data-id="([^"]*)"', all_cases))


# -- 1. exit codes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, needle", [
    ("myrecc:FileRecorder", "myrecc"),  # a typo in the module
    ("recorder:FileRecorderX", "FileRecorderX"),  # a missing attribute
    ("tests.faulty.harness:NotAFactory", "not callable"),
    ("recorder.FileRecorder", "MODULE:CALLABLE"),
])
def test_bad_factory_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, needle: str):
    res = in_process(capsys, "conformance", "--recorder-factory", spec, "--report", str(tmp_path / "r"),
                     "-k", "examples/")
    one_line_error(res, "callsim conformance:", needle)
    assert not (tmp_path / "r").exists()


def test_bad_factory_from_the_command_line_is_one_line(tmp_path: Path):
    """The whole program, not only main(): no pytest start, no traceback per case."""
    r = callsim("conformance", "--recorder-factory", "myrecc:FileRecorder", "--report", str(tmp_path / "r"))
    one_line_error(r, "myrecc")
    assert len(r.stdout.splitlines()) == 0


@pytest.mark.parametrize("extra, needle", [
    (["--xfail", "/nonexistent/xfail-list"], "--xfail"),
    (["--capabilities", "nomodule_xyz:CAPS"], "--capabilities"),
    (["--capabilities", "recorder:FileRecorder"], "Capabilities"),
    (["-n", "bogus"], "-n"),
])
def test_bad_options_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], needle: str):
    res = in_process(capsys, "conformance", "--report", str(tmp_path / "r"), "-k", "examples/", *extra)
    one_line_error(res, "callsim conformance:", needle)


def test_keyword_selecting_nothing_exits_2(tmp_path: Path):
    r = callsim("conformance", "--report", str(tmp_path / "r"), "-q", "-k", "limits_silence")
    line = one_line_error(r, "-k", "limits_silence")
    assert "none of" in line


def test_report_path_problems_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    one_line_error(in_process(capsys, "conformance", "--report", str(a_file), "-k", "examples/"), "--report")
    one_line_error(in_process(capsys, "conformance", "--report", str(a_file / "r"), "-k", "examples/"), "--report")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work\n")
    one_line_error(in_process(capsys, "conformance", "--report", str(precious), "-k", "examples/"), "not a callsim report")
    assert (precious / "thesis.tex").read_text() == "years of work\n"


def test_help_and_docs_document_the_exit_status(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["conformance", "--help"])
    helptext = capsys.readouterr().out
    assert "exit status" in helptext.lower()
    for code in ("0 ", "1 ", "2 "):
        assert f"\n  {code}" in helptext, helptext
    doc = (ROOT / "docs" / "conformance.md").read_text()
    assert "## Exit status" in doc and "XPASS" in doc and "ERROR" in doc


def test_pytest_plugin_reports_a_bad_factory_once(tmp_path: Path):
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider",
                        "-o", "addopts=", "--recorder-factory=bad:path", "-q"],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 4, out[-3000:]  # pytest's usage error
    assert out.count("bad:path") == 1, out[-3000:]
    assert "Traceback" not in out and " error" not in r.stdout


# -- 2. every selected case in the report exactly once; plain JSON -------------------------------
class _Colour(enum.Enum):
    RED = "red"


class _Weird:
    def __repr__(self) -> str:
        return "<weird \ud800>"


def test_findings_coerce_evidence_to_plain_json():
    ev = {"f64": np.float64(1.5), "i32": np.int32(7), "b": np.bool_(True), "arr": np.arange(3, dtype=np.int16),
          "tuple": (1, (2, 3)), "enum": _Colour.RED, "grade": Grade.FAIL, "bytes": b"RIFF\x00", "path": PurePosixPath("/a/b"),
          "nan": float("nan"), "inf": np.float32("inf"), "set": {3, 1}, 4: "int key", "obj": _Weird(),
          "nested": {"deep": [np.float64(2.25), {"x": np.uint8(9)}]}, "text": "sur\ud800"}
    f = Finding(Grade.FAIL, ("SPEC-WAV",), "message \ud800", ev)
    doc = f.to_json()
    s = json.dumps(doc, allow_nan=False)
    s.encode("utf-8")  # no lone surrogate survives
    e = json.loads(s)["evidence"]
    assert e["f64"] == 1.5 and type(f.evidence["f64"]) is float
    assert e["i32"] == 7 and type(f.evidence["i32"]) is int and f.evidence["b"] is True
    assert e["arr"] == [0, 1, 2] and e["tuple"] == [1, [2, 3]] and e["enum"] == "red" and e["grade"] == "FAIL"
    assert e["bytes"] == repr(b"RIFF\x00") and e["path"] == "/a/b" and e["set"] == [1, 3] and e["4"] == "int key"
    assert e["nan"] == "nan" and e["inf"] == "inf" and e["obj"].startswith("<weird")
    assert e["nested"] == {"deep": [2.25, {"x": 9}]}
    res = CaseResult("x/y", ("SPEC-WAV",), [f], duration_s=np.float64(0.5))  # type: ignore[arg-type]
    json.dumps(res.to_json(), allow_nan=False).encode("utf-8")
    assert CaseResult.from_json(json.loads(json.dumps(res.to_json()))).findings[0].evidence == f.evidence
    assert not math.isnan(res.to_json()["duration_s"])


def test_numpy_evidence_survives_xdist(tmp_path: Path):
    """A content check's SNR is a numpy float: under -n it once crashed the run (INTERNALERROR)."""
    r = callsim("conformance", "--recorder-factory", "tests.faulty:S16BigEndian", "--report", str(tmp_path / "r"),
                "-q", "-n", "2", "-k", "formats/s16bit/8000")
    assert r.returncode == 1, text(r)[-3000:]
    assert "INTERNALERROR" not in text(r)
    doc = json.loads((tmp_path / "r" / "index.json").read_text())
    assert [c["grade"] for c in doc["cases"]] == ["FAIL"]
    assert isinstance(doc["cases"][0]["findings"][0]["evidence"]["snr_db"], float)


@pytest.mark.parametrize("factory", [  # under -n: test_numpy_evidence_survives_xdist, test_dead_worker_*
    "tests.faulty.harness:StopRaisesSystemExit",
    "tests.faulty.harness:RecordRaisesGeneratorExit",
    "tests.faulty.harness:StopRaisesKeyboardInterrupt",
])
def test_base_exceptions_never_drop_cases(tmp_path: Path, factory: str):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", factory, "--report", str(d), "-q", "-k", "examples/")
    assert r.returncode in (1, 2), text(r)[-3000:]
    for ids in report_ids(d):
        assert sorted(ids) == EXAMPLES, ids
    doc = json.loads((d / "index.json").read_text())
    assert doc["summary"]["total"] == len(EXAMPLES)
    bad = [c for c in doc["cases"] if c["grade"] in ("FAIL", "ERROR")]
    assert bad and all(c["summary"] for c in bad)
    assert "PASS 4 of 4" not in text(r)


def test_dead_worker_is_a_failing_case(tmp_path: Path):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", "tests.faulty.harness:RecordKillsTheProcess",
                "--report", str(d), "-q", "-n", "2", "-k", "examples/")
    assert r.returncode in (1, 2), text(r)[-3000:]
    for ids in report_ids(d):
        assert sorted(ids) == EXAMPLES, ids
    doc = json.loads((d / "index.json").read_text())
    dead = next(c for c in doc["cases"] if c["id"] == "examples/record-silence")
    assert dead["grade"] in ("FAIL", "ERROR") and "crashed" in dead["summary"]


def test_setup_error_is_an_error_case_and_exit_2(tmp_path: Path):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", "tests.faulty.harness:CapabilitiesRaise", "--report", str(d),
                "-q", "-k", "api/stop-when-idle")
    assert r.returncode == 2, text(r)[-3000:]
    (case,) = json.loads((d / "index.json").read_text())["cases"]
    assert case["grade"] == "ERROR" and "setup" in case["summary"] and "capabilities exploded" in case["summary"]
    assert "ERROR" in r.stderr.decode() and "api/stop-when-idle" in r.stderr.decode()
    assert next(ET.parse(d / "junit.xml").getroot().iter("testcase")).find("error") is not None


# -- 3. reports always well-formed -----------------------------------------------------------------
def _hostile_report() -> Report:
    every_control = "".join(map(chr, range(0, 32))) + "\x7f\x85\x9b\ufffe\uffff\udfff\u202e"
    f = Finding(Grade.FAIL, ("SPEC-STOP",), HOSTILE + every_control, {"message": HOSTILE, HOSTILE: every_control})
    rep = Report("hostile \x1b]0;x\x07", factory_spec="m:F")
    rep.cases = [CaseResult("api/stop-when-idle", ("SPEC-STOP",), [f]),
                 CaseResult("api/wait-none", ("SPEC-WAIT-NONE",), unsupported=HOSTILE)]
    return rep


def test_every_format_survives_hostile_text(tmp_path: Path):
    d = tmp_path / "r"
    _hostile_report().write(d, plots=False)
    ET.parse(d / "junit.xml")  # well-formed XML 1.0
    raw_xml = (d / "junit.xml").read_bytes()
    for bad in (b"\x00", b"\x1b", b"\x07", b"&#0;", b"&#27;"):
        assert bad not in raw_xml
    html_bytes = (d / "index.html").read_bytes()
    html_bytes.decode("utf-8")
    assert b"\x1b" not in html_bytes and b"\x00" not in html_bytes and b"pwned" in html_bytes
    doc = json.loads((d / "index.json").read_bytes().decode("utf-8"))
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # no lone surrogate inside either
    assert "pwned" in doc["cases"][0]["summary"]


def test_hostile_recorder_through_the_command_line(tmp_path: Path):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", "tests.faulty.harness:HostileMessages", "--report", str(d),
                "-k", "examples/")
    assert r.returncode in (1, 2), text(r)[-3000:]
    assert_terminal_safe(r)
    assert b"pwned" in r.stdout  # the message was shown, made harmless
    ET.parse(d / "junit.xml")
    (d / "index.html").read_bytes().decode("utf-8")
    assert b"\x1b" not in (d / "index.html").read_bytes()
    json.loads((d / "index.json").read_bytes().decode("utf-8"))
    for ids in report_ids(d):
        assert sorted(ids) == EXAMPLES, ids


def test_report_folder_is_written_fresh(tmp_path: Path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "index.json").write_text(json.dumps({"implementation": "STALE", "summary": {"PASS": 999, "FAIL": 0, "total": 999},
                                              "cases": []}))
    (d / "stale-leftover.txt").write_text("old\n")
    # a run that cannot grade never prints the old summary
    r = callsim("conformance", "--report", str(d), "-q", "-k", "selects_nothing_at_all")
    assert r.returncode == 2 and "STALE" not in text(r) and "999" not in text(r), text(r)[-2000:]
    # a run that grades replaces the folder: nothing of the old one is left, no temporary sibling
    r = callsim("conformance", "--report", str(d), "-q", "-k", "api/stop-when-idle")
    assert r.returncode == 0, text(r)[-2000:]
    assert not (d / "stale-leftover.txt").exists()
    assert json.loads((d / "index.json").read_text())["summary"]["total"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_report_write_replaces_only_reports(tmp_path: Path):
    rep = Report("x", cases=[CaseResult("api/stop-when-idle", ("SPEC-STOP",))])
    d = tmp_path / "r"
    rep.write(d, plots=False)
    (d / "extra.txt").write_text("old\n")
    rep.write(d, plots=False)
    assert not (d / "extra.txt").exists() and (d / "index.json").exists()
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine\n")
    with pytest.raises(ValueError, match="not a callsim report"):
        rep.write(keep, plots=False)
    assert (keep / "notes.txt").exists() and not (keep / "index.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "r"]


def test_partial_run_is_marked_in_every_format(tmp_path: Path):
    d = tmp_path / "r"
    r = callsim("conformance", "--report", str(d), "-k", "api/stop-when-idle or api/wait-none")
    assert r.returncode == 0, text(r)[-2000:]
    doc = json.loads((d / "index.json").read_text())
    assert doc["partial"] is True and doc["selection"]["keyword"] == "api/stop-when-idle or api/wait-none"
    assert doc["selection"]["selected"] == 2 and doc["selection"]["known"] == len(all_case_ids())
    assert "partial run" in (d / "index.html").read_text()
    props = {p.get("name"): p.get("value") for p in ET.parse(d / "junit.xml").getroot().iter("property")}
    assert props.get("partial") == "true"
    assert "partial run" in r.stdout.decode()
    full = Report("x", cases=[CaseResult(i, ()) for i in all_case_ids()])
    assert full.to_json()["partial"] is False


def test_verdict_rules():
    def rep(*grades: Grade, strict: bool = True) -> Report:
        cases = []
        for i, g in enumerate(grades):
            c = CaseResult(f"c/{i}", ())
            if g is Grade.UNSUPPORTED:
                c.unsupported = "no"
            elif g is not Grade.PASS:
                c.findings.append(Finding(g, (), "x"))
            cases.append(c)
        return Report("x", cases=cases, strict_xfail=strict)

    assert rep().verdict() == 2  # nothing ran
    assert rep(Grade.UNSUPPORTED).verdict() == 2  # nothing was graded
    assert rep(Grade.PASS, Grade.NON_STRICT, Grade.INFO, Grade.UNSUPPORTED, Grade.XFAIL).verdict() == 0
    assert rep(Grade.PASS, Grade.FAIL).verdict() == 1
    assert rep(Grade.PASS, Grade.ERROR).verdict() == 2 and rep(Grade.FAIL, Grade.ERROR).verdict() == 2
    assert rep(Grade.PASS, Grade.XPASS).verdict() == 1
    assert rep(Grade.PASS, Grade.XPASS, strict=False).verdict() == 0


# -- 4. expected failures that stay true ---------------------------------------------------------
def test_unknown_xfail_id_exits_2_naming_the_closest(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    xf = tmp_path / "xfail-list"
    xf.write_text("# known failures\nlimits/silence-basic\nlimits/silence-basc  # typo\n")
    line = one_line_error(in_process(capsys, "conformance", "--report", str(tmp_path / "r"), "--xfail", str(xf)),
                          "limits/silence-basc")
    assert "'limits/silence-basic'" in line and ":3" in line


def test_expected_failure_is_xfail_in_every_format(tmp_path: Path):
    xf = tmp_path / "xfail-list"
    xf.write_text("limits/silence-basic\n")
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", "tests.faulty:SilenceReportedAsTimeout", "--report", str(d),
                "-k", "limits/silence-basic", "--xfail", str(xf))
    assert r.returncode == 0, text(r)[-3000:]
    doc = json.loads((d / "index.json").read_text())
    (case,) = doc["cases"]
    assert case["grade"] == "XFAIL" and case["expected_failure"] is True and doc["summary"]["XFAIL"] == 1
    assert doc["summary"]["INFO"] == 0 and doc["summary"]["FAIL"] == 0
    assert "XFAIL" in (d / "index.html").read_text()
    tc = next(ET.parse(d / "junit.xml").getroot().iter("testcase"))
    assert tc.find("skipped") is not None
    assert {p.get("name"): p.get("value") for p in tc.iter("property")}["grade"] == "XFAIL"
    assert "XFAIL 1" in r.stdout.decode()


def test_xpass_fails_the_run_unless_not_strict(tmp_path: Path):
    xf = tmp_path / "xfail-list"
    xf.write_text("api/stop-when-idle\n")
    r = callsim("conformance", "--report", str(tmp_path / "a"), "-k", "api/stop-when-idle", "--xfail", str(xf))
    assert r.returncode == 1, text(r)[-2000:]
    doc = json.loads((tmp_path / "a" / "index.json").read_text())
    assert doc["cases"][0]["grade"] == "XPASS" and doc["strict_xfail"] is True
    assert "XPASS api/stop-when-idle" in r.stdout.decode()
    r = callsim("conformance", "--report", str(tmp_path / "b"), "-k", "api/stop-when-idle", "--xfail", str(xf),
                "--no-strict-xfail")
    assert r.returncode == 0, text(r)[-2000:]
    doc = json.loads((tmp_path / "b" / "index.json").read_text())
    assert doc["cases"][0]["grade"] == "XPASS" and doc["strict_xfail"] is False


# -- 5. callsim run --check honours --out, --log and --json ---------------------------------------
def test_run_check_honours_out_log_and_json(tmp_path: Path):
    scenario = ROOT / "fixtures" / "scenarios" / "bargein-dtmf-in-file.toml"
    out, log = tmp_path / "files", tmp_path / "log.json"
    r = callsim("run", str(scenario), "--check", "--out", str(out), "--log", str(log), "--json")
    assert r.returncode == 0, text(r)[-2000:]
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert {"steps", "final", "files", "grade", "findings"} <= set(doc)
    assert doc["grade"] == "PASS" and doc["findings"] == []
    assert sorted(p.name for p in out.iterdir()) == sorted(f["name"] for f in doc["files"]) != []
    assert isinstance(json.loads(log.read_text()), list)
    r = callsim("run", str(scenario), "--check", "--json", "--recorder-factory", "tests.faulty:BargeInIgnored")
    assert r.returncode == 1
    doc = json.loads(r.stdout.decode())
    assert doc["grade"] == "FAIL" and any(f["grade"] == "FAIL" for f in doc["findings"])


def _one_case(d: Path) -> dict:
    (case,) = json.loads((d / "index.json").read_text())["cases"]
    return case


@pytest.mark.parametrize("factory,needle", [
    ("tests.faulty.harness:StopRaisesSystemExit", "SystemExit"),
    ("tests.faulty.harness:StopRaisesKeyboardInterrupt", "KeyboardInterrupt"),
    ("tests.faulty.harness:RecordRaisesGeneratorExit", "GeneratorExit"),
    ("tests.faulty.harness:RecordRaisesBaseException", "_Custom"),
    ("tests.faulty.harness:ConstructorRaises", "SystemExit"),
    ("tests.faulty.harness:factory_returns_none", "NoneType"),
])
@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_any_exception_is_a_named_fail_of_its_case(tmp_path: Path, factory: str, needle: str, workers: list[str]):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", factory, "--report", str(d), "-q", *workers,
                "-k", "examples/record-silence or api/stop-when-idle")
    assert r.returncode == 1, text(r)[-3000:]
    doc = json.loads((d / "index.json").read_text())
    assert sorted(c["id"] for c in doc["cases"]) == ["api/stop-when-idle", "examples/record-silence"]
    assert any(c["grade"] == "FAIL" and needle in json.dumps(c) for c in doc["cases"]), doc["cases"]
    assert all(c["grade"] in ("PASS", "FAIL", "NON_STRICT") for c in doc["cases"]), doc["cases"]


@pytest.mark.parametrize("factory,case,where", [
    ("tests.faulty.harness:RecordLoopsForever", "examples/record-silence", "in record"),
    ("tests.faulty.harness:StopSleepsForever", "api/stop-when-idle", "in stop"),
])
def test_a_stuck_recorder_fails_its_case_within_the_budget(tmp_path: Path, factory: str, case: str, where: str):
    d = tmp_path / "r"
    r = callsim("conformance", "--recorder-factory", factory, "--report", str(d), "-q", "--case-timeout", "2",
                "-k", f"{case} or api/wait-none")
    assert r.returncode == 1, text(r)[-3000:]
    cases = {c["id"]: c for c in json.loads((d / "index.json").read_text())["cases"]}
    assert set(cases) == {case, "api/wait-none"}
    stuck = cases[case]
    assert stuck["grade"] == "FAIL" and "did not return within 2 s" in stuck["summary"], stuck
    assert where in json.dumps(stuck), stuck


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_a_leftover_non_daemon_thread_does_not_hang_the_run(tmp_path: Path, workers: list[str]):
    d = tmp_path / "r"
    r = subprocess.run([sys.executable, "-m", "callsim", "conformance", "--recorder-factory",
                        "tests.faulty.harness:LeavesNonDaemonThread", "--report", str(d), "-q", *workers,
                        "--case-timeout", "2", "-k", "examples/record-silence"],
                       cwd=ROOT, env=ENV, capture_output=True, timeout=120)
    assert r.returncode in (0, 1), text(r)[-3000:]
    assert (d / "index.json").exists()


def test_case_timeout_options_are_documented(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["conformance", "--help"])
    assert "--case-timeout" in capsys.readouterr().out
    doc = (ROOT / "docs" / "conformance.md").read_text()
    assert "--case-timeout" in doc and "--callsim-case-timeout" in doc and "SIGINT" in doc


def _examples_and_idle(factory: object) -> list[CaseResult]:
    from conformance.capabilities import capabilities_of
    from conformance.cases import CATALOGUE, run_case

    return [run_case(c, factory, capabilities_of(factory)) for c in CATALOGUE
            if c.id in ("examples/record-silence", "api/stop-when-idle")]


@pytest.mark.parametrize("name,clauses", [("CausesAsStrings", {"SPEC-CAUSE"}), ("ForeignEnums", {"SPEC-CAUSE"})])
def test_returned_values_must_be_the_recorders_own_enum_members(name: str, clauses: set[str]):
    from conformance.clauses import clause
    from tests.faulty import harness

    results = _examples_and_idle(getattr(harness, name))
    typed = [f for r in results for f in r.findings if "returned_type" in f.evidence]
    assert typed and all(f.grade is Grade.FAIL for f in typed), [f.message for r in results for f in r.findings]
    assert clauses <= {c for f in typed for c in f.clauses}
    assert any(clause("SPEC-CAUSE").quote in f.message for f in typed)


def test_an_int_from_stop_is_non_strict_and_the_reference_is_clean():
    from recorder import FileRecorder
    from tests.faulty import harness

    typed = [f for r in _examples_and_idle(harness.StopReturnsOne) for f in r.findings if "returned_type" in f.evidence]
    assert typed and {f.grade for f in typed} == {Grade.NON_STRICT}, [f.message for f in typed]
    assert not [f for r in _examples_and_idle(FileRecorder) for f in r.findings if "returned_type" in f.evidence]


def test_run_json_records_the_returned_type():
    from recorder import FileRecorder
    from simulator.runner import run_scenario
    from simulator.scenario import ScenarioBuilder

    res = run_scenario(ScenarioBuilder().action("state").action("cause").stop().build(), FileRecorder)
    assert [s.to_json()["returned_type"] for s in res.steps] == ["State", "Cause", "bool"]


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_users_ctrl_c_still_stops_the_run(tmp_path: Path):
    """A real SIGINT reaches the main thread, which only waits for the case's worker: the run
    stops (not graded, exit 2) although the recorder blocks and there is no case budget."""
    import signal
    import time

    # -X faulthandler: should the run ever hang after the SIGINT, SIGABRT makes it print every
    # thread's stack, and the failure shows where it waited. The run starts with SIGINT's default
    # action, as a user's terminal gives it: a test session started in the background of a
    # non-interactive shell ignores SIGINT, and a child would inherit that and never see the signal.
    p = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "callsim", "conformance", "--recorder-factory",
                          "tests.faulty.harness:StopSleepsForever", "--report", str(tmp_path / "r"), "-q",
                          "--case-timeout", "0", "-k", "api/stop-when-idle"],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=_default_sigint)  # noqa: PLW1509 - a single-threaded fork in a test
    time.sleep(20)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGABRT)
        out, err = p.communicate(timeout=60)
        pytest.fail(f"the run did not stop within 120 s of the SIGINT (this process: SIGINT handler "
                    f"{signal.getsignal(signal.SIGINT)!r}, blocked {signal.pthread_sigmask(signal.SIG_BLOCK, [])}); "
                    f"its stacks:\n{err[:6000].decode(errors='replace')}")
    assert p.returncode not in (0, 1), (out[-2000:], err[-2000:])
