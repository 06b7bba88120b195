"""Scenario errors are the scenario's: a typo'd ``[expect]`` key, a wrong ``[expect]`` type, a
misspelt or surplus action argument or an unknown action is a ``ScenarioError`` at load time
(file, key, reason, and the closest valid name), and ``callsim run`` (with or without
``--check``) prints it as one line and exits 2, instead of passing, or of failing the recorder.

Action arguments are checked against ``callsim.contract.API_METHODS`` and ``[expect]`` values
against ``simulator.scenario.EXPECT_KEYS``, the table ``conformance.expect`` checks with.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from callsim.contract import API_METHODS, API_RETURNS, CallState, Cause, State
from conformance.expect import CHECKS, check_expect
from conformance.grades import Grade
from simulator.runner import run_scenario
from simulator.scenario import (
    ACTION_CALLS,
    EXPECT_KEYS,
    SCENARIO_ACTIONS,
    ScenarioBuilder,
    ScenarioError,
    load_scenario,
    loads_scenario,
)

ROOT = Path(__file__).resolve().parents[1]

#: A valid scenario (the reference passes --check on it); each situation appends to it.
BASE = """\
seed = 3
[[audio]]
at_ms = 0
kind = "tone"
duration_ms = 400
freqs = [800.0]
level_dbm0 = -20

[[actions]]
call = "record"
args = { filename = "m.wav", milliseconds_max_silence = 200 }
"""
BASE_EXPECT = '\n[expect]\ncause = "SILENCE"\n'

#: situation -> (text, key, words the reason must hold)
SITUATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "typo'd expect key": (
        BASE + '\n[expect]\ncuase = "HANGUP"\n',
        "expect.cuase", ("unknown key", "did you mean 'cause'?"),
    ),
    "wrong expect type": (
        BASE + "\n[expect]\ncause = 5\n",
        "expect.cause", ("must be a cause name", "got a number 5"),
    ),
    "files as a string": (
        BASE + '\n[expect]\nfiles = "m.wav"\n',
        "expect.files", ("must be an array of file names", "got a string 'm.wav'"),
    ),
    "misspelt action argument": (
        BASE.replace("milliseconds_max_silence", "milliseconds_max_silense") + BASE_EXPECT,
        "actions[0].args.milliseconds_max_silense",
        ("record() has no parameter", "did you mean 'milliseconds_max_silence'?"),
    ),
    "unknown action name": (
        BASE.replace('call = "record"', 'call = "recrod"') + BASE_EXPECT,
        "actions[0].call", ("unknown action 'recrod'", "did you mean 'record'?"),
    ),
    "too many positional arguments": (
        BASE + '\n[[actions]]\ncall = "wait_until_finished"\nargs = [5, 6]\n' + BASE_EXPECT,
        "actions[1].args", ("wait_until_finished() takes at most 1 argument (seconds_timeout), got 2",),
    ),
}


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "callsim", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_the_base_scenario_passes() -> None:
    """The situations below differ from a scenario the reference passes only by the error."""
    from conformance.cli import check_scenario
    from recorder import FileRecorder

    code, findings = check_scenario(loads_scenario(BASE + BASE_EXPECT), FileRecorder)
    assert code == 0, [f.message for f in findings]


@pytest.mark.parametrize("situation", SITUATIONS)
def test_loader_names_file_key_and_suggestion(tmp_path: Path, situation: str) -> None:
    text, key, words = SITUATIONS[situation]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == str(path) and info.value.key == key
    for word in words:
        assert word in info.value.reason, info.value.reason


@pytest.mark.parametrize("check", [False, True], ids=["run", "run --check"])
@pytest.mark.parametrize("situation", SITUATIONS)
def test_callsim_run_exits_2_with_one_line(tmp_path: Path, situation: str, check: bool) -> None:
    text, key, words = SITUATIONS[situation]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = _run_cli("run", str(path), *(["--check"] if check else []))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{path}: {key}: "), lines[0]
    assert all(word in lines[0] for word in words), lines[0]


# -- action arguments -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "action,key,reason",
    [
        ('call = "stop"\nargs = { now = true }', "actions[0].args.now", "stop() has no parameter 'now'; its parameters: none"),
        ('call = "stop"\nargs = [1]', "actions[0].args", "stop() takes no arguments, got 1"),
        ('call = "start"\nargs = { filename = "a", seconds_timeout = 3 }', "actions[0].args.seconds_timeout",
         "start() has no parameter 'seconds_timeout'"),
        ('call = "record"\nargs = { rate = 8000 }', "actions[0].args.filename", "is required: record() has no default"),
        ('call = "record"\nargs = []', "actions[0].args.filename", "is required"),
        ('call = "record"\nargs = ["a", "alaw", 8000, 120, 0, 0, 0, false, "None", 1]', "actions[0].args",
         "record() takes at most 9 arguments"),
        ('call = "record"\nargs = "a.wav"', "actions[0].args", "must be a table (keyword arguments) or an array"),
        ('call = "sleep"\nms = 5\nargs = { ms = 5 }', "actions[0].args", "sleep takes no args"),
        ('call = "slep"\nms = 5', "actions[0].call", "did you mean 'sleep'?"),
        ('call = "record"\nargs = { filename = "a", cipher = { kye = "00", iv = "00" } }', "actions[0].args.cipher.kye",
         "did you mean 'key'?"),
    ],
)
def test_action_argument_errors(action: str, key: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(f"[[actions]]\n{action}\n", source="s.toml")
    assert info.value.key == key and reason in info.value.reason, str(info.value)


def test_argument_values_are_not_checked() -> None:
    """A bad value is the recorder's (or the cipher's) to reject at run time, so it can be
    scripted: only names and counts are the loader's."""
    s = loads_scenario('[[actions]]\ncall = "record"\nargs = { filename = "../x", rate = 1, cipher = { key = "00" } }\n'
                       '[[actions]]\ncall = "wait_until_finished"\nargs = ["soon"]\n')
    assert s.actions[0].kwargs() == {"filename": "../x", "rate": 1, "cipher": {"key": "00"}}


def test_action_names_are_the_api_and_the_scenario_actions() -> None:
    assert ACTION_CALLS == (*API_METHODS, *SCENARIO_ACTIONS)
    assert set(API_METHODS).isdisjoint(SCENARIO_ACTIONS)


def test_positional_arguments_are_the_api_parameters_in_order() -> None:
    """``args = [...]`` gives parameters in the API's order; it loads as the same keywords, so
    the run, ``to_toml`` and equality do not depend on the spelling."""
    by_position = loads_scenario('[[actions]]\ncall = "record"\nargs = ["m.wav", "s16bit", 8000, 1]\n'
                                 '[[actions]]\ncall = "wait_until_finished"\nargs = ["None"]\n')
    by_name = loads_scenario('[[actions]]\ncall = "record"\n'
                             'args = { filename = "m.wav", file_format = "s16bit", rate = 8000, seconds_timeout = 1 }\n'
                             '[[actions]]\ncall = "wait_until_finished"\nargs = { seconds_timeout = "None" }\n')
    assert by_position == by_name
    assert by_position.actions[1].kwargs() == {"seconds_timeout": None}
    assert loads_scenario(by_position.to_toml()) == by_position


def test_every_api_parameter_is_accepted_by_name_and_position() -> None:
    for call, params in API_METHODS.items():
        values = [("x.wav" if p.name == "filename" else "None" if p.default is None else p.default) for p in params]
        named = ", ".join(f"{p.name} = {_toml(v)}" for p, v in zip(params, values))
        a = loads_scenario(f'[[actions]]\ncall = "{call}"\nargs = {{ {named} }}\n')
        b = loads_scenario(f'[[actions]]\ncall = "{call}"\nargs = [{", ".join(_toml(v) for v in values)}]\n')
        assert a == b and [k for k, _ in a.actions[0].args] == [p.name for p in params]


def _toml(value: object) -> str:
    return "true" if value is True else "false" if value is False else f'"{value}"' if isinstance(value, str) else str(value)


# -- [expect] ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expect,key,reason",
    [
        ('state = "RECORDNG"', "expect.state", "did you mean 'RECORDING'?"),
        ('call_state = ["IDLE", "HUNG_UP"]', "expect.call_state[1]", "must be a call state name"),
        ('cause = []', "expect.cause", "got an array []"),
        ('cause = ["*"]', "expect.cause[0]", "must be a cause name"),
        ('audio_detected = "yes"', "expect.audio_detected", "must be true, false"),
        ("end_ms = [5]", "expect.end_ms", "two numbers"),
        ("end_ms = [9, 5]", "expect.end_ms", "lo <= hi"),
        ('absent = ["a", 1]', "expect.absent[1]", "must be a file name"),
        ('returned = ["SILENSE"]', "expect.returned[0]", "did you mean 'SILENCE'?"),
        ("returned = [true]", "expect.returned[0]", "action 0 is record, which returns a cause name"),
        ('returned = ["*", "IDLE"]', "expect.returned[1]", "action 1 is sleep, which returns nothing"),
        ('returned = ["*", "*", "*"]', "expect.returned", "has 3 entries but the script has 2 actions"),
        ('raised = ["", "Hang up"]', "expect.raised[1]", "must be an exception class name"),
        ('raised = "Hangup"', "expect.raised", "must be an array with one entry per action"),
        ('clauses = "SPEC-RECORD"', "expect.clauses", "non-empty array of clause IDs"),
        ('clauses = ["record"]', "expect.clauses[0]", "clause ID"),
        ("expect = 3", "expect", "must be a table"),
    ],
)
def test_expect_errors(expect: str, key: str, reason: str) -> None:
    text = '[[actions]]\ncall = "record"\nargs = ["m.wav"]\n[[actions]]\ncall = "sleep"\nms = 5\n'
    text = expect + "\n" + text if key == "expect" else text + "[expect]\n" + expect + "\n"
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, source="s.toml")
    assert info.value.key == key and reason in info.value.reason, str(info.value)


def test_expect_accepts_every_documented_form() -> None:
    s = loads_scenario(
        '[[actions]]\ncall = "start"\nargs = ["m.wav"]\n[[actions]]\ncall = "state"\n'
        '[[actions]]\ncall = "audio_detected_in_recording"\n[[actions]]\ncall = "sleep"\nms = 5\n'
        '[expect]\ncause = ["SILENCE", "TIMEOUT"]\nstate = "*"\ncall_state = "ANSWERED"\naudio_detected = [true, false]\n'
        'end_ms = [0, 10.5]\nfiles = []\nabsent = ["x.wav"]\nreturned = [[true, false], "RECORDING", "*", "*"]\n'
        'raised = ["", ["Hangup", "callsim.contract.Error"], "*"]\nclauses = ["SPEC-RECORD", "SD-TIES"]\n'
    )
    assert list(s.expected()) == ["cause", "state", "call_state", "audio_detected", "end_ms", "files", "absent",
                                  "returned", "raised", "clauses"]


def test_arrays_of_two_names_round_trip_as_arrays() -> None:
    """``to_toml`` writes a frozen array of 2-arrays back as arrays (it once wrote
    ``raised = [["Hangup", "Error"]]`` as the table ``{Hangup = "Error"}``, which no longer
    loads), and a cipher table back as a table."""
    s = loads_scenario(
        '[[actions]]\ncall = "start"\nargs = { filename = "a", cipher = { key = "' + "0" * 32 + '", iv = "' + "1" * 32
        + '" } }\n[[actions]]\ncall = "stop"\n[expect]\nraised = [["Hangup", "Error"]]\nreturned = [[true, false]]\n'
    )
    again = loads_scenario(s.to_toml())
    assert again == s and again.expected()["raised"] == (("Hangup", "Error"),)
    assert again.actions[0].kwargs()["cipher"] == {"key": "0" * 32, "iv": "1" * 32}


def test_enum_values_come_from_the_contract() -> None:
    for key, enum in (("cause", Cause), ("state", State), ("call_state", CallState)):
        for member in enum:
            loads_scenario(f'[expect]\n{key} = "{member.name}"\n')
    for call, types in API_RETURNS.items():
        for t in types:
            for value in ([m.name for m in t] if t in (Cause, State) else [True, False] if t is bool else []):
                args = ' args = ["x"]' if any(p.name == "filename" for p in API_METHODS[call]) else ""
                loads_scenario(f'[[actions]]\ncall = "{call}"\n{args}\n[expect]\nreturned = [{_toml(value)}]\n')


def test_every_expect_key_has_its_check() -> None:
    """conformance.expect checks with the loader's table: every kind of comparison is there."""
    assert {spec.checks for spec in EXPECT_KEYS.values()} <= set(CHECKS)


def test_check_expect_reports_each_key() -> None:
    """One mismatch per key of the table (except clauses, which labels them)."""
    s = (ScenarioBuilder(seed=1).tone(0, 400, [800.0], -20).record(filename="m.wav", milliseconds_max_silence=200)
         .expect(cause="HANGUP", state="RECORDING", call_state="IDLE", audio_detected=False, end_ms=[0, 1],
                 files=["other.wav"], absent=["m.wav"], returned=["SIZE"], raised=["Hangup"], clauses=["SD-TIES"])
         .build())
    from recorder import FileRecorder

    findings = check_expect(s, run_scenario(s, FileRecorder))
    assert len(findings) == len(EXPECT_KEYS) - 1
    # graded like the suite: the reference does what the text allows, so each mismatch with a
    # table that states other decisions is NON-STRICT on the decision the table names
    assert all(f.grade is Grade.NON_STRICT and f.clauses == ("SD-TIES",) for f in findings), findings


def test_scenario_error_is_one_line() -> None:
    assert "\n" not in str(ScenarioError("a.toml", "k", "first\nsecond"))


# -- the format reference agrees with the code ------------------------------------------------
def _table_rows(section: str) -> list[list[str]]:
    text = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines()
            if line.startswith("| ")]
    return rows[2:]  # after the header and the --- row


def test_doc_lists_the_expect_keys_in_order_with_their_values() -> None:
    rows = [[c.replace("`", "") for c in r] for r in _table_rows("`[expect]`")]
    assert [r[0] for r in rows] == list(EXPECT_KEYS)
    assert [r[1] for r in rows] == [spec.value for spec in EXPECT_KEYS.values()]


def test_doc_lists_the_actions_and_their_parameters() -> None:
    rows = {re.sub(r"`", "", r[0]): r[1] for r in _table_rows("`[[actions]]`")}
    assert list(rows) == list(ACTION_CALLS)
    for call, params in API_METHODS.items():
        named = re.findall(r"`(\w+)` \(", rows[call]) + re.findall(r"^`(\w+)`", rows[call])
        if call == "start":  # "as record without seconds_timeout"
            assert "without `seconds_timeout`" in rows[call]
            continue
        assert sorted(set(named)) == sorted(p.name for p in params), call
