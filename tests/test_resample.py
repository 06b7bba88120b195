"""Tests for recorder.resample: streaming == whole-signal resample_poly, and the filter's response.

The oracle is scipy.signal.resample_poly on the whole signal with the same explicit filter,
rounded half-to-even and clipped to int16. Response figures measured with this filter
(16000-sample tones at amplitude 10000, fitted by least squares away from the edges):

| rate  | 300..2500 Hz | 2800 Hz  | 3000 Hz  | 3400 Hz  | 3500 Hz  |
|-------|--------------|----------|----------|----------|----------|
| 6000  | +-0.02 dB    | -1.67 dB | -79 dB   | -34 dB (alias) | -67.5 dB (alias) |
| 11000 | +-0.02 dB    | +0.01 dB | -0.01 dB | -0.05 dB | -0.25 dB |
| 11025 | +-0.02 dB    | +0.01 dB | -0.01 dB | -0.05 dB | -0.25 dB |

Phase: zero (the filter is linear-phase and centred), error < 1e-4 rad.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from recorder.resample import RATIOS, StreamResampler, filter_taps, output_length, resample_whole

RATES = [6000, 11000, 11025]


def reference(x: np.ndarray, rate: int) -> np.ndarray:
    """Independent statement of the definition (does not call recorder.resample's helper)."""
    up, down = RATIOS[rate]
    y = resample_poly(x.astype(np.float64), up, down, window=filter_taps(rate))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def stream(x: np.ndarray, rate: int, bounds: list[int]) -> np.ndarray:
    r = StreamResampler(rate)
    parts = [r.process(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    parts.append(r.flush())
    return np.concatenate(parts)


def noise(n: int, seed: int, level: float = 6000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.standard_normal(n) * level), -32768, 32767).astype(np.int16)


def test_filter_is_resample_polys_default_design() -> None:
    x = noise(4000, 1)
    for rate in RATES:
        up, down = RATIOS[rate]
        default = resample_poly(x.astype(np.float64), up, down)
        explicit = resample_poly(x.astype(np.float64), up, down, window=filter_taps(rate))
        assert np.array_equal(default, explicit)
    assert filter_taps(6000).size == 81 and filter_taps(11025).size == 8821


@pytest.mark.parametrize("rate", RATES)
def test_160_sample_frames_equal_whole_signal(rate: int) -> None:
    x = noise(8000 * 2 + 77, rate)
    bounds = [*range(0, x.size, 160), x.size]
    y = stream(x, rate, bounds)
    assert y.size == output_length(rate, x.size)
    assert np.array_equal(y, reference(x, rate))
    assert np.array_equal(y, resample_whole(x, rate))


@given(
    st.sampled_from(RATES),
    st.integers(0, 3000),
    st.lists(st.integers(0, 3000), max_size=15),
    st.integers(0, 2**31),
    st.sampled_from([3000.0, 40000.0]),
)
@settings(max_examples=80, deadline=None)
def test_any_chunking_equals_whole_signal(
    rate: int, n: int, cuts: list[int], seed: int, level: float
) -> None:
    """Includes empty chunks, single samples, tiny signals and clipping (level 40000)."""
    x = noise(n, seed, level)
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    bounds = [bounds[0], *bounds]  # one empty chunk first
    y = stream(x, rate, bounds)
    assert y.size == -(-n * RATIOS[rate][0] // RATIOS[rate][1])
    if n:
        assert np.array_equal(y, reference(x, rate))


def test_identity_at_8000() -> None:
    x = noise(1000, 2)
    r = StreamResampler(8000)
    assert np.array_equal(np.concatenate([r.process(x[:333]), r.process(x[333:]), r.flush()]), x)


def test_output_is_held_back_only_by_the_filter_half_length() -> None:
    r = StreamResampler(6000)
    got = sum(r.process(np.zeros(160, np.int16)).size for _ in range(50))
    assert output_length(6000, 8000) - got <= 15
    assert got + r.flush().size == 6000


def test_lifecycle_and_argument_checks() -> None:
    r = StreamResampler(11025)
    r.flush()
    assert r.flush().size == 0
    with pytest.raises(RuntimeError):
        r.process(np.zeros(1, np.int16))
    with pytest.raises(TypeError):
        StreamResampler(6000).process(np.zeros(3))
    with pytest.raises(ValueError):
        StreamResampler(16000)


def tone(f: float, n: int = 16000, amp: float = 10000.0) -> np.ndarray:
    return np.round(amp * np.sin(2 * np.pi * f * np.arange(n) / 8000)).astype(np.int16)


def fit(y: np.ndarray, f: float, fs: int, t0: float) -> tuple[float, float]:
    """Amplitude and phase of ``sin(2 pi f (t + t0) + phase)`` fitted to ``y``."""
    t = np.arange(y.size) / fs + t0
    basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, y.astype(float), rcond=None)
    return float(np.hypot(a, b)), float(np.arctan2(b, a))


PASSBAND = {6000: [300, 1000, 2000, 2500], 11000: [300, 1000, 2000, 3000],
            11025: [300, 1000, 2000, 3000]}  # fmt: skip


@pytest.mark.parametrize("rate", RATES)
def test_passband_gain_and_zero_phase(rate: int) -> None:
    for f in PASSBAND[rate]:
        y = resample_whole(tone(f), rate)
        m = y.size // 4
        amp, phase = fit(y[m : 3 * m], f, rate, m / rate)
        assert abs(20 * np.log10(amp / 10000)) < 0.05, (rate, f)
        assert abs(phase) < 1e-4, (rate, f)  # aligned with the input: no group delay


def test_transition_and_stopband_at_6000() -> None:
    def level_db(f: float) -> float:
        y = resample_whole(tone(f), 6000)[2000:-2000].astype(float)
        return float(20 * np.log10(np.sqrt(np.mean(y**2)) / (10000 / np.sqrt(2))))

    assert -2.5 < level_db(2800) < -1.0  # transition band (new Nyquist is 3000 Hz)
    assert level_db(3400) < -30  # alias of a tone just above the new Nyquist
    assert level_db(3500) < -60  # stopband
    assert level_db(3900) < -60


def test_upsampling_keeps_3400_hz() -> None:
    for rate in (11000, 11025):
        y = resample_whole(tone(3400), rate)
        m = y.size // 4
        amp, _ = fit(y[m : 3 * m], 3400, rate, m / rate)
        assert abs(20 * np.log10(amp / 10000)) < 0.1
