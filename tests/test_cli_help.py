"""The ``callsim`` command explains itself: ``--version``, help with examples and exit status for
every sub-command, help for every positional argument, the right defaults, one-line errors with
"did you mean" for a mistyped report folder, case ID or factory path, and an encrypted file
described as one by ``callsim run``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import callsim
from callsim.cli import build_parser, main
from callsim.wiring import FactoryError, load_factory

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("run", "conformance", "replay", "plot")


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"callsim {callsim.__version__}"


@pytest.mark.parametrize("argv", [(), *[(s,) for s in SUBCOMMANDS]])
def test_every_help_has_examples_and_the_exit_status(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]):
    text = help_of(capsys, *argv)
    assert "examples:\n  callsim " in text, text
    assert "exit status" in text
    if argv:  # the examples name this command
        assert f"callsim {argv[0]} " in text.split("examples:", 1)[1]


def test_every_positional_argument_has_help():
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            if not action.option_strings:
                assert action.help, f"callsim {name}: positional {action.dest} has no help"


def test_replay_documents_its_real_default(capsys: pytest.CaptureFixture[str]):
    text = " ".join(help_of(capsys, "replay").split())
    assert "the factory the report names" in text


def test_a_mistyped_report_folder_is_one_line_with_a_suggestion(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.json").write_text(json.dumps({"cases": [{"id": "limits/silence-basic"}]}))
    (tmp_path / "notes").mkdir()
    monkeypatch.chdir(tmp_path)
    for argv, needle in ((["replay", "repor", "x"], "no report folder 'repor' (did you mean 'report'?)"),
                         (["replay", "notes", "x"], "'notes' is not a conformance report"),
                         (["replay", "report", "limits/silence-basik"], "(did you mean 'limits/silence-basic'?)")):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1 and needle in err, err
        assert "Traceback" not in err and "Errno" not in err


@pytest.mark.parametrize("spec, hint", [
    ("recorderr:FileRecorder", "(did you mean 'recorder'?)"),
    ("recorder:FileRecordr", "(did you mean 'FileRecorder'?)"),
    ("tests.faulty.causs:SilenceReportedAsTimeout", "(did you mean 'causes'?)"),
])
def test_factory_paths_get_a_suggestion(spec: str, hint: str):
    with pytest.raises(FactoryError) as exc:
        load_factory(spec)
    assert str(exc.value).endswith(hint) and "\n" not in str(exc.value)


def test_run_describes_an_encrypted_file(capsys: pytest.CaptureFixture[str]):
    assert main(["run", str(ROOT / "fixtures" / "scenarios" / "encrypted-hangup.toml")]) == 0
    out = capsys.readouterr().out
    assert "encrypted (AES-CBC" in out and "None Hz" not in out and "unknown (encrypted?)" not in out
