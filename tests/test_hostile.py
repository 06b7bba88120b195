"""Hostile inputs: every bad scenario value, audio file and output path is a clear error at load
or before anything runs; WAV input costs bounded memory; long calls plot in bounded memory;
nothing is written outside the folders the user named; an implementation's failure is reported
as the implementation's.

Each test names the item of the "Why" list it covers (docs/reliability.md, section
"Hostile inputs", has the figures). The generated-TOML property runs with a bounded number of
examples by default and longer under ``-m slow``.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import tomli_w
from callsim.fixtures import audio_path
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from callsim.cli import main
from callsim.contract import API_METHODS, InvalidNameError
from simulator.audio import SPEECH_CLIPS, Timeline
from simulator.build import build_audio
from simulator.clock import DEFAULT_LIMIT, Clock, SimulationLimit
from simulator.runner import RecorderFailed, run_scenario
from simulator.scenario import (
    ACTION_CALLS,
    AUDIO_KINDS,
    EXPECT_KEYS,
    MAX_SCENARIO_MS,
    ScenarioError,
    load_scenario,
    loads_scenario,
)
from simulator.store import MediaStore, StoreError
from simulator.wavsource import BLOCK, WavInputError, check_wav, read_span

I64 = 2**63 - 1
DAY_MS = 86_400_000


def write_toml(folder: Path, text: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(folder: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_toml(folder, text))
    return info.value


def wav_header(rate: int, channels: int, bits: int, data_bytes: int) -> bytes:
    """A canonical PCM WAV header declaring ``data_bytes`` of data (written by hand: libsndfile
    refuses to write the absurd rates these tests need)."""
    align = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate,
            rate * align, align, bits) + b"data" + struct.pack("<I", data_bytes))


# --------------------------------------------------------------------------- values that load but crashed

FILE_ITEM = '[[audio]]\nat_ms = 0\nkind = "file"\npath = "tone.wav"\n'

#: situation -> (scenario text, key of the error, words the reason holds)
BAD_VALUES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "seed of 2**64": (f"seed = {2**64}\n", "seed", ("must be <=",)),
    "negative seed": ("seed = -1\n", "seed", (">= 0",)),
    "audio = 5": ("audio = 5\n", "audio", ("array of tables",)),
    "changes = 5": ("[call]\nchanges = 5\n", "call.changes", ("array of tables",)),
    "at_ms of 2**63-1": (f'[[audio]]\nat_ms = {I64}\nkind = "silence"\nduration_ms = 5\n', "audio[0].at_ms", ("7 days",)),
    "duration of 2**63-1": (f'[[audio]]\nat_ms = 0\nkind = "noise"\nduration_ms = {I64}\nlevel_dbm0 = -20\n',
                            "audio[0].duration_ms", ("7 days",)),
    "hangup of 2**63-1": (f"[call]\nhangup_ms = {I64}\n", "call.hangup_ms", ("7 days",)),
    "change of 2**63-1": (f'[[call.changes]]\nat_ms = {I64}\nstate = "IDLE"\n', "call.changes[0].at_ms", ("7 days",)),
    "sleep of 2**63-1": (f'[[actions]]\ncall = "sleep"\nms = {I64}\n', "actions[0].ms", ("7 days",)),
    "10-year sleep": (f'[[actions]]\ncall = "sleep"\nms = {3650 * DAY_MS}\n', "actions[0].ms", ("7 days",)),
    "visibility delay of 2**63-1": (f"[store]\nvisibility_delay_ms = {I64}\n", "store.visibility_delay_ms", ("7 days",)),
    "item ending after 7 days": (f'[[audio]]\nat_ms = {6 * DAY_MS}\nkind = "silence"\nduration_ms = {2 * DAY_MS}\n',
                                 "audio[0]", ("ends at", "7 days")),
    "DTMF ending after 7 days": (f'[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "12"\ntone_ms = {4 * DAY_MS}\n',
                                 "audio[0]", ("7 days",)),
    "speech with clips = []": ('[[audio]]\nat_ms = 0\nkind = "speech"\nduration_ms = 100\nclips = []\n',
                               "audio[0].clips", ("must not be empty",)),
    "level_dbm0 = 100000": ('[[audio]]\nat_ms = 0\nkind = "noise"\nduration_ms = 100\nlevel_dbm0 = 100000\n',
                            "audio[0].level_dbm0", ("from -200 to 30 dBm0",)),
    "level_dbm0 beyond float": (f'[[audio]]\nat_ms = 0\nkind = "noise"\nduration_ms = 100\nlevel_dbm0 = {10**400}\n',
                                "audio[0].level_dbm0", ("finite",)),
    "twist_db = 1e300": ('[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "5"\ntwist_db = 1e300\n',
                         "audio[0].twist_db", ("high tone",)),
    "freq_offset_pct = 1e306": ('[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "5"\nfreq_offset_pct = 1e306\n',
                                "audio[0].freq_offset_pct", ("outside (0, 4000) Hz",)),
    "high offset past Nyquist": ('[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "D"\nhigh_offset_pct = 150\n',
                                 "audio[0].high_offset_pct", ("1633 Hz tone",)),
    "offset to zero Hz": ('[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "1"\nlow_offset_pct = -100\n',
                          "audio[0].low_offset_pct", ("697 Hz tone to 0 Hz",)),
    "file gain of 1e6 dB": (FILE_ITEM + "level_db = 1e6\n", "audio[0].level_db", ("from -200 to 60 dB",)),
    "nested arrays in an argument": ('[[actions]]\ncall = "record"\nargs = { filename = "m.wav", max_bytes = [[1, 2], [3]] }\n',
                                     "actions[0].args.max_bytes", ("single value",)),
    "array of pairs as arguments": ('[[actions]]\ncall = "record"\nargs = [["filename", "m.wav"], ["max_bytes", 5]]\n',
                                    "actions[0].args[0]", ("single value",)),
    "a table as an argument": ('[[actions]]\ncall = "record"\nargs = { filename = { a = 1 } }\n',
                               "actions[0].args.filename", ("only cipher takes a table",)),
    "cipher key not a string": ('[[actions]]\ncall = "record"\nargs = { filename = "m.wav", cipher = { key = [1], iv = "00" } }\n',
                                "actions[0].args.cipher.key", ("must be a string",)),
    "too many tone frequencies": ('[[audio]]\nat_ms = 0\nkind = "tone"\nduration_ms = 5\nlevel_dbm0 = -20\nfreqs = ['
                                  + ", ".join(["440.0"] * 33) + "]\n", "audio[0].freqs", ("at most 32",)),
    "100,001 DTMF digits": ('[[audio]]\nat_ms = 0\nkind = "dtmf"\ntone_ms = 1\ngap_ms = 0\ndigits = "'
                            + "5" * 100_001 + '"\n', "audio", ("at most 100000",)),
    "10,001 audio items": ('[[audio]]\nat_ms = 0\nkind = "silence"\nduration_ms = 1\n' * 10_001, "audio", ("at most 10000",)),
    "an integer of 5,000 digits": ("seed = " + "9" * 5000 + "\n", "(syntax)", ("4300 digits",)),
    "arrays nested 100,000 deep": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "(syntax)", ("nested too deeply",)),
}


@pytest.mark.parametrize("situation", list(BAD_VALUES))
def test_values_that_crashed_at_run_time_are_load_errors(situation: str, tmp_path: Path) -> None:
    """Why, item 1: each value is a ScenarioError naming the file, the key and the reason."""
    sf.write(tmp_path / "tone.wav", 0.1 * np.sin(np.arange(800) * 0.3), 8000, subtype="PCM_16")
    text, key, words = BAD_VALUES[situation]
    err = load_error(tmp_path, text)
    assert err.key == key, str(err)
    assert str(tmp_path / "s.toml") in str(err)
    for w in words:
        assert w in err.reason, str(err)
    assert "\n" not in str(err)


def test_limits_themselves_are_accepted(tmp_path: Path) -> None:
    """The edges: seed 2**64-1, an item ending exactly at 7 days, a 7-day sleep, levels at the
    range ends, a twist and an offset that stay in range."""
    text = (f"seed = {2**64 - 1}\n"
            f'[[audio]]\nat_ms = {MAX_SCENARIO_MS - 10}\nkind = "noise"\nduration_ms = 10\nlevel_dbm0 = 30\n'
            '[[audio]]\nat_ms = 0\nkind = "dtmf"\ndigits = "D"\nlevel_dbm0 = -20\ntwist_db = 50\nhigh_offset_pct = 144\n'
            f'[[actions]]\ncall = "sleep"\nms = {MAX_SCENARIO_MS}\n')
    s = load_scenario(write_toml(tmp_path, text))
    tl = build_audio(s)
    assert tl.end == MAX_SCENARIO_MS * 8
    x = tl.render(MAX_SCENARIO_MS * 8 - 80, MAX_SCENARIO_MS * 8)
    assert x.dtype == np.int16 and x.any()


def test_the_clock_limit_covers_every_legal_wait() -> None:
    """Why, item 4: the clock's limit is per blocking call and longer than the longest legal wait
    (7 days), so a 3-day wait (legal by the argument rules) runs; a wait that never ends gets a
    one-line SimulationLimit."""
    assert DEFAULT_LIMIT > 7 * 86400 * 8000
    clock = Clock()
    for _ in range(3):  # three 7-day sleeps in one script: 21 days, no limit reached
        clock.sleep(7 * 86400 * 8000)
    assert clock.now == 21 * 86400 * 8000
    tick = {"n": 0}

    def again() -> None:  # an implementation's timer that re-arms itself for ever
        tick["n"] += 1
        clock.schedule(clock.now + 86400 * 8000, 30, again)

    clock.schedule(clock.now + 1, 30, again)
    with pytest.raises(SimulationLimit) as info:
        clock.run_until(lambda: False, what="the job")
    assert "limit of 691200 s" in str(info.value) and "\n" not in str(info.value)


class WaitsThreeDays:
    """A recorder whose record() blocks for 3 days of virtual time (legal: at most 7)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def record(self, **kwargs: Any) -> str:
        clock = self.channel.clock
        done = []
        clock.schedule(clock.now + 3 * 86400 * 8000, 30, lambda: done.append(1))
        clock.run_until(lambda: bool(done), what="three days")
        return "TIMEOUT"

    def state(self) -> str:
        return "IDLE"

    def cause(self) -> str:
        return "TIMEOUT"

    def audio_detected_in_recording(self) -> bool:
        return False


def test_a_three_day_wait_runs_without_hitting_the_limit() -> None:
    s = loads_scenario('[[actions]]\ncall = "record"\nargs = { filename = "m.wav", seconds_timeout = 259200 }\n')
    result = run_scenario(s, WaitsThreeDays)
    assert result.steps[0].raised is None and result.final["end_ms"] == 3 * DAY_MS


# --------------------------------------------------------------------------- audio files

def _file_scenario(folder: Path, target: str) -> str:
    return f'[[audio]]\nat_ms = 0\nkind = "file"\npath = "{target}"\n'


def _make_bad_file(kind: str, folder: Path) -> str:
    """Create the bad input of ``kind`` in ``folder``; return its name."""
    if kind == "text":
        (folder / "notes.wav").write_text("not audio at all\n" * 50)
        return "notes.wav"
    if kind == "folder":
        (folder / "dir.wav").mkdir()
        return "dir.wav"
    if kind == "empty":
        (folder / "empty.wav").write_bytes(b"")
        return "empty.wav"
    if kind == "passwd":
        (folder / "pw.wav").symlink_to("/etc/passwd")
        return "pw.wav"
    if kind == "zero":
        (folder / "zero.wav").symlink_to("/dev/zero")
        return "zero.wav"
    if kind == "fifo":
        os.mkfifo(folder / "pipe.wav")
        return "pipe.wav"
    if kind == "rate 2**31-1":
        (folder / "fast.wav").write_bytes(wav_header(2_147_483_647, 1, 16, 2000) + bytes(2000))
        return "fast.wav"
    if kind == "rate 1 Hz":
        (folder / "slow.wav").write_bytes(wav_header(1, 1, 16, 40_000) + bytes(40_000))
        return "slow.wav"
    if kind == "prime rate":
        (folder / "odd.wav").write_bytes(wav_header(44_101, 1, 16, 4000) + bytes(4000))
        return "odd.wav"
    if kind == "flac":
        sf.write(folder / "f.wav", np.zeros(800), 8000, format="FLAC")
        return "f.wav"
    raise AssertionError(kind)


BAD_FILES = {
    "text": "not a readable WAV file", "folder": "is a folder", "empty": "the file is empty",
    "passwd": "not a readable WAV file", "zero": "is a device", "fifo": "is a FIFO",
    "rate 2**31-1": "sample rate of 2147483647 Hz", "rate 1 Hz": "sample rate of 1 Hz",
    "prime rate": "too fine to resample", "flac": "not a WAV file",
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_audio_files_are_load_errors(kind: str, tmp_path: Path) -> None:
    """Why, item 2: no libsndfile traceback, no hang on a FIFO, no huge allocation for an
    absurd rate: one ScenarioError at audio[0].path, before anything is opened for reading."""
    name = _make_bad_file(kind, tmp_path)
    err = load_error(tmp_path, _file_scenario(tmp_path, name))
    assert err.key == "audio[0].path"
    assert BAD_FILES[kind] in err.reason, str(err)
    assert "\n" not in str(err)


def test_a_missing_clip_is_a_load_error_not_a_step_exception(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[[audio]]\nat_ms = 0\nkind = "speech"\nduration_ms = 100\nclips = ["nope.wav"]\n')
    assert err.key == "audio[0].clips[0]" and "clip not found" in err.reason


def test_clips_resolve_beside_the_scenario_never_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why, item 3: a clip beside the scenario is found from any current folder and gives the
    same bytes; a same-named clip in the current folder is never used; bundled clips are still
    found by name."""
    here, elsewhere = tmp_path / "scen", tmp_path / "cwd"
    here.mkdir()
    elsewhere.mkdir()
    clip = sf.read(audio_path("speech_de.wav"))[0]
    sf.write(here / "mine.wav", clip, 8000, subtype="PCM_16")
    sf.write(elsewhere / "mine.wav", clip[::-1].copy(), 8000, subtype="PCM_16")  # a different clip, same name
    text = ('seed = 4\n[[audio]]\nat_ms = 0\nkind = "speech"\nduration_ms = 20000\nclips = ["mine.wav", "speech_en.wav"]\n'
            '[[actions]]\ncall = "record"\nargs = { filename = "m.wav", seconds_timeout = 5 }\n')
    path = write_toml(here, text)
    digests = []
    for cwd in (here, elsewhere, tmp_path):
        monkeypatch.chdir(cwd)
        s = load_scenario(path.relative_to(cwd) if cwd != elsewhere else path)
        assert dict(s.audio[0].params)["clips"] == (str(here / "mine.wav"), "speech_en.wav")
        digests.append(build_audio(s).render(0, 20 * 8000).tobytes())
    assert digests[0] == digests[1] == digests[2]
    monkeypatch.chdir(elsewhere)  # a clip only in the current folder is not found
    err = load_error(tmp_path, text)
    assert err.key == "audio[0].clips[0]" and str(tmp_path / "mine.wav") in err.reason


def test_wav_input_is_read_by_span_and_equals_the_whole_file_resampled(tmp_path: Path) -> None:
    """Blocks made from a window of the file equal resample_poly of the whole file, exactly,
    in any render order (the claim of simulator/wavsource.py)."""
    rng = np.random.default_rng(3)
    for rate in (11025, 48000):
        x = rng.standard_normal((int(rate * 2.5 * BLOCK / 8000), 2)) * 0.2
        path = tmp_path / f"n{rate}.wav"
        sf.write(path, x, rate, subtype="FLOAT")
        info = check_wav(path)
        data = sf.read(path, dtype="float64", always_2d=True)[0]
        whole = resample_poly(data.mean(axis=1) * 32768.0, *info.ratio)
        assert info.length == whole.size
        pieces = np.concatenate([read_span(info, a, min(a + 10_007, info.length)) for a in range(0, info.length, 10_007)])
        assert np.array_equal(pieces, whole)


def test_a_huge_sparse_wav_costs_only_the_span_used(tmp_path: Path) -> None:
    """Why, item 2: a 300 MB (sparse) WAV at 8 kHz of which 1 s is used: loading and rendering
    that second stays far below the file's size in memory (tracemalloc counts numpy's buffers)."""
    path = tmp_path / "big.wav"
    size = 300 * 1024 * 1024
    with open(path, "wb") as f:
        f.write(wav_header(8000, 1, 16, size))
        f.truncate(44 + size)
    tracemalloc.start()
    try:
        s = load_scenario(write_toml(tmp_path, _file_scenario(tmp_path, "big.wav") + "duration_ms = 1000\n"))
        x = build_audio(s).render(0, 8000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert x.size == 8000 and not x.any()
    assert peak < 20 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    # without duration_ms the file lasts 5.5 hours: the item still loads (it ends within 7 days)
    assert build_audio(load_scenario(write_toml(tmp_path, _file_scenario(tmp_path, "big.wav")))).end == size // 2


def test_non_finite_float_samples_read_as_zero(tmp_path: Path) -> None:
    x = np.array([0.5, np.nan, np.inf, -np.inf, -0.5] * 200, dtype=np.float32)
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    y = read_span(check_wav(tmp_path / "nan.wav"), 0, 1000)
    assert np.isfinite(y).all() and y[1] == 0 and y[0] == 16384


def test_wav_errors_are_wavinputerrors(tmp_path: Path) -> None:
    with pytest.raises(WavInputError, match="file not found"):
        check_wav(tmp_path / "absent.wav")


# --------------------------------------------------------------------------- long calls

def test_plot_summary_of_a_long_call_is_bounded(tmp_path: Path) -> None:
    """Why, item 4: a 10-hour call is summarised from sampled frames, a 30-minute one from every
    frame, both in a few MB (the whole 10 hours would be 576 MB of int16), and a summarised
    bucket holds exactly the extremes and loudest frame of its samples."""
    from callsim.plot import _summarise, frame_levels
    from simulator.audio import Noise, Tone

    long = Timeline((Tone(start=0, duration=10 * 3600 * 8000, freqs=(440.0,), level_dbm0=-30.0),
                     Noise(start=3600 * 8000, duration=8000, level_dbm0=-10.0)), seed=1)
    tracemalloc.start()
    try:
        data = _summarise(long, 10 * 3600 * 8000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data.sampled and len(data.t) == 4000 and peak < 30 * 1024 * 1024
    half = Timeline((Noise(start=0, duration=1800 * 8000, level_dbm0=-30.0),), seed=2)
    data = _summarise(half, 1800 * 8000)
    assert not data.sampled and np.isfinite(data.level).all()
    per = -(-1800 * 50 // 4000)
    x = half.render(7 * per * 160, 8 * per * 160)
    level, active = frame_levels(x)
    assert data.level[7] == level.max() and data.hi[7] == x.max() / 32768 and data.active[7] == active.any()


def test_a_limit_reached_in_run_is_a_step_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A recorder that never ends its wait meets the clock's limit: `callsim run` shows the step's
    SimulationLimit and its message, exit 0, no traceback."""
    path = write_toml(tmp_path, '[[actions]]\ncall = "wait_until_finished"\nargs = { seconds_timeout = "None" }\n')
    code = main(["run", str(path), "--recorder-factory", "tests.test_hostile:NeverEnds"])
    out, err = capsys.readouterr()
    assert code == 0 and "raised SimulationLimit" in out and "clock's limit" in out and "Traceback" not in out + err


class NeverEnds(WaitsThreeDays):
    def wait_until_finished(self, seconds_timeout: Any = None) -> str:
        clock = self.channel.clock

        def again() -> None:
            clock.schedule(clock.now + 86400 * 8000, 30, again)

        clock.schedule(clock.now + 1, 30, again)
        clock.run_until(lambda: False, what="a job that never ends")
        return "NONE"


# --------------------------------------------------------------------------- output paths

BASE = ('seed = 1\n[[audio]]\nat_ms = 0\nkind = "tone"\nduration_ms = 500\nfreqs = [700.0]\nlevel_dbm0 = -20\n'
        '[[actions]]\ncall = "record"\nargs = { filename = "sub/m.wav", milliseconds_max_silence = 300 }\n')


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


def test_out_never_follows_a_planted_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Why, item 5: a symlink planted at the file's name is replaced; one planted as a folder on
    the way is refused; the files they point to stay untouched; no temporary file is left."""
    scen = write_toml(tmp_path, BASE)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "m.wav").symlink_to(victim)
    code, _ = _run(capsys, "run", str(scen), "--out", str(out))
    assert code == 0 and victim.read_text() == "precious"
    assert not (out / "sub" / "m.wav").is_symlink() and (out / "sub" / "m.wav").read_bytes()[:4] == b"RIFF"
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["m.wav"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out2 = tmp_path / "out2"
    out2.mkdir()
    (out2 / "sub").symlink_to(elsewhere)
    code, err = _run(capsys, "run", str(scen), "--out", str(out2))
    assert code == 2 and "is a symlink" in err and list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("option", ["--out", "--log"])
@pytest.mark.parametrize("where", ["a file's child", "a folder" , "under a file"])
def test_unusable_output_paths_exit_2(option: str, where: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Why, item 5: an unusable --out or --log is one line on stderr and exit 2 (not 1, which
    reads as a FAIL), and nothing runs."""
    scen = write_toml(tmp_path, BASE)
    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    target = {"a file's child": afile / "x", "a folder": tmp_path, "under a file": afile / "a" / "b"}[where]
    if option == "--out" and where == "a folder":
        target = afile  # --out wants a folder: a file is the unusable one
    code, err = _run(capsys, "run", str(scen), option, str(target))
    assert code == 2 and err.count("\n") == 1 and option in err
    assert afile.read_text() == "x"


def test_special_file_targets_are_refused_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A FIFO (like /dev/stdout, a symlink to one) is never replaced by the log file: a device
    replaced as root would break the machine."""
    scen = write_toml(tmp_path, BASE)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "fifo")
    for target in ("fifo", "link"):
        code, err = _run(capsys, "run", str(scen), "--log", str(tmp_path / target))
        assert code == 2 and "is a FIFO, not a regular file" in err
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode) and (tmp_path / "link").is_symlink()


def test_report_naming_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    code, err = _run(capsys, "conformance", "--report", str(afile), "-k", "nothing")
    assert code == 2 and "existing file" in err and afile.read_text() == "x"


@pytest.mark.parametrize("target", ["/dev/zero", "folder"])
def test_xfail_file_that_never_ends_or_is_a_folder_exits_2(target: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`--xfail /dev/zero` used to read for ever."""
    path = target if target.startswith("/") else str(tmp_path)
    code, err = _run(capsys, "conformance", "--xfail", path, "-k", "x", "--report", str(tmp_path / "r"))
    assert code == 2 and "--xfail" in err and not (tmp_path / "r").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: no unwritable folder to test with")
def test_unwritable_log_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = write_toml(tmp_path, BASE)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, err = _run(capsys, "run", str(scen), "--log", str(ro / "log.json"))
    finally:
        ro.chmod(0o700)
    assert code == 2 and "not writable" in err


needs_mpl = pytest.mark.skipif(__import__("importlib").util.find_spec("matplotlib") is None,
                               reason="matplotlib not installed (callsim[plot])")


@needs_mpl
def test_plot_output_into_a_folder_and_over_a_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Why, item 5: `plot -o dir/` writes dir/timeline.png (not dir.png beside it); a symlink at
    the picture's name is replaced, not followed; a folder given as a file is exit 2."""
    scen = write_toml(tmp_path, BASE)
    (tmp_path / "pics").mkdir()
    code, _ = _run(capsys, "plot", str(scen), "-o", str(tmp_path / "pics") + "/")
    assert code == 0 and (tmp_path / "pics" / "timeline.png").is_file() and not (tmp_path / "pics.png").exists()
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    (tmp_path / "t.png").symlink_to(victim)
    code, _ = _run(capsys, "plot", str(scen), "-o", str(tmp_path / "t.png"))
    assert code == 0 and victim.read_bytes() == b"precious" and not (tmp_path / "t.png").is_symlink()
    code, err = _run(capsys, "plot", str(scen), "-o", str(tmp_path / "t.xyz"))
    assert code == 2 and "unknown picture format" in err


# --------------------------------------------------------------------------- the store

class LyingStr(str):
    """A str whose methods lie about its content (the check must not ask them)."""

    def __iter__(self):  # type: ignore[override]
        return iter("safe.wav")

    def __contains__(self, item: object) -> bool:
        return False

    def split(self, *args: Any, **kwargs: Any) -> list[str]:  # type: ignore[override]
        return ["safe.wav"]

    def startswith(self, *args: Any, **kwargs: Any) -> bool:  # type: ignore[override]
        return False

    def endswith(self, *args: Any, **kwargs: Any) -> bool:  # type: ignore[override]
        return False


def test_a_lying_str_subclass_is_judged_by_its_value(tmp_path: Path) -> None:
    """Why, item 6: the name checked is the string written, so ../escape.wav is refused."""
    store = MediaStore(tmp_path / "root")
    with pytest.raises(InvalidNameError, match="NAME-DOTDOT"):
        store.open_write(LyingStr("../escape.wav"))
    with pytest.raises(InvalidNameError, match="NAME-ABSOLUTE"):
        store.open_write(LyingStr("/tmp/escape.wav"))
    assert not (tmp_path / "escape.wav").exists()
    w = store.open_write(LyingStr("ok.wav"))  # an honest value in a subclass is fine
    w.write(b"x")
    w.commit()
    assert type(store.list()[0]) is str and (tmp_path / "root" / "ok.wav").read_bytes() == b"x"


def test_directory_store_refuses_paths_leaving_its_root(tmp_path: Path) -> None:
    """Why, item 6: a folder inside the root that is a symlink to elsewhere, and a symlink at a
    file's name, are refused; nothing is written outside the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "d").symlink_to(outside)
    (root / "f.wav").symlink_to(outside / "secret")
    store = MediaStore(root)
    assert store.list() == []  # the planted symlink is not a file of the store
    with pytest.raises(StoreError, match="outside the store's root"):
        store.open_write("d/x.wav")
    with pytest.raises(StoreError, match="symlink"):
        store.open_write("f.wav")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"] and (outside / "secret").read_bytes() == b"secret"


# --------------------------------------------------------------------------- factories

class Raises:
    def __init__(self, channel: Any) -> None:
        raise OSError("no licence server")


def returns_none(channel: Any) -> None:
    return None


class StateRaises(WaitsThreeDays):
    def state(self) -> str:
        raise KeyError("state")


@pytest.mark.parametrize(("factory", "words"), [
    ("Raises", "the recorder factory failed: OSError: no licence server"),
    ("returns_none", "the recorder factory returned None"),
    ("StateRaises", "the recorder's state() raised KeyError"),
])
def test_an_implementation_failure_is_reported_as_its_own(factory: str, words: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Why, item 7: no traceback from `callsim run`; one line names the failure, exit 1."""
    path = write_toml(tmp_path, '[[actions]]\ncall = "sleep"\nms = 10\n')
    code, err = _run(capsys, "run", str(path), "--recorder-factory", f"tests.test_hostile:{factory}")
    assert code == 1 and words in err and err.count("\n") == 1
    with pytest.raises(RecorderFailed):
        run_scenario(load_scenario(path), globals()[factory])


def test_debug_shows_the_traceback_of_an_unexpected_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import simulator.runner

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("inside")

    monkeypatch.setattr(simulator.runner, "run_scenario", broken)
    path = write_toml(tmp_path, '[[actions]]\ncall = "sleep"\nms = 10\n')
    code, err = _run(capsys, "run", str(path))
    assert code == 2 and "unexpected error: ZeroDivisionError: inside" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "run", str(path)])


def test_a_scenario_path_that_is_a_fifo_or_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "pipe.toml")
    code, err = _run(capsys, "run", str(tmp_path / "pipe.toml"))
    assert code == 2 and "not a regular file" in err
    (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\n')
    code, err = _run(capsys, "run", str(tmp_path / "latin.toml"))
    assert code == 2 and "not UTF-8" in err


# --------------------------------------------------------------------------- generated TOML

_INTS = st.one_of(st.integers(0, 3000), st.integers(-(2**65), 2**65), st.sampled_from([0, 1, I64, 2**63, 2**64, -1]))
_FLOATS = st.one_of(st.floats(-60, 10), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, -1e306]))
_TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["m.wav", "None", "ANSWERED", "IDLE", "alaw", "*", "SILENCE"]))
_SCALAR = st.one_of(_INTS, _FLOATS, _TEXT, st.booleans())
_VALUE = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3), st.dictionaries(_TEXT, _SCALAR, max_size=2),
                   st.lists(st.lists(_SCALAR, max_size=2), max_size=2))
_AUDIO_KEYS = ("duration_ms", "level_dbm0", "color", "freqs", "digits", "tone_ms", "gap_ms", "twist_db",
               "freq_offset_pct", "low_offset_pct", "high_offset_pct", "out_of_band", "clips", "path", "level_db",
               "low_harmonic_db", "high_harmonic_db", "im3_below_db", "im3_above_db")
_PATHS = st.sampled_from(["tone.wav", "notes.txt", "dir", "missing.wav", "fifo", "speech_en.wav", "/dev/zero"])
_PARAMS = sorted({p.name for ps in API_METHODS.values() for p in ps})


def _keyed(keys: Any, values: Any, junk: bool = True) -> Any:
    key = st.one_of(keys, _TEXT) if junk else keys
    return st.dictionaries(key, values, max_size=4)


def _mutated(plausible: Any, keys: tuple[str, ...]) -> Any:
    """A plausible table, sometimes with one key's value replaced by anything."""
    mutation = st.one_of(st.just({}), st.just({}), _keyed(st.sampled_from(keys), _VALUE, junk=False).map(
        lambda d: dict(list(d.items())[:1])))
    return st.builds(lambda base, m: {**base, **m}, plausible, mutation)


_DUR = st.integers(1, 4000)
_LEVEL = st.floats(-80, 10)
_PLAUSIBLE_AUDIO = st.one_of(
    st.fixed_dictionaries({"kind": st.just("silence"), "at_ms": _DUR, "duration_ms": _DUR}),
    st.fixed_dictionaries({"kind": st.just("noise"), "at_ms": _DUR, "duration_ms": _DUR, "level_dbm0": _LEVEL},
                          optional={"color": st.sampled_from(["white", "pink"])}),
    st.fixed_dictionaries({"kind": st.just("tone"), "at_ms": _DUR, "duration_ms": _DUR, "level_dbm0": _LEVEL,
                           "freqs": st.lists(st.floats(50, 3900), min_size=1, max_size=3)}),
    st.fixed_dictionaries({"kind": st.just("dtmf"), "at_ms": _DUR,
                           "digits": st.text(alphabet="0123456789*#ABCD", min_size=1, max_size=5)},
                          optional={"tone_ms": st.integers(20, 100), "gap_ms": st.integers(0, 100),
                                    "twist_db": st.floats(-10, 10), "freq_offset_pct": st.floats(-3, 3),
                                    "high_offset_pct": st.floats(-200, 200), "out_of_band": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("speech"), "at_ms": _DUR, "duration_ms": _DUR},
                          optional={"level_dbm0": _LEVEL, "clips": st.lists(st.sampled_from(SPEECH_CLIPS), min_size=1,
                                                                            max_size=2)}),
    st.fixed_dictionaries({"kind": st.just("file"), "at_ms": _DUR, "path": st.just("tone.wav")},
                          optional={"duration_ms": _DUR, "level_db": st.floats(-30, 10)}),
)


def _audio_item() -> Any:
    value = st.one_of(_VALUE, _PATHS, st.lists(_PATHS, max_size=3), st.text(alphabet="0123456789*#ABCDX", max_size=6))
    garbage = st.builds(lambda kind, at, rest: {"kind": kind, "at_ms": at, **rest},
                        st.one_of(st.sampled_from(AUDIO_KINDS), _TEXT), _INTS, _keyed(st.sampled_from(_AUDIO_KEYS), value))
    return st.one_of(_mutated(_PLAUSIBLE_AUDIO, (*_AUDIO_KEYS, "at_ms")), garbage)


_PLAUSIBLE_ACTIONS = st.one_of(
    st.fixed_dictionaries({"call": st.just("record"), "args": st.fixed_dictionaries(
        {"filename": st.sampled_from(["m.wav", "a/b.wav"])},
        optional={"seconds_timeout": st.integers(1, 5), "milliseconds_max_silence": st.integers(0, 3000)})}),
    st.fixed_dictionaries({"call": st.just("sleep"), "ms": st.integers(0, 3000)}),
    st.fixed_dictionaries({"call": st.sampled_from(["stop", "state", "cause"])}),
)


def _action() -> Any:
    args = st.one_of(_keyed(st.sampled_from(_PARAMS), st.one_of(_VALUE, _keyed(st.sampled_from(["key", "iv"]), _VALUE))),
                     st.lists(_VALUE, max_size=3))
    garbage = st.builds(lambda call, rest: {"call": call, **rest}, st.one_of(st.sampled_from(ACTION_CALLS), _TEXT),
                        st.fixed_dictionaries({}, optional={"args": args, "ms": _INTS}))
    return st.one_of(_mutated(_PLAUSIBLE_ACTIONS, ("args", "ms", "call")), garbage)


_GARBAGE_DOCS = st.fixed_dictionaries({}, optional={
    "seed": st.one_of(st.integers(0, 2**64 - 1), _INTS),
    "name": _VALUE,
    "call": st.one_of(_VALUE, st.fixed_dictionaries({}, optional={
        "state": st.one_of(st.sampled_from(["ANSWERED", "IDLE", "ON_HOLD"]), _VALUE), "hangup_ms": _INTS,
        "changes": st.one_of(_VALUE, st.lists(_keyed(st.sampled_from(["at_ms", "state"]), st.one_of(_INTS, _TEXT)),
                                               max_size=2))})),
    "audio": st.one_of(st.lists(_audio_item(), max_size=3), _VALUE),
    "actions": st.one_of(st.lists(_action(), max_size=3), _VALUE),
    "store": st.one_of(_VALUE, _keyed(st.sampled_from(["visibility_delay_ms", "fail_write_n", "capacity_bytes"]), _INTS)),
    "expect": st.one_of(_VALUE, _keyed(st.sampled_from(sorted(EXPECT_KEYS)), _VALUE)),
})
_PLAUSIBLE_DOCS = _mutated(st.fixed_dictionaries({
    "seed": st.integers(0, 2**64 - 1),
    "audio": st.lists(_audio_item(), max_size=3),
    "actions": st.lists(_action(), max_size=3),
}, optional={
    "call": st.fixed_dictionaries({}, optional={
        "hangup_ms": st.integers(0, 5000), "changes": st.lists(st.fixed_dictionaries({
            "at_ms": st.integers(0, 5000), "state": st.sampled_from(["ON_HOLD", "ANSWERED", "IDLE"])}), max_size=2)}),
    "store": st.fixed_dictionaries({}, optional={"visibility_delay_ms": st.integers(0, 100),
                                                 "fail_write_n": st.integers(1, 5)}),
}), ("seed", "call", "store", "name", "expect"))
#: Scenario-shaped TOML documents: mostly plausible with some values replaced by anything (of any
#: type, extreme ints and floats, nested arrays and tables), or garbage in every key.
SCENARIO_DOCS = st.one_of(_PLAUSIBLE_DOCS, _GARBAGE_DOCS)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    sf.write(folder / "tone.wav", 0.1 * np.sin(np.arange(4000) * 0.3), 11025, subtype="PCM_16")
    (folder / "notes.txt").write_text("text")
    (folder / "dir").mkdir()
    os.mkfifo(folder / "fifo")
    return folder


def _check_document(doc: dict[str, Any], folder: Path) -> str:
    """Load one generated document: only a Scenario or a ScenarioError may come out, and a
    loaded scenario's audio builds and renders finite int16 around each item's start."""
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # not expressible as TOML (e.g. a non-str key): nothing to test
        return "unwritable"
    try:
        s = loads_scenario(text, source="gen.toml", base_dir=str(folder))
    except ScenarioError as exc:
        assert "\n" not in str(exc) and exc.source == "gen.toml"
        return "error"
    tl = build_audio(s)
    assert 0 <= tl.end <= MAX_SCENARIO_MS * 8
    for seg in tl.segments:
        x = tl.render(seg.start, min(seg.start + 1600, max(seg.end, seg.start)))
        assert x.dtype == np.int16
        assert np.isfinite(tl.render_float(seg.start, seg.start + 160)).all()
    assert math.isfinite(float(s.seed)) and 0 <= s.seed < 2**64
    return "valid"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(SCENARIO_DOCS)
def test_generated_toml_is_a_scenario_or_a_scenario_error(files: Path, doc: dict[str, Any]) -> None:
    """Generated TOML documents (scenario-shaped, with extreme and wrong-typed values): the
    loader returns a valid scenario or raises ScenarioError, never anything else."""
    _check_document(doc, files)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(SCENARIO_DOCS)
def test_generated_toml_slow(files: Path, doc: dict[str, Any]) -> None:
    _check_document(doc, files)


def test_generated_documents_reach_valid_scenarios(files: Path) -> None:
    """The generator is not all garbage: a fixed sample of it loads some valid scenarios."""
    from hypothesis import find

    doc = find(SCENARIO_DOCS, lambda d: bool(d.get("audio")) and isinstance(d["audio"], list)
               and _check_document(d, files) == "valid",
               settings=settings(max_examples=2000, database=None, phases=[Phase.generate]))
    assert doc["audio"]


def test_bundled_clip_names_are_documented() -> None:
    """Bundled clips stay findable by their documented names (docs/scenario-format.md)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario-format.md").read_text()
    assert all(name in doc for name in SPEECH_CLIPS)


def test_a_scenario_runs_on_its_scripts_own_limit() -> None:
    """A blocking call may advance the clock by at most what the script could need while the
    implementation follows the spec (its instants, sleeps, timeouts and size limits, plus a
    minute), so a recorder that never ends its job stops there, not after the clock's 8 days of
    recorded audio (gigabytes in the store); no legal argument reaches it."""
    from simulator.runner import build_call, script_limit
    from simulator.scenario import ScenarioBuilder

    s = (ScenarioBuilder(seed=3).tone(0, 600_000, [800.0], -20)
         .record(filename="t.wav", seconds_timeout=2, max_bytes=0, milliseconds_max_silence=5000)
         .sleep(1000).action("wait_until_finished").build())
    limit = script_limit(s, 600_000 * 8)
    assert limit == (600_000 + 60_000 + 2_000 + 1_000 + 120_000) * 8 < DEFAULT_LIMIT
    assert build_call(s).clock.limit == limit
    # a size limit counts at the cheapest encoding (3000 bytes a second); a 7-day timeout, the
    # longest legal one, fits
    sized = ScenarioBuilder(seed=3).action("start", filename="s.wav", max_bytes=30_000).build()
    assert script_limit(sized) == (60_000 + 10_000) * 8
    week = ScenarioBuilder(seed=3).record(filename="w.wav", seconds_timeout=7 * 86400).build()
    # 7 days, the minute, and the default max_bytes (1,920,000) at 3000 bytes a second
    assert script_limit(week) == (7 * 86400 * 1000 + 60_000 + 640_000) * 8 < DEFAULT_LIMIT
