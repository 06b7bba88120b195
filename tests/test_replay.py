"""Replay: a failing case's replay line reproduces the failure,
`callsim conformance` exits 1 when a case FAILs (0 for the reference), and the report keeps its
contract (tests/test_verdict.py covers exit status 2 and the rest of the verdict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def callsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callsim", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def faulty_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rep")
    r = callsim("conformance", "--recorder-factory", "tests.faulty:SilenceReportedAsTimeout", "--report", str(d),
                "-q", "-k", "silence or faults_write_first")
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    return d


def test_report_contract(faulty_report: Path):
    doc = json.loads((faulty_report / "index.json").read_text())
    assert {"implementation", "summary", "cases", "suite_version", "spec_decisions_version"} <= set(doc)
    assert doc["summary"]["FAIL"] > 0
    for c in doc["cases"]:
        assert {"id", "clauses", "grade", "replay"} <= set(c)
    assert (faulty_report / "index.html").read_text().count("FAIL") > 0
    assert "<testsuite" in (faulty_report / "junit.xml").read_text()


def test_replay_line_reproduces_the_failure(faulty_report: Path):
    doc = json.loads((faulty_report / "index.json").read_text())
    failing = [c for c in doc["cases"] if c["grade"] == "FAIL" and c["replay"].startswith("callsim run")]
    assert failing
    argv = failing[0]["replay"].split()[1:]
    r = callsim(*argv)
    assert r.returncode == 1 and "FAIL" in r.stdout
    # the same scenario passes with the reference recorder
    i = argv.index("--recorder-factory")
    ok = callsim(*(argv[:i] + argv[i + 2:]))
    assert ok.returncode == 0, ok.stdout


def test_callsim_replay_by_case_id(faulty_report: Path):
    doc = json.loads((faulty_report / "index.json").read_text())
    case = next(c for c in doc["cases"] if c["grade"] == "FAIL")
    r = callsim("replay", str(faulty_report), case["id"])
    assert r.returncode == 1 and "FAIL" in r.stdout


def test_conformance_exit_zero_for_reference(tmp_path: Path):
    # "-k limits_silence" once selected nothing here and still exited 0; case IDs use "/" and "-"
    r = callsim("conformance", "--report", str(tmp_path / "r"), "-q", "-k", "limits/silence")
    assert r.returncode == 0, r.stdout[-2000:]
    summary = json.loads((tmp_path / "r" / "index.json").read_text())["summary"]
    assert summary["FAIL"] == 0 and summary["total"] >= 4


def test_expected_failures_file_turns_fail_into_xfail(tmp_path: Path, faulty_report: Path):
    doc = json.loads((faulty_report / "index.json").read_text())
    failing = sorted(c["id"] for c in doc["cases"] if c["grade"] == "FAIL")
    xf = tmp_path / "xfail.txt"
    xf.write_text("# known\n" + "\n".join(failing) + "\n")
    out = tmp_path / "rep"
    r = callsim("conformance", "--recorder-factory", "tests.faulty:SilenceReportedAsTimeout", "--report", str(out),
                "-q", "-k", "silence or faults_write_first", "--xfail", str(xf))
    assert r.returncode == 0, r.stdout[-2000:]
    summary = json.loads((out / "index.json").read_text())["summary"]
    assert summary["FAIL"] == 0 and summary["XFAIL"] == len(failing)
