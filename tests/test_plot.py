"""``callsim plot`` and ``callsim.plot``: the command writes a PNG for library scenarios,
``plot_run`` draws any run (the report's per-failure plots), the frame classification matches the
SD-SILENCE rule at its boundary, the recorder's jobs read from the log equal the jobs inferred
from API returns alone, and a missing matplotlib gives a clear message and exit status 2.
"""

from __future__ import annotations

import argparse
import builtins
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from callsim.fixtures import scenario_path

from callsim.cli import main
from callsim.plot import SILENCE_DBM0, frame_levels, plot_run, plot_scenario, recorder_spans
from recorder import FileRecorder
from simulator.runner import RunResult, run_scenario
from simulator.scenario import ScenarioBuilder, load_scenario

needs_mpl = pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None, reason="matplotlib not installed (callsim[plot])"
)
PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG, "not a PNG file"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


@needs_mpl
@pytest.mark.parametrize("name", ["bargein-dtmf-in-file.toml", "hold-during-recording.toml"])
def test_cli_plot_writes_png(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`callsim plot SCENARIO -o out.png` exits 0 and writes a non-empty, wide PNG."""
    out = tmp_path / "sub" / "timeline.png"
    assert main(["plot", str(scenario_path(name)), "-o", str(out)]) == 0
    w, h = _png_size(out)
    assert w >= 1200 and h >= 700
    assert out.stat().st_size > 20_000  # a blank canvas compresses to far less
    assert str(out) in capsys.readouterr().out


@needs_mpl
def test_plot_run_for_a_failing_case(tmp_path: Path) -> None:
    """plot_run draws a run of another recorder (no job log entries) with a title, to any path."""
    import tests.faulty as faulty

    s = load_scenario(scenario_path("stop-and-hangup-together.toml"))
    result = run_scenario(s, faulty.HangupReportedAsAborted)
    path = plot_run(s, result, tmp_path / "case.png", title="FAIL stop-and-hangup-together")
    assert path == tmp_path / "case.png"
    assert _png_size(path)[0] > 0


@needs_mpl
def test_plot_run_survives_an_empty_result(tmp_path: Path) -> None:
    """A crashed run (no steps, no log, no final state) still gives a picture of the audio."""
    s = ScenarioBuilder(seed=3).speech(0, 1000).build()
    path = plot_run(s, RunResult([], {}, [], []), tmp_path / "empty.png")
    assert path.read_bytes()[:8] == PNG


def test_frame_levels_boundary() -> None:
    """SD-SILENCE at its boundary: energy sum(x^2) >= 1 318 226 per 160-sample frame is audio.

    A constant frame of amplitude a has energy 160 a^2: a = 91 gives 1 324 960 (audio), a = 90
    gives 1 296 000 (silence); the partial frame at the end is not classified.
    """
    x = np.concatenate([np.full(160, 91), np.full(160, 90), np.zeros(160), np.full(100, 5000)]).astype(np.int16)
    level, active = frame_levels(x)
    assert active.tolist() == [True, False, False]
    # level in dBm0: 20 log10(a / 16141.167...)
    assert level[0] == pytest.approx(20 * np.log10(91 / 16141.167233665292), abs=1e-9)
    assert level[1] < SILENCE_DBM0 < level[0]
    assert level[2] == -80.0


def test_recorder_spans_from_log_and_inferred_agree() -> None:
    """The reference's job entries and the API-return inference give the same jobs and causes."""
    for name, cause in [("hold-during-recording.toml", "HANGUP"), ("duration-from-samples.toml", "ABORTED"),
                        ("voicemail.toml", "SILENCE")]:
        result = run_scenario(load_scenario(scenario_path(name)), FileRecorder)
        logged = recorder_spans(result.log, result.final)
        bare = [e for e in result.log if e["kind"] not in ("job-start", "job-end")]
        inferred = recorder_spans(bare, result.final)
        assert [(j.start, j.end, j.cause, j.file) for j in logged] == [(j.start, j.end, j.cause, j.file) for j in inferred]
        assert logged[-1].cause == cause and not logged[-1].inferred and inferred[-1].inferred
        assert logged[-1].end == result.final["end_ms"] / 1000


def test_recorded_end_is_whole_frames() -> None:
    """The zoom's 'what the file holds' ends on the last whole frame (stop at 2345 ms -> 2340 ms)."""
    result = run_scenario(load_scenario(scenario_path("duration-from-samples.toml")), FileRecorder)
    (job,) = recorder_spans(result.log, result.final)
    assert job.end == pytest.approx(2.345) and job.recorded_end == pytest.approx(2.340)


def test_missing_matplotlib_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without matplotlib, `callsim plot` says to install callsim[plot] and exits 2."""
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kw: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    args = argparse.Namespace(scenario=str(scenario_path("voicemail.toml")), output="x.png", recorder_factory=None)
    assert plot_scenario(args, FileRecorder) == 2
    assert "callsim[plot]" in capsys.readouterr().err


@needs_mpl
def test_bad_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario file that does not load is a usage error (2), with the loader's message."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[call]\nstate = 'NOPE'\n")
    assert main(["plot", str(bad), "-o", str(tmp_path / "o.png")]) == 2
    assert "call.state" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.skipif(shutil.which("file") is None, reason="file(1) not installed")
@needs_mpl
def test_png_is_recognised_by_file(tmp_path: Path) -> None:
    """An independent reader (file(1)) sees a PNG image of the size the header says."""
    import subprocess

    out = tmp_path / "v.png"
    assert main(["plot", str(scenario_path("line-noise-silence.toml")), "-o", str(out)]) == 0
    desc = subprocess.run(["file", str(out)], capture_output=True, text=True, check=True).stdout
    w, h = _png_size(out)
    assert "PNG image data" in desc and f"{w} x {h}" in desc
