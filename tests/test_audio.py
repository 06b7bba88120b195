"""Tests for simulator.audio: levels, DTMF frequencies/levels/timing, noise level and spectrum,
determinism, random access by position, WAV loading/resampling, speech fixtures, mixing/clipping.

The oracles are independent of the generator: frequencies and levels come from a zero-padded FFT
peak refined by a nonlinear least-squares sine fit (scipy.optimize.curve_fit) on the int16 output,
spectra from scipy.signal.welch, and the reference tables (Q.23 keypad, 0 dBm0 = RMS 16141.167)
are written out literally here.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import soundfile as sf
from callsim.fixtures import audio_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import curve_fit
from scipy.signal import welch

from simulator import audio as au
from simulator.audio import (
    Dtmf,
    Noise,
    Silence,
    Speech,
    Timeline,
    Tone,
    WavFile,
    dbm0_to_rms,
    rms_to_dbm0,
)

Color = Literal["white", "pink"]
FS = 8000
SEC = 8000

# ITU-T Q.23, written out independently of the module's tables.
Q23 = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}


# --------------------------------------------------------------------------- oracle helpers


def level_dbm0(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 20 * math.log10(math.sqrt(float(np.mean(x * x))) / 16141.167233665292)


def fft_peaks(x: np.ndarray, count: int) -> list[float]:
    """Frequencies of the ``count`` largest spectral peaks (Hann window, 16x zero padding,
    parabolic interpolation on the log magnitude)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    nfft = 16 * (1 << (n - 1).bit_length())
    mag = np.abs(np.fft.rfft(x * np.hanning(n), nfft))
    logm = np.log(mag + 1e-12)
    found: list[float] = []
    work = mag.copy()
    guard = int(4 * nfft / n)  # main-lobe half width of the Hann window, in bins
    for _ in range(count):
        k = int(np.argmax(work))
        a, b, c = logm[k - 1], logm[k], logm[k + 1]
        delta = 0.5 * (a - c) / (a - 2 * b + c)
        found.append((k + delta) * FS / nfft)
        work[max(0, k - guard) : k + guard + 1] = 0
    return sorted(found)


def fit_sines(x: np.ndarray, freqs: list[float]) -> list[tuple[float, float]]:
    """Least-squares fit of a sum of sines; returns [(freq_hz, rms_dbm0)] per component."""
    x = np.asarray(x, dtype=np.float64)
    t = np.arange(x.size) / FS

    def model(t: np.ndarray, *p: float) -> np.ndarray:
        y = np.zeros_like(t)
        for i in range(len(freqs)):
            f, a, b = p[3 * i : 3 * i + 3]
            y += a * np.sin(2 * np.pi * f * t) + b * np.cos(2 * np.pi * f * t)
        return y

    p0: list[float] = []
    for f in freqs:
        p0 += [f, 1000.0, 1000.0]
    p, _ = curve_fit(model, t, x, p0=p0, maxfev=20000)
    out = []
    for i in range(len(freqs)):
        f, a, b = p[3 * i : 3 * i + 3]
        out.append((float(f), rms_to_dbm0(math.hypot(a, b) / math.sqrt(2))))
    return sorted(out)


def measure_tones(x: np.ndarray, count: int) -> list[tuple[float, float]]:
    return fit_sines(x, fft_peaks(x, count))


# --------------------------------------------------------------------------- levels and tables


def test_level_reference_is_the_alaw_digital_milliwatt() -> None:
    """0 dBm0 = RMS 16141.167 (one definition, the contract's, shared by the generators and the
    reference's detector), sine peak 22827; conversions are inverse; zero is -inf."""
    import callsim.contract as contract
    import recorder.detect as detect

    assert au.DBM0_RMS is contract.DBM0_RMS is detect.DBM0_RMS
    assert au.DBM0_RMS == pytest.approx(16141.167, abs=1e-3)
    assert dbm0_to_rms(0.0) == pytest.approx(16141.167, abs=1e-3)
    assert dbm0_to_rms(0.0) * math.sqrt(2) == pytest.approx(22827, abs=0.5)
    assert dbm0_to_rms(-45.0) == pytest.approx(90.77, abs=0.01)
    for level in (-60.0, -13.5, 0.0, 3.14):
        assert rms_to_dbm0(dbm0_to_rms(level)) == pytest.approx(level, abs=1e-12)
    assert rms_to_dbm0(0.0) == -math.inf


def test_full_scale_sine_is_plus_3_14_dbm0() -> None:
    """A full-scale Tone (peak 32767) measures +3.14 dBm0, the G.711 Tmax of the A-law scale."""
    level = 20 * math.log10(32767 / 22827.0)
    x = Timeline((Tone(start=0, duration=SEC, freqs=(1000.0,), level_dbm0=level),)).render(0, SEC)
    assert int(np.abs(x.astype(np.int32)).max()) == 32767
    assert level_dbm0(x) == pytest.approx(3.14, abs=0.01)


def test_dtmf_keypad_matches_q23() -> None:
    """dtmf_freqs maps all 16 keys to the Q.23 pairs and rejects anything else."""
    for digit, pair in Q23.items():
        assert au.dtmf_freqs(digit) == pair
    for bad in ("E", "a", "", "12", " "):
        with pytest.raises(ValueError):
            au.dtmf_freqs(bad)


# --------------------------------------------------------------------------- DTMF


def burst(tl: Timeline, digit_index: int = 0) -> np.ndarray:
    on, off, _, _ = tl.dtmf_events()[digit_index]
    return tl.render(on, off)


@pytest.mark.parametrize("digit", sorted(Q23))
def test_dtmf_frequencies_and_levels_every_digit(digit: str) -> None:
    """Each digit's two tones are at the Q.23 frequencies (0.1 %) and -10 dBm0 each (0.1 dB)."""
    tl = Timeline((Dtmf(start=80, digits=digit, tone_ms=200, gap_ms=0, level_dbm0=-10.0),))
    (f_lo, l_lo), (f_hi, l_hi) = measure_tones(burst(tl), 2)
    lo, hi = Q23[digit]
    assert f_lo == pytest.approx(lo, rel=1e-3)
    assert f_hi == pytest.approx(hi, rel=1e-3)
    assert l_lo == pytest.approx(-10.0, abs=0.1)
    assert l_hi == pytest.approx(-10.0, abs=0.1)


@pytest.mark.parametrize(
    ("level", "twist", "common", "low_pct", "high_pct"),
    [
        (-4.0, -8.0, 0.0, None, None),  # high tone 8 dB weaker (normal twist limit)
        (-20.0, 4.0, 0.0, None, None),  # high tone 4 dB stronger (reverse twist limit)
        (-25.0, 0.0, 1.5, None, None),  # both tones +1.5 %
        (-10.0, 0.0, -3.5, None, None),  # both tones -3.5 %
        (-10.0, -6.0, 0.0, -2.0, 3.0),  # separate offsets per group
        (-10.0, 0.0, 2.0, None, -1.0),  # common offset overridden for the high group only
    ],
)
def test_dtmf_twist_and_offsets(
    level: float, twist: float, common: float, low_pct: float | None, high_pct: float | None
) -> None:
    """twist = level_high - level_low; offsets move the frequencies by the given percent."""
    seg = Dtmf(
        start=0, digits="5", tone_ms=250, gap_ms=0, level_dbm0=level, twist_db=twist,
        freq_offset_pct=common, low_offset_pct=low_pct, high_offset_pct=high_pct,
    )
    (f_lo, l_lo), (f_hi, l_hi) = measure_tones(burst(Timeline((seg,))), 2)
    lo_pct = common if low_pct is None else low_pct
    hi_pct = common if high_pct is None else high_pct
    assert f_lo == pytest.approx(770 * (1 + lo_pct / 100), rel=1e-3)
    assert f_hi == pytest.approx(1336 * (1 + hi_pct / 100), rel=1e-3)
    assert l_lo == pytest.approx(level, abs=0.1)
    assert l_hi - l_lo == pytest.approx(twist, abs=0.1)
    assert seg.tone_freqs("5") == pytest.approx(
        (770 * (1 + lo_pct / 100), 1336 * (1 + hi_pct / 100))
    )


def test_dtmf_tone_and_gap_durations_exact_to_the_sample() -> None:
    """Digit i sounds exactly on [start + i*(tone+gap), +tone): the samples there are the two
    sines started at phase zero at the onset, and every other sample is exactly zero."""
    seg = Dtmf(start=1234, digits="19#D", tone_ms=40, gap_ms=23, level_dbm0=-7.0, twist_db=-2.0)
    assert seg.dtmf_schedule() == [
        (1234, 1234 + 320, "1"),
        (1234 + 504, 1234 + 824, "9"),
        (1234 + 1008, 1234 + 1328, "#"),
        (1234 + 1512, 1234 + 1832, "D"),
    ]
    assert seg.end == 1234 + 1832
    x = Timeline((seg,)).render_float(0, 5000)
    expected = np.zeros_like(x)
    a_lo = 16141.167233665292 * 10 ** (-7 / 20) * math.sqrt(2)
    a_hi = 16141.167233665292 * 10 ** (-9 / 20) * math.sqrt(2)
    for on, off, d in seg.dtmf_schedule():
        n = np.arange(off - on)
        lo, hi = Q23[d]
        expected[on:off] = a_lo * np.sin(2 * np.pi * lo * n / FS) + a_hi * np.sin(
            2 * np.pi * hi * n / FS
        )
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-6)
    # The tone really occupies its last sample and the gap really starts after it.
    for on, off, _ in seg.dtmf_schedule():
        assert x[off - 1] != 0 and x[off] == 0 and x[on - 1] == 0


def test_dtmf_rejects_bad_parameters() -> None:
    """Unknown digits, empty strings and times that are not whole ticks are errors."""
    with pytest.raises(ValueError):
        Dtmf(start=0, digits="12E")
    with pytest.raises(ValueError):
        Dtmf(start=0, digits="")
    with pytest.raises(ValueError):
        Dtmf(start=0, digits="1", tone_ms=40.01)
    with pytest.raises(ValueError):
        Dtmf(start=0, digits="1", tone_ms=0)
    with pytest.raises(ValueError):
        Noise(start=-1, duration=10, level_dbm0=-20)
    with pytest.raises(TypeError):
        Noise(start=1.5, duration=10, level_dbm0=-20)  # type: ignore[arg-type]


def test_out_of_band_dtmf_renders_silence_but_keeps_its_schedule() -> None:
    """An out-of-band Dtmf renders digital zero, shows in dtmf_events flagged, and is not active."""
    oob = Dtmf(start=800, digits="42", tone_ms=60, gap_ms=40, out_of_band=True)
    inb = Dtmf(start=8000, digits="7", tone_ms=50, gap_ms=50)
    tl = Timeline((oob, inb), seed=5)
    x = tl.render(0, 8000)
    assert not x.any()
    assert tl.dtmf_events() == [
        (800, 1280, "4", True),
        (1600, 2080, "2", True),
        (8000, 8400, "7", False),
    ]
    assert tl.active_spans() == [(8000, 8400)]


# --------------------------------------------------------------------------- noise


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("level", [-20.0, -45.0])
def test_noise_level_within_0_1_db_over_10_s(color: Color, level: float) -> None:
    """Noise measures its level within 0.1 dB over 10 s, also on a span not aligned to chunks."""
    tl = Timeline((Noise(start=333, duration=120 * SEC, level_dbm0=level, color=color),), seed=9)
    for a in (333, 37 * SEC + 4321):
        assert level_dbm0(tl.render(a, a + 10 * SEC)) == pytest.approx(level, abs=0.1)


@pytest.mark.parametrize("color", ["white", "pink"])
def test_noise_level_exact_over_each_whole_chunk(color: Color) -> None:
    """Each whole 8192-sample chunk, cross-fade included, is normalised: its level is exact up to
    int16 rounding (0.01 dB at -20 dBm0)."""
    start = 1000
    tl = Timeline((Noise(start=start, duration=30 * au.NOISE_CHUNK, level_dbm0=-20, color=color),), 6)
    x = tl.render(start, start + 30 * au.NOISE_CHUNK).reshape(30, au.NOISE_CHUNK)
    for chunk in x:
        assert level_dbm0(chunk) == pytest.approx(-20.0, abs=0.01)


def test_white_noise_spectrum_is_flat() -> None:
    """Octave-band powers of white noise from 125 Hz to 3.2 kHz agree within 0.5 dB."""
    tl = Timeline((Noise(start=0, duration=60 * SEC, level_dbm0=-20),), seed=3)
    f, p = welch(tl.render(0, 60 * SEC).astype(np.float64), fs=FS, nperseg=4096)
    bands = [10 * math.log10(p[(f >= lo) & (f < 2 * lo)].mean()) for lo in (125, 250, 500, 1000, 2000)]
    assert max(bands) - min(bands) < 0.5


def test_white_noise_is_gaussian_and_uncorrelated() -> None:
    """White noise: near-zero lag-1..10 autocorrelation and Gaussian kurtosis (~3)."""
    x = Timeline((Noise(start=0, duration=20 * SEC, level_dbm0=-10),), seed=4).render(0, 20 * SEC)
    y = x.astype(np.float64)
    y -= y.mean()
    var = float(np.mean(y * y))
    for lag in range(1, 11):
        assert abs(float(np.mean(y[lag:] * y[:-lag])) / var) < 0.02
    assert float(np.mean(y**4)) / var**2 == pytest.approx(3.0, abs=0.1)


def test_pink_noise_slope_is_minus_3_db_per_octave() -> None:
    """A least-squares line through the pink PSD (100 Hz - 3 kHz, dB vs octaves) has slope -3±0.1."""
    tl = Timeline((Noise(start=0, duration=60 * SEC, level_dbm0=-20, color="pink"),), seed=3)
    f, p = welch(tl.render(0, 60 * SEC).astype(np.float64), fs=FS, nperseg=8192)
    band = (f >= 100) & (f <= 3000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-3.01, abs=0.1)


def test_noise_has_no_steps_at_chunk_joins() -> None:
    """Pink noise is as smooth across chunk boundaries as inside chunks (no clicks)."""
    tl = Timeline((Noise(start=0, duration=30 * SEC, level_dbm0=-20, color="pink"),), seed=2)
    y = tl.render_float(0, 30 * SEC)
    d = np.abs(np.diff(y))
    joins = np.arange(au.NOISE_CHUNK, y.size, au.NOISE_CHUNK) - 1
    assert d[joins].mean() < 2.5 * d.mean()


def test_noise_memory_stays_flat_for_a_24_hour_segment() -> None:
    """Rendering the last second of a 24-hour noise segment allocates well under 10 MB."""
    day = 86_400 * SEC
    tl = Timeline((Noise(start=0, duration=day, level_dbm0=-30, color="pink"),), seed=1)
    tl.render(0, 10)  # build the shared tables outside the measurement
    tracemalloc.start()
    try:
        x = tl.render(day - SEC, day + SEC)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
    assert x[:SEC].any() and not x[SEC:].any()
    assert level_dbm0(x[:SEC]) == pytest.approx(-30, abs=0.3)


# --------------------------------------------------------------------------- determinism


def clear_caches() -> None:
    for fn in (au._chunk_state, au._chunk_window, au._noise_chunk, au._noise_table, au._clip_bank):
        fn.cache_clear()


def mixed_timeline(seed: int) -> Timeline:
    return Timeline(
        (
            Noise(start=0, duration=30 * SEC, level_dbm0=-40),
            Noise(start=5 * SEC, duration=10 * SEC, level_dbm0=-30, color="pink"),
            Speech(start=SEC, duration=25 * SEC, level_dbm0=-18),
            Dtmf(start=3 * SEC, digits="123#", level_dbm0=-8),
            Tone(start=20 * SEC, duration=2 * SEC, freqs=(350.0, 440.0), level_dbm0=-13),
        ),
        seed=seed,
    )


def test_same_seed_identical_different_seed_different() -> None:
    """Same seed gives identical samples (even after every cache is dropped); another seed does
    not; the seed changes the noise and speech but not the tones or DTMF schedule."""
    a = mixed_timeline(7).render(0, 30 * SEC)
    clear_caches()
    b = mixed_timeline(7).render(0, 30 * SEC)
    c = mixed_timeline(8).render(0, 30 * SEC)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert mixed_timeline(7).dtmf_events() == mixed_timeline(8).dtmf_events()


def test_render_is_identical_in_a_new_process() -> None:
    """A fresh interpreter (new tables, empty caches) renders byte-identical audio."""
    code = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]); "
        "from simulator.audio import Dtmf, Noise, Speech, Timeline, Tone; "
        "tl = eval(sys.argv[2]); "
        "print(hashlib.sha256(tl.render(0, 30 * 8000).tobytes()).hexdigest())"
    )
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", code, root, repr(mixed_timeline(7))],
                         capture_output=True, text=True, check=True, cwd=root)
    here = hashlib.sha256(mixed_timeline(7).render(0, 30 * SEC).tobytes()).hexdigest()
    assert out.stdout.strip() == here


def test_segment_index_decorrelates_identical_segments() -> None:
    """Two identical noise segments in one call are independent (levels add in power: +3 dB)."""
    seg = Noise(start=0, duration=20 * SEC, level_dbm0=-30)
    x0 = seg.render(1, 0, 0, 20 * SEC)
    x1 = seg.render(1, 1, 0, 20 * SEC)
    assert abs(float(np.corrcoef(x0, x1)[0, 1])) < 0.02
    both = Timeline((seg, seg), seed=1).render(0, 20 * SEC)
    assert level_dbm0(both) == pytest.approx(-30 + 10 * math.log10(2), abs=0.1)


def test_seed_encoding_is_injective() -> None:
    """Seed tuples that a naive word concatenation would confuse give different noise."""
    x = Noise(start=0, duration=SEC, level_dbm0=-20)
    assert not np.array_equal(x.render(2**32 + 5, 0, 0, SEC), x.render(5, 1, 0, SEC))
    # (2**32+5, 0, 3) and (5, 1, 3 << 32) flatten to the same 32-bit words if ints are not
    # given a fixed width; SeedSequence would then return the same state.
    assert au._chunk_state(2**32 + 5, 0, 3, 1) != au._chunk_state(5, 1, 3 << 32, 1)
    with pytest.raises(ValueError):
        Timeline((), seed=-1)


segment_strategy = st.one_of(
    st.builds(
        Noise,
        start=st.integers(0, 40_000), duration=st.integers(0, 60_000),
        level_dbm0=st.floats(-60, 0), color=st.sampled_from(["white", "pink"]),
    ),
    st.builds(
        Tone,
        start=st.integers(0, 40_000), duration=st.integers(0, 30_000),
        freqs=st.lists(st.floats(50, 3900), min_size=1, max_size=3).map(tuple),
        level_dbm0=st.floats(-40, 0),
    ),
    st.builds(
        Dtmf,
        start=st.integers(0, 40_000), digits=st.text("0123456789*#ABCD", min_size=1, max_size=5),
        tone_ms=st.integers(1, 120), gap_ms=st.integers(0, 80), level_dbm0=st.floats(-40, 0),
        twist_db=st.floats(-10, 6), freq_offset_pct=st.floats(-4, 4),
    ),
    st.builds(Speech, start=st.integers(0, 40_000), duration=st.integers(0, 80_000),
              level_dbm0=st.floats(-40, -5)),
    st.builds(Silence, start=st.integers(0, 40_000), duration=st.integers(0, 10_000)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(segment_strategy, max_size=5),
    seed=st.integers(0, 2**64 - 1),
    cuts=st.lists(st.integers(0, 100_000), max_size=6),
)
def test_random_access_chunking_is_exact(segments: list, seed: int, cuts: list[int]) -> None:
    """Rendering [a,b) then [b,c) (any cut points, any order) equals rendering [a,c)."""
    tl = Timeline(tuple(segments), seed=seed)
    edges = sorted({0, 100_000, *cuts})
    whole = tl.render(0, 100_000)
    parts = {(p, q): tl.render(p, q) for p, q in reversed(list(zip(edges, edges[1:], strict=False)))}
    joined = np.concatenate([parts[(p, q)] for p, q in zip(edges, edges[1:], strict=False)])
    assert joined.dtype == np.int16 and joined.size == 100_000
    assert np.array_equal(joined, whole)


def test_random_access_across_noise_chunk_boundaries() -> None:
    """Spans starting and ending right at, before and after chunk joins and fades match."""
    tl = Timeline((Noise(start=17, duration=10 * au.NOISE_CHUNK, level_dbm0=-10, color="pink"),), 3)
    whole = tl.render(0, 11 * au.NOISE_CHUNK)
    c = au.NOISE_CHUNK + 17
    for p, q in [(c - 1, c + 1), (c, c + 255), (c + 255, c + 257), (c - 300, 3 * c), (16, 18)]:
        assert np.array_equal(tl.render(p, q), whole[p:q])


# --------------------------------------------------------------------------- mixing


def test_mix_adds_rounds_half_even_and_clips() -> None:
    """Overlapping segments add; the sum is rounded half to even and clipped to int16."""
    tone = Tone(start=0, duration=SEC, freqs=(1000.0,), level_dbm0=0.0)
    noise = Noise(start=SEC // 2, duration=SEC, level_dbm0=-20)
    tl = Timeline((tone, noise), seed=11)
    expected = tone.render(11, 0, 0, 2 * SEC) + noise.render(11, 1, 0, 2 * SEC)
    expected = np.clip(np.rint(expected), -32768, 32767).astype(np.int16)
    assert np.array_equal(tl.render(0, 2 * SEC), expected)

    loud = Timeline((Tone(start=0, duration=SEC, freqs=(500.0,), level_dbm0=6.0),))
    x = loud.render(0, SEC)
    assert x.max() == 32767 and x.min() == -32768
    # +6 dBm0 peaks at 45 544: a third of the samples or more sit at the rails.
    assert np.mean((x == 32767) | (x == -32768)) > 0.3


def test_uncovered_time_and_silence_are_digital_zero() -> None:
    """Time no segment covers, and a Silence segment, are exactly zero; Silence mutes nothing."""
    tl = Timeline(
        (Silence(start=0, duration=SEC), Tone(start=SEC // 2, duration=SEC, freqs=(403.0,))), 0
    )
    x = tl.render(0, 3 * SEC)
    assert not x[: SEC // 2].any() and not x[SEC // 2 + SEC :].any()
    assert np.count_nonzero(x[SEC // 2 : SEC]) > 0.9 * (SEC // 2)
    assert tl.active_spans() == [(SEC // 2, SEC // 2 + SEC)]
    assert Timeline((), seed=0).render(5, 9).tolist() == [0, 0, 0, 0]


def test_active_spans_merges_and_windows() -> None:
    """active_spans unions touching/overlapping spans and clips them to the requested window."""
    tl = Timeline(
        (
            Noise(start=100, duration=100, level_dbm0=-50),
            Tone(start=200, duration=50, freqs=(1000.0,)),
            Dtmf(start=400, digits="12", tone_ms=5, gap_ms=5),
        ),
        1,
    )
    assert tl.active_spans() == [(100, 250), (400, 440), (480, 520)]
    assert tl.active_spans(150, 420) == [(150, 250), (400, 420)]


# --------------------------------------------------------------------------- WAV files


def write_sine(path: Path, rate: int, seconds: float, channels: int) -> None:
    t = np.arange(int(rate * seconds)) / rate
    s = 0.25 * np.sin(2 * np.pi * 1000.0 * t)
    data = np.stack([s, np.zeros_like(s)], axis=1) if channels == 2 else s
    sf.write(path, data, rate, subtype="PCM_16")


@pytest.mark.parametrize("rate", [11025, 16000, 8000])
def test_wav_file_resampled_to_8k(tmp_path: Path, rate: int) -> None:
    """A 1 kHz sine WAV at 11025/16000/8000 Hz comes out at 8 kHz with ceil(n*8000/rate)
    samples, 1 kHz within 0.1 % and its level within 0.1 dB."""
    path = tmp_path / f"sine_{rate}.wav"
    write_sine(path, rate, 1.5, channels=1)
    seg = WavFile(start=800, path=str(path))
    n_in = int(rate * 1.5)
    assert seg.end - seg.start == math.ceil(n_in * 8000 / rate)
    x = Timeline((seg,)).render(0, seg.end + 100)
    assert not x[:800].any() and not x[seg.end :].any()
    ((f, level),) = measure_tones(x[800 + 800 : seg.end - 800], 1)  # skip the filter edges
    assert f == pytest.approx(1000.0, rel=1e-3)
    assert level == pytest.approx(rms_to_dbm0(0.25 * 32768 / math.sqrt(2)), abs=0.1)


def test_wav_file_stereo_is_mono_mixed_gain_duration_and_loop(tmp_path: Path) -> None:
    """Stereo is averaged (sine + silence -> -6.02 dB); gain_db scales; duration truncates or,
    with loop, repeats the file; without loop the rest is zero."""
    path = tmp_path / "stereo.wav"
    write_sine(path, 8000, 0.5, channels=2)
    mono = WavFile(start=0, path=str(path)).render(0, 0, 0, 4000)
    ref = np.round(0.25 * np.sin(2 * np.pi * 1000.0 * np.arange(4000) / 8000) * 32767) / 2
    np.testing.assert_allclose(mono, ref, atol=0.51)
    g = WavFile(start=0, path=str(path), gain_db=-6.0).render(0, 0, 0, 4000)
    np.testing.assert_allclose(g, mono * 10 ** (-6 / 20))
    looped = WavFile(start=0, path=str(path), duration=10_000, loop=True).render(0, 0, 0, 10_000)
    assert np.array_equal(looped[4000:8000], mono) and np.array_equal(looped[8000:], mono[:2000])
    padded = WavFile(start=0, path=str(path), duration=10_000).render(0, 0, 0, 10_000)
    assert np.array_equal(padded[:4000], mono) and not padded[4000:].any()
    assert Timeline((WavFile(start=0, path=str(path), duration=10_000),)).active_spans() == [(0, 4000)]


# --------------------------------------------------------------------------- speech


def own_active_level(x: np.ndarray) -> float:
    """The documented active-level rule, re-implemented: 160-sample frames from the first sample,
    frames within 40 dB of the loudest are active, RMS over those in dBm0."""
    n = x.size // 160
    e = (x[: n * 160].astype(np.float64).reshape(n, 160) ** 2).sum(axis=1)
    act = e >= e.max() / 10**4
    return 20 * math.log10(math.sqrt(e[act].sum() / (160 * act.sum())) / 16141.167233665292)


def test_speech_clips_scaled_to_active_level_with_pauses() -> None:
    """Every placed clip has the requested active level (0.1 dB); clips do not overlap and are
    separated by at least min_pause_ms; all bundled clips get used; gaps are digital zero."""
    seg = Speech(start=SEC, duration=120 * SEC, level_dbm0=-22.0, min_pause_ms=250)
    tl = Timeline((seg,), seed=12)
    x = tl.render(0, 122 * SEC)
    places = seg.placements(12, 0, 0, 122 * SEC)
    assert {name for _, _, name in places} == set(au.SPEECH_CLIPS)
    for (_, e, _), (s2, _, _) in zip(places, places[1:], strict=False):
        assert s2 - e >= 250 * 8
    for s, e, _ in places[:-1]:
        assert own_active_level(x[s:e]) == pytest.approx(-22.0, abs=0.1)
    mask = np.zeros(x.size, bool)
    for s, e, _ in places:
        mask[s:e] = True
    assert not x[~mask].any()
    assert tl.active_spans() == [(s, min(e, seg.end)) for s, e, _ in places]


def test_speech_fixed_pause_places_longest_clip_exactly() -> None:
    """With min_pause = max_pause the slot is longest clip + pause, and the longest clip sits
    exactly min_pause after its slot start (the slot rule is deterministic at its edge)."""
    seg = Speech(start=0, duration=300 * SEC, clips=("speech_de.wav",), min_pause_ms=300,
                 max_pause_ms=300)
    places = seg.placements(4, 2, 0, 300 * SEC)
    length = au.load_wav(audio_path("speech_de.wav")).size
    assert [s for s, _, _ in places[:5]] == [2400 + k * (length + 2400) for k in range(5)]
    assert all(e - s == length for s, e, _ in places)


def test_speech_clip_from_path_and_errors(tmp_path: Path) -> None:
    """Clips may be given as paths; a silent clip is rejected with ValueError."""
    clip = str(audio_path("speech_de.wav"))
    seg = Speech(start=0, duration=20 * SEC, clips=(clip,), level_dbm0=-15)
    x = seg.render(0, 0, 0, 20 * SEC)
    assert x.any()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000), 8000, subtype="PCM_16")
    with pytest.raises(ValueError):
        Speech(start=0, duration=SEC, clips=(str(silent),)).render(0, 0, 0, SEC)


def test_bundled_speech_fixtures() -> None:
    """4-6 bundled espeak-ng clips: 8 kHz mono PCM_16, 3-8 s each, < 400 KB in all, all in README."""
    readme = audio_path("README.md").read_text()
    total = 0
    assert 4 <= len(au.SPEECH_CLIPS) <= 6
    for name in au.SPEECH_CLIPS:
        p = audio_path(name)
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (8000, 1, "PCM_16", "WAV")
        assert 3.0 <= info.duration <= 8.0
        assert name in readme
        total += p.stat().st_size
    assert total < 400_000
    assert "espeak-ng" in readme and "1.51" in readme


def test_exports_exist() -> None:
    """Every name in simulator.audio.__all__ exists."""
    for name in au.__all__:
        assert hasattr(au, name), name


def test_dtmf_impurities_at_their_frequencies_and_levels() -> None:
    """Each impurity key adds one sine: the second harmonic of the low/high tone relative to that
    tone, the third-order products |2 f_low - f_high| and 2 f_high - f_low relative to the weaker
    tone; without the keys the segment is the plain two-tone digit."""
    seg = Dtmf(start=80, digits="5", tone_ms=200, gap_ms=0, level_dbm0=-10.0, twist_db=-2.0,
               low_harmonic_db=-6.0, high_harmonic_db=-9.0, im3_below_db=-12.0, im3_above_db=-15.0)
    got = sorted(measure_tones(burst(Timeline((seg,))), 6))
    want = sorted([(770.0, -10.0), (1336.0, -12.0), (1540.0, -16.0), (2672.0, -21.0),
                   (abs(2 * 770.0 - 1336.0), -24.0), (2 * 1336.0 - 770.0, -27.0)])
    for (f, lv), (wf, wl) in zip(got, want, strict=True):
        assert f == pytest.approx(wf, rel=1e-3)
        assert lv == pytest.approx(wl, abs=0.1)
    assert [(f, rel) for f, _l, rel in seg.impurities("5")] == [
        (1540.0, -6.0), (2672.0, -9.0), (204.0, -12.0), (1902.0, -15.0)]
    plain = Dtmf(start=80, digits="5", tone_ms=200, gap_ms=0, level_dbm0=-10.0, twist_db=-2.0)
    assert plain.impurities("5") == []


def test_dtmf_impurity_outside_the_band_is_refused() -> None:
    """A second harmonic past 4 kHz cannot be rendered at 8 kHz: the segment refuses it."""
    with pytest.raises(ValueError, match="impurity"):
        Dtmf(start=0, digits="D", high_offset_pct=30.0, high_harmonic_db=-6.0)
