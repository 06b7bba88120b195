"""The recorder wire protocol (docs/protocol.md): the isolated reference, the JavaScript example,
and recorder processes that break the rules.

The default run keeps to a handful of cases per recorder (starting processes is slow); the
whole-suite comparisons are under ``-m slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from callsim.protocol import CommandFactory
from callsim.protocol.schema import validate_incoming, validate_outgoing
from callsim.wiring import resolve_recorder
from conformance.clauses import CLAUSES
from conformance.suite import check_recorder

ROOT = Path(__file__).resolve().parents[1]
MISBEHAVE = ROOT / "tests" / "protocol_misbehave.py"
JS = ROOT / "examples" / "js-recorder" / "recorder.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs nodejs)")

#: A few cases that touch every kind of message: audio with a silence limit, start/stop, a
#: hangup mid-job, out-of-band barge-in, a store fault, bad arguments and the enums.
SUBSET = ("examples/record-silence|examples/start-stop|limits/size-alaw|limits/bargein-oob|"
          "limits/hangup-mid-record|faults/write-middle|api/wait-timeout-leaves-job|args/bad-arguments")


def _grades(report: Any) -> dict[str, str]:
    return {c.id: c.grade.value for c in report.cases}


def _env() -> dict[str, str]:
    """The child's environment: this tree first on the path, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _isolated() -> Any:
    return CommandFactory([sys.executable, "-m", "callsim", "host", "recorder:FileRecorder"], env=_env(),
                          label="callsim host recorder:FileRecorder")


# -- the isolated reference grades exactly as in process -------------------------------------------------
def test_isolated_reference_grades_as_in_process() -> None:
    from recorder import FileRecorder

    iso = _isolated()
    try:
        isolated = check_recorder(iso, select=SUBSET, with_properties=False)
    finally:
        iso.close()
    inproc = check_recorder(FileRecorder, select=SUBSET, with_properties=False)
    assert len(inproc.cases) >= 8
    assert _grades(isolated) == _grades(inproc)
    assert isolated.summary()["FAIL"] == 0
    for a, b in zip(isolated.cases, inproc.cases):
        assert [f.to_json() for f in a.findings] == [f.to_json() for f in b.findings], a.id


@pytest.mark.slow
def test_isolated_reference_whole_suite_matches_in_process() -> None:
    """Every case and property of the ci profile, in process and through ``callsim host``."""
    from recorder import FileRecorder

    iso = _isolated()
    try:
        isolated = check_recorder(iso)
    finally:
        iso.close()
    inproc = check_recorder(FileRecorder)
    assert _grades(isolated) == _grades(inproc)
    assert isolated.summary()["FAIL"] == 0


def test_isolated_run_is_byte_identical() -> None:
    """``callsim run --isolate`` writes the same files, steps and final values as in process."""
    from callsim.fixtures import scenario_path

    from recorder import FileRecorder
    from simulator.runner import run_scenario
    from simulator.scenario import load_scenario

    iso = _isolated()
    try:
        for name in ("voicemail.toml", "bargein-dtmf-in-file.toml"):
            s = load_scenario(scenario_path(name))
            a, b = run_scenario(s, iso), run_scenario(s, FileRecorder)
            assert a.to_json() == b.to_json() and a.contents == b.contents, name
    finally:
        iso.close()


def test_what_the_harness_sends_and_receives_matches_the_schemas() -> None:
    """A transcript of a run through the host: every line each side wrote validates against its
    schema (the harness checks what it receives itself; this checks what it sends)."""
    from callsim.fixtures import scenario_path

    from simulator.runner import run_scenario
    from simulator.scenario import load_scenario

    tee = ROOT / "tests" / "protocol_tee.py"
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"callsim-tee-{os.getpid()}.jsonl"
    f = CommandFactory([sys.executable, str(tee), str(log), sys.executable, "-m", "callsim", "host",
                        "recorder:FileRecorder"], env=_env())
    try:
        run_scenario(load_scenario(scenario_path("voicemail.toml")), f)
    finally:
        f.close()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    log.unlink()
    kinds = {(d, m["type"]) for d, m in lines}
    assert {("in", "invoke"), ("in", "scan"), ("in", "commit"), ("out", "wait"), ("out", "store_write")} <= kinds
    for direction, msg in lines:
        (validate_outgoing if direction == "in" else validate_incoming)(msg)


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    from callsim.protocol.schema import HARNESS_MESSAGES, IMPLEMENTATION_MESSAGES

    for table in (IMPLEMENTATION_MESSAGES, HARNESS_MESSAGES):
        for schema in table.values():
            Draft202012Validator.check_schema(schema)
    with pytest.raises(ValueError, match="stop"):
        validate_incoming({"type": "scanned", "re": 1, "stop": -1})
    with pytest.raises(ValueError, match="not a message type"):
        validate_incoming({"type": "invoke", "id": 1})


# -- recorder processes that break the rules ------------------------------------------------------------
MODES = {
    "never": ("PROTOCOL-TIMEOUT", "no reply within 3 s while waiting for the reply to hello"),
    "stall": ("PROTOCOL-TIMEOUT", "no reply within 1 s while waiting for the reply to invoke"),
    "exit": ("PROTOCOL-EXIT", "exited with status 3"),
    "crash": ("PROTOCOL-EXIT", "killed by SIGSEGV"),
    "garbage": ("PROTOCOL-MESSAGE", "not a JSON message line"),
    "order": ("PROTOCOL-ORDER", "a reply to request"),
    "flood": ("PROTOCOL-FLOOD", "a line longer than"),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_broken_process_fails_each_case_with_a_clear_reason(mode: str) -> None:
    clause, reason = MODES[mode]
    f = CommandFactory([sys.executable, str(MISBEHAVE), mode], reply_timeout=1, max_line=1 << 20)
    report = check_recorder(f, select="examples/record-silence|examples/start-stop", with_properties=False)
    f.close()
    assert len(report.cases) == 2
    for case in report.cases:  # each case on its own: the second starts with a fresh process
        assert case.grade.value == "FAIL", case.id
        [finding] = case.findings
        assert finding.clauses == (clause,)
        assert reason in finding.message
        assert finding.quote == CLAUSES[clause].quote
        assert finding.evidence["clause"] == clause
    ev = report.cases[0].findings[0].evidence
    if mode == "crash":
        assert "segmentation fault in encoder" in ev["stderr_tail"]
    if mode in ("garbage", "order", "flood"):
        assert 0 < len(ev["offending"]) <= 330


def test_a_broken_process_run_completes_and_exits_1(tmp_path: Path) -> None:
    """Through the command line: every selected case FAILs on the clause, the report is written
    with the command in each replay line, and the exit status is 1."""
    cmd = f"{sys.executable} {MISBEHAVE} crash"
    proc = subprocess.run(
        [sys.executable, "-m", "callsim", "conformance", "--recorder-command", cmd, "--reply-timeout", "2",
         "-k", "examples/record-silence or examples/start-stop", "--report", str(tmp_path / "r"), "-q"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "r" / "index.json").read_text())
    assert doc["recorder_command"] == cmd and doc["summary"]["FAIL"] == 2
    for case in doc["cases"]:
        assert case["grade"] == "FAIL"
        assert "--recorder-command" in case["replay"] and "protocol_misbehave.py crash" in case["replay"]
        assert case["findings"][0]["clauses"] == ["PROTOCOL-EXIT"]
        assert case["findings"][0]["quote"] == CLAUSES["PROTOCOL-EXIT"].quote
    assert "PROTOCOL-EXIT" in proc.stdout
    # the replay of a case of that report runs the same command again (named in index.json)
    rep = subprocess.run([sys.executable, "-m", "callsim", "replay", str(tmp_path / "r"), "examples/start-stop"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert rep.returncode == 1 and "PROTOCOL-EXIT" in rep.stdout + rep.stderr, rep.stdout + rep.stderr


def test_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    from callsim.wiring import FactoryError

    with pytest.raises(FactoryError, match="not both"):
        resolve_recorder("recorder:FileRecorder", command="x")
    with pytest.raises(FactoryError, match="empty"):
        resolve_recorder(None, command="  ")
    with pytest.raises(FactoryError, match="no module"):
        resolve_recorder("nosuch.module:X", isolate=True)
    with pytest.raises(FactoryError, match="reply-timeout"):
        resolve_recorder(None, command="node x.js", reply_timeout=0)
    with pytest.raises(FactoryError, match="no program"):
        resolve_recorder(None, command="./no-such-recorder --flag")
    proc = subprocess.run([sys.executable, "-m", "callsim", "run", str(ROOT / "fixtures" / "scenarios" / "voicemail.toml"),
                           "--recorder-command", "'unbalanced"], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "recorder command" in proc.stderr


# -- the JavaScript example ---------------------------------------------------------------------------
@needs_node
def test_js_example_passes_a_subset_with_zero_fail() -> None:
    f = CommandFactory([NODE, str(JS)])  # type: ignore[list-item]
    try:
        report = check_recorder(f, select=SUBSET + "|formats/alaw|formats/s16bit/8000|cipher/aes-128", with_properties=False)
    finally:
        f.close()
    grades = _grades(report)
    assert report.summary()["FAIL"] == 0, [c.summary() for c in report.cases if c.grade.value == "FAIL"]
    assert grades["examples/record-silence"] == "PASS" and grades["limits/bargein-oob"] == "PASS"
    assert "UNSUPPORTED" in grades.values()  # formats it leaves out: declared, not failed
    assert f.implementation == {} or f.implementation["name"] == "js-recorder"


@needs_node
@pytest.mark.slow
def test_js_example_passes_the_whole_suite(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "callsim", "conformance", "--recorder-command", f"{NODE} {JS}",
         "--report", str(tmp_path / "r"), "-q"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=3600)
    doc = json.loads((tmp_path / "r" / "index.json").read_text())
    assert doc["summary"]["FAIL"] == 0 and doc["summary"]["PASS"] > 100, proc.stdout[-3000:]
    assert proc.returncode == 0
