"""Silence / activity classification (recorder.detect, docs/dsp.md "Silence").

Oracles are independent of the implementation: Python-int sums of squares, the dBm0 table of
docs/dsp.md ("Level reference"), sines synthesised from the dBm0
definition, and the G.711 A-law digital milliwatt decoded by the stdlib audioop.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recorder.detect import (
    ACTIVE_ENERGY,
    DBM0_RMS,
    FRAME_SAMPLES,
    SILENCE_THRESHOLD_DBM0,
    dbm0_to_energy,
    frame_energy,
    is_active,
)


def _sine_frames(
    dbm0: float, hz: float = 1000.0, n_frames: int = 50, phase: float = 0.3
) -> np.ndarray:
    """A sine at ``dbm0`` (peak = RMS * sqrt(2), 0 dBm0 = RMS 16141.17), rounded to int16 frames."""
    peak = DBM0_RMS * math.sqrt(2.0) * 10.0 ** (dbm0 / 20.0)
    t = np.arange(n_frames * FRAME_SAMPLES) / 8000.0
    x = np.round(peak * np.sin(2 * np.pi * hz * t + phase)).astype(np.int16)
    return x.reshape(n_frames, FRAME_SAMPLES)


def test_threshold_constants_match_research_table() -> None:
    """-45 dBm0 over 160 samples is 1 318 226, and the other rows of the dsp.md 4.2 table."""
    assert SILENCE_THRESHOLD_DBM0 == -45.0
    assert ACTIVE_ENERGY == 1_318_226
    table = {
        -30: 41_685_965,
        -35: 13_182_260,
        -40: 4_168_596,
        -45: 1_318_226,
        -50: 416_860,
        -60: 41_686,
    }
    for dbm0, energy in table.items():
        assert dbm0_to_energy(dbm0) == energy, dbm0
    assert isinstance(ACTIVE_ENERGY, int)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int16, st.tuples(st.integers(0, 6), st.just(FRAME_SAMPLES))))
def test_frame_energy_is_exact_integer_sum(frames: np.ndarray) -> None:
    """frame_energy equals the Python-int sum of squares for arbitrary int16 frames."""
    got = frame_energy(frames)
    assert got.dtype == np.int64
    want = [sum(int(v) * int(v) for v in row) for row in frames]
    assert got.tolist() == want


def test_frame_energy_extremes_do_not_overflow() -> None:
    """A frame of -32768 has energy 160 * 2**30, beyond int32 and exact in int64."""
    f = np.full((2, FRAME_SAMPLES), -32768, dtype=np.int16)
    f[1] = 32767
    assert frame_energy(f).tolist() == [160 * 2**30, 160 * 32767**2]


def test_frame_energy_rejects_wrong_input() -> None:
    """Only 2-D int16 arrays are accepted (a float frame would hide rounding)."""
    with pytest.raises(TypeError):
        frame_energy(np.zeros((1, 160), dtype=np.float64))
    with pytest.raises(ValueError):
        frame_energy(np.zeros(160, dtype=np.int16))


def _frame_with_energy(target: int) -> np.ndarray:
    """An int16 frame whose sum of squares is exactly ``target`` (sum of up to 4 squares)."""
    rest = target
    vals: list[int] = []
    while rest > 0:
        v = math.isqrt(rest)
        v = min(v, 32767)
        vals.append(v)
        rest -= v * v
    assert len(vals) <= FRAME_SAMPLES
    f = np.zeros((1, FRAME_SAMPLES), dtype=np.int16)
    f[0, : len(vals)] = vals
    return f


def test_threshold_is_inclusive_at_the_exact_energy() -> None:
    """Energy == ACTIVE_ENERGY is active; one less is silence."""
    at = _frame_with_energy(ACTIVE_ENERGY)
    below = _frame_with_energy(ACTIVE_ENERGY - 1)
    assert int(frame_energy(at)[0]) == ACTIVE_ENERGY
    assert int(frame_energy(below)[0]) == ACTIVE_ENERGY - 1
    assert is_active(at).tolist() == [True]
    assert is_active(below).tolist() == [False]


@pytest.mark.parametrize(
    ("dbm0", "active"), [(-40.0, True), (-44.0, True), (-46.0, False), (-60.0, False)]
)
def test_sine_level_classification(dbm0: float, active: bool) -> None:
    """A 1 kHz sine 1 dB above/below -45 dBm0 is active/silent in every frame."""
    assert is_active(_sine_frames(dbm0)).tolist() == [active] * 50


def test_digital_zero_and_alaw_idle_are_silent() -> None:
    """Digital zero and the A-law idle code (0xD5 -> +8, about -66 dBm0) are silence."""
    assert not is_active(np.zeros((3, FRAME_SAMPLES), dtype=np.int16)).any()
    assert not is_active(np.full((3, FRAME_SAMPLES), 8, dtype=np.int16)).any()


def test_alaw_digital_milliwatt_decodes_to_zero_dbm0() -> None:
    """The G.711 A-law digital milliwatt (34 21 21 34 B4 A1 A1 B4) measures 0.00 +- 0.01 dBm0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    dmw = bytes.fromhex("34212134B4A1A1B4") * (FRAME_SAMPLES // 8)
    pcm = np.frombuffer(audioop.alaw2lin(dmw, 2), dtype="<i2").reshape(1, FRAME_SAMPLES)
    e = int(frame_energy(pcm)[0])
    level = 10.0 * math.log10(e / FRAME_SAMPLES / DBM0_RMS**2)
    assert abs(level) < 0.01
    assert is_active(pcm).tolist() == [True]


def test_white_noise_around_threshold() -> None:
    """Gaussian noise at -40 dBm0 is active in every frame, at -50 dBm0 in none (seeded)."""
    rng = np.random.default_rng(11)
    for dbm0, want in ((-40.0, True), (-50.0, False)):
        x = rng.standard_normal(100 * FRAME_SAMPLES) * DBM0_RMS * 10.0 ** (dbm0 / 20.0)
        frames = np.round(x).astype(np.int16).reshape(-1, FRAME_SAMPLES)
        assert is_active(frames).tolist() == [want] * 100
