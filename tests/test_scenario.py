"""Scenario files: the issue's example loads, loader errors name file/key/reason, round trips,
the builder, and `callsim run` end to end (JSON keys, determinism across processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.scenario import (
    ScenarioBuilder,
    ScenarioError,
    from_dict,
    load_scenario,
    loads_scenario,
)

EXAMPLE = """
seed = 1
[call]
state = "ANSWERED"
hangup_ms = 5200
[[call.changes]]
at_ms = 3000
state = "ON_HOLD"
[[audio]]
at_ms = 0
kind = "speech"
duration_ms = 1500
level_dbm0 = -20
[[audio]]
at_ms = 2000
kind = "dtmf"
digits = "5#"
tone_ms = 80
gap_ms = 80
level_dbm0 = -10
twist_db = 0.0
freq_offset_pct = 0.0
out_of_band = false
[[audio]]
at_ms = 4000
kind = "file"
path = "clip.wav"
[[actions]]
call = "record"
args = { filename = "msg.wav", milliseconds_max_silence = 2000, barge_in = true }
[[actions]]
call = "sleep"
ms = 1000
"""


@pytest.fixture
def example(tmp_path: Path) -> Path:
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "clip.wav", (np.sin(np.arange(8000) * 0.3) * 8000).astype(np.int16), 16000)
    p = tmp_path / "example.toml"
    p.write_text(EXAMPLE)
    return p


def test_issue_example_loads(example: Path):
    s = load_scenario(example)
    assert s.seed == 1 and s.call.hangup_ms == 5200 and s.call.changes[0].state == "ON_HOLD"
    assert [a.kind for a in s.audio] == ["speech", "dtmf", "file"]
    assert s.actions[0].kwargs() == {"filename": "msg.wav", "milliseconds_max_silence": 2000, "barge_in": True}
    assert s.actions[1].ms == 1000


def test_round_trip_through_toml(example: Path):
    s = load_scenario(example)
    again = loads_scenario(s.to_toml(), base_dir=s.base_dir)
    assert again == s


@pytest.mark.parametrize(
    "text,key,reason",
    [
        ("seed = 'x'", "seed", "integer"),
        ("[call]\nstate = 'BOGUS'", "call.state", "unknown call state"),
        ("[call]\nhangup_ms = -5", "call.hangup_ms", ">= 0"),
        ("[[audio]]\nat_ms = 0\nkind = 'laser'", "audio[0].kind", "must be one of"),
        ("[[audio]]\nkind = 'silence'\nduration_ms = 5", "audio[0].at_ms", "required"),
        ("[[audio]]\nat_ms = 0\nkind = 'noise'\nduration_ms = 5", "audio[0].level_dbm0", "required"),
        ("[[audio]]\nat_ms = 0\nkind = 'dtmf'\ndigits = '12X'", "audio[0].digits", "DTMF digits"),
        ("[[audio]]\nat_ms = 0\nkind = 'tone'\nduration_ms = 5\nlevel_dbm0 = -10\nfreqs = [5000]", "audio[0].freqs[0]", "4000"),
        ("[[audio]]\nat_ms = 0\nkind = 'file'\npath = 'nope.wav'", "audio[0].path", "not found"),
        ("[[audio]]\nat_ms = 0\nkind = 'silence'\nduration_ms = 5\nvolume = 3", "audio[0].volume", "unknown key"),
        ("[[actions]]\ncall = 'explode'", "actions[0].call", "must be one of"),
        ("[[actions]]\ncall = 'sleep'", "actions[0].ms", "required"),
        ("[[actions]]\ncall = 'stop'\nms = 5", "actions[0].ms", "only sleep"),
        ("bogus = 1", "bogus", "unknown key"),
        ("seed = ", "(syntax)", "not valid TOML"),
    ],
)
def test_loader_errors_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert info.value.key == key
    assert str(p) in str(info.value) and reason in str(info.value)


def test_missing_file_error(tmp_path: Path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")


def test_builder_matches_file_vocabulary():
    s = (ScenarioBuilder(seed=3).speech(0, 1500, level_dbm0=-20).dtmf(2000, "5#", tone_ms=80)
         .hangup(5200).change(3000, "ON_HOLD").record(filename="msg.wav", barge_in=True).sleep(100).build())
    assert s.seed == 3 and s.call.hangup_ms == 5200
    assert s.actions[0].call == "record" and s.actions[1].ms == 100
    assert loads_scenario(s.to_toml()) == s


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.sampled_from(["stop", "state", "cause"]), max_size=4),
       st.integers(0, 100_000))
def test_generated_scenarios_round_trip(seed, calls, hang):
    b = ScenarioBuilder(seed=seed).hangup(hang).noise(0, 1000, -30.5)
    for c in calls:
        b.action(c)
    s = b.build()
    assert loads_scenario(s.to_toml()) == s


def _run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callsim", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_callsim_run_json_contract(example: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = _run_cli("run", str(example), "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) >= {"steps", "final", "files"}
    step = doc["steps"][0]
    assert set(step) >= {"call", "at_ms", "returned", "raised", "end_ms"}
    assert step["call"] == "record" and step["returned"] == "BARGEIN" and step["raised"] is None
    assert set(doc["final"]) >= {"state", "cause", "audio_detected", "call_state", "end_ms"}
    f = doc["files"][0]
    assert set(f) >= {"name", "format", "rate", "data_bytes", "duration_ms", "sha256"}
    assert f["name"] == "msg.wav" and f["format"] == "alaw" and f["rate"] == 8000
    assert (out / "msg.wav").read_bytes()[:4] == b"RIFF"


def test_callsim_run_bad_scenario_exit_2(tmp_path: Path):
    p = tmp_path / "bad.toml"
    p.write_text("[call]\nstate = 'NOPE'")
    r = _run_cli("run", str(p))
    assert r.returncode == 2 and "call.state" in r.stderr


def test_determinism_across_processes(example: Path, tmp_path: Path):
    """Same scenario in two processes with different hash seeds: identical files and logs."""
    outs = []
    for hs in ("1", "987"):
        log = tmp_path / f"log{hs}.json"
        r = _run_cli("run", str(example), "--json", "--log", str(log), env={"PYTHONHASHSEED": hs})
        assert r.returncode == 0, r.stderr
        outs.append((json.loads(r.stdout), log.read_text()))
    assert outs[0] == outs[1]


def test_from_dict_rejects_non_table_sections():
    with pytest.raises(ScenarioError, match="must be a table"):
        from_dict({"call": 5})


def test_dtmf_impurity_keys_round_trip_and_are_checked() -> None:
    """The dtmf impurity keys are scenario keys: built, written to TOML and read back the same;
    a product outside (0, 4000) Hz is a ScenarioError naming the key."""
    from simulator.build import build_audio
    from simulator.scenario import (
        DTMF_IMPURITY_KEYS,
        ScenarioBuilder,
        ScenarioError,
        loads_scenario,
    )

    kw = dict(zip(DTMF_IMPURITY_KEYS, (-6.0, -9.0, -12.0, -15.0), strict=True))
    sc = ScenarioBuilder(seed=3).dtmf(100, "5", tone_ms=80, **kw).record(filename="x").build()
    again = loads_scenario(sc.to_toml())
    assert again.to_toml() == sc.to_toml()
    seg = build_audio(again).segments[0]
    assert [getattr(seg, k) for k in DTMF_IMPURITY_KEYS] == [-6.0, -9.0, -12.0, -15.0]
    with pytest.raises(ScenarioError, match="high_harmonic_db"):
        ScenarioBuilder().dtmf(0, "D", high_offset_pct=30, high_harmonic_db=-6).build()
    with pytest.raises(ScenarioError, match="im3_below_db"):
        ScenarioBuilder().dtmf(0, "5", im3_below_db=3.0).build()


def test_tone_phases_round_trip_are_checked_and_make_one_rail_audio() -> None:
    """``phases_deg`` (one per frequency, [0, 360)) is a scenario key: built, written to TOML and
    read back the same; a sine and its octave a quarter cycle later peak lower above zero than
    below it (the one-rail cases), while phase zero everywhere stays as loud on both sides; a
    wrong count or an angle out of range is a ScenarioError naming the key."""
    import numpy as np

    from simulator.build import build_audio
    from simulator.scenario import ScenarioBuilder, ScenarioError, loads_scenario

    sc = ScenarioBuilder().tone(0, 100, [200, 400], -3, phases_deg=[0, 90]).record(filename="x").build()
    again = loads_scenario(sc.to_toml())
    assert again.to_toml() == sc.to_toml() and "phases_deg" in sc.to_toml()
    seg = build_audio(again).segments[0]
    assert seg.phases_deg == (0.0, 90.0)
    out = np.zeros(800)
    seg._add_into(out, 0, 0, 800, 0, 0)
    assert -out.min() > 1.7 * out.max()  # peaks 1.125 a above zero, 2 a below
    plain = np.zeros(800)
    build_audio(ScenarioBuilder().tone(0, 100, [200, 400], -3).build()).segments[0]._add_into(plain, 0, 0, 800, 0, 0)
    assert abs(plain.max() + plain.min()) < 1e-6 * plain.max()
    with pytest.raises(ScenarioError, match="phases_deg"):
        ScenarioBuilder().tone(0, 100, [200, 400], -3, phases_deg=[90]).build()
    with pytest.raises(ScenarioError, match=r"phases_deg\[1\]"):
        ScenarioBuilder().tone(0, 100, [200, 400], -3, phases_deg=[0, 360]).build()
