"""Hangup at every instant (SD-HANGUP, SD-FILES-LEFT, SD-START-FALSE).

The far end hangs up at frame boundaries 0..199 and at 1, 37, 80 and 159 samples into each of
those frames, for all six formats at 8000 Hz and, on a subset, at the resampled rates. Every run
must end with cause ``HANGUP`` at the hangup instant, publish exactly one WAV that
``conformance.wavread`` validates, that ``conformance.decoders`` decodes and that libsndfile reads
(except OKI, which libsndfile does not read in a WAV), holding exactly the whole frames before the
hangup (SD-HANGUP: a partial frame, at most 20 ms, is dropped) and nothing after. The content is
compared with the far-end audio (loud white noise, so a shift or a missing frame shows): an SNR
floor per codec at 8000 Hz, a correlation floor against ``scipy.signal.resample_poly`` at other
rates.

The default run samples 16 frames; the exhaustive 200-frame grid is marked slow.
"""

from __future__ import annotations

import functools
import io
from math import gcd

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from conformance.decoders import decode_wav
from conformance.wavread import validate_wav
from recorder import Cause, FileRecorder, State
from simulator import CallChannel, CallState, Clock
from simulator.audio import Noise, Timeline

FORMATS = ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")
FRAME = 160
OFFSETS = (0, 1, 37, 80, 159)
SAMPLED_FRAMES = (0, 1, 2, 3, 4, 5, 7, 10, 16, 25, 49, 99, 100, 150, 198, 199)
#: SNR floors (dB) of decoded audio against the far end at 8000 Hz, for -10 dBm0 white noise.
#: Measured: A-law 37.4, mu-law 37.3, u8bit 30.8, IMA >= 14.6, OKI >= 14.2 (after the first
#: ADPCM_SETTLE samples; s16bit is exact).
ADPCM_SETTLE = 100
SNR_FLOOR = {"alaw": 34.0, "ulaw": 34.0, "u8bit": 28.0, "ima": 12.0, "oki": 12.0}
#: Correlation floor against resample_poly of the far end at 6000/11000/11025 Hz (measured
#: >= 0.9998 for G.711/PCM, >= 0.982 for the ADPCM codecs).
CORR_FLOOR = {"alaw": 0.995, "ulaw": 0.995, "u8bit": 0.995, "s16bit": 0.999, "ima": 0.97, "oki": 0.97}


class ArraySource:
    """Far-end audio from one precomputed array (rendered once, shared by every run)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def render(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, dtype=np.int16)
        lo, hi = max(a, 0), min(b, len(self.x))
        if hi > lo:
            out[lo - a : hi - a] = self.x[lo:hi]
        return out


@functools.cache
def far_end() -> np.ndarray:
    """Five seconds of loud white noise (-10 dBm0), then digital silence."""
    tl = Timeline((Noise(start=0, duration=5 * 8000, level_dbm0=-10),), seed=7)
    return tl.render(0, 5 * 8000)


def record_until_hangup(fmt: str, rate: int, hangup_tick: int) -> tuple[CallChannel, Cause]:
    clock = Clock()
    ch = CallChannel(clock, recorder_factory=FileRecorder, audio=ArraySource(far_end()))
    ch.schedule_state(hangup_tick, CallState.IDLE, reason="hangup")
    cause = ch.FileRecorder.record(filename="h.wav", file_format=fmt, rate=rate)
    return ch, cause


def check_run(fmt: str, rate: int, hangup_tick: int) -> None:
    where = f"{fmt} {rate} Hz, hangup at tick {hangup_tick}"
    ch, cause = record_until_hangup(fmt, rate, hangup_tick)
    r = ch.FileRecorder
    assert cause is Cause.HANGUP, where
    assert r.cause() is Cause.HANGUP and r.state() is State.IDLE, where
    assert ch.clock.now == hangup_tick, where
    assert ch.store.list() == ["h.wav"] and ch.store.open_writers() == 0, where
    assert [e["cause"] for e in ch.log.of_kind("job-end")] == ["HANGUP"], where
    data = ch.store.read("h.wav")
    assert validate_wav(data, fmt, rate) == [], where
    _info, x = decode_wav(data)
    n_in = hangup_tick // FRAME * FRAME  # SD-HANGUP: whole frames before the hangup, no more
    n_out = -(-n_in * rate // 8000)
    assert len(x) == n_out, f"{where}: {len(x)} samples, expected {n_out}"
    if fmt != "oki":  # libsndfile reads no OKI ADPCM inside a WAV
        y, got_rate = sf.read(io.BytesIO(data), dtype="int16")
        assert got_rate == rate, where
        if fmt == "ima":  # libsndfile decodes whole blocks and ignores the fact count
            assert n_out <= len(y) < n_out + 505, where
            y = y[:n_out]
        assert np.array_equal(y, x), f"{where}: libsndfile and our decoder disagree"
    if n_in == 0:
        return
    ref = far_end()[:n_in].astype(np.float64)
    got = x.astype(np.float64)
    # ADPCM starts from the smallest step size: its first ~100 samples track the loud noise
    # poorly (measured SNR ~10 dB in the first frame), so the floors apply after them.
    skip = ADPCM_SETTLE if fmt in ("ima", "oki") else 0
    if rate == 8000:
        err = got[skip:] - ref[skip:]
        if fmt == "s16bit":
            assert not err.any(), where
        else:
            snr = 10 * np.log10(np.sum(ref[skip:] ** 2) / np.sum(err**2))
            assert snr >= SNR_FLOOR[fmt], f"{where}: SNR {snr:.1f} dB"
    else:
        g = gcd(rate, 8000)
        want = resample_poly(ref, rate // g, 8000 // g)
        # skip the filter start-up (and ADPCM settling) and the flushed tail
        a, b = max(40, skip), min(len(want), n_out) - 40
        if b - a >= 40:
            corr = np.corrcoef(want[a:b], got[a:b])[0, 1]
            assert corr >= CORR_FLOOR[fmt], f"{where}: correlation {corr:.4f}"


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_hangup_at_sampled_instants(fmt: str, offset: int) -> None:
    """SD-HANGUP at 8000 Hz: 16 sampled frames x this sub-frame offset -> HANGUP, exact file."""
    for k in SAMPLED_FRAMES:
        check_run(fmt, 8000, k * FRAME + offset)


@pytest.mark.parametrize("rate", [6000, 11000, 11025])
@pytest.mark.parametrize("fmt", ["alaw", "ima", "s16bit", "oki"])
def test_hangup_resampled(fmt: str, rate: int) -> None:
    """SD-HANGUP at resampled rates: the file holds ceil(n*rate/8000) samples of the frames."""
    for k, offset in ((0, 0), (1, 0), (3, 37), (17, 159), (60, 1), (199, 80)):
        check_run(fmt, rate, k * FRAME + offset)


@pytest.mark.slow
@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_hangup_every_frame_exhaustive(fmt: str, offset: int) -> None:
    """SD-HANGUP: every one of the first 200 frames at this offset (slow: 6,000 runs in all)."""
    for k in range(200):
        check_run(fmt, 8000, k * FRAME + offset)


@pytest.mark.slow
@pytest.mark.parametrize("rate", [6000, 11000, 11025])
@pytest.mark.parametrize("fmt", FORMATS)
def test_hangup_every_frame_resampled_exhaustive(fmt: str, rate: int) -> None:
    """SD-HANGUP at resampled rates, every 7th frame of the first 200 at two offsets (slow)."""
    for k in range(0, 200, 7):
        for offset in (0, 80):
            check_run(fmt, rate, k * FRAME + offset)


@pytest.mark.parametrize("method", ["record", "start"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_hangup_before_first_frame_boundary(method: str, fmt: str) -> None:
    """SD-START / SD-START-FALSE: called mid-frame, hangup before the next boundary: cause
    HANGUP, start() returns False, and an empty but valid WAV is published (SD-FILES-LEFT)."""
    clock = Clock()
    ch = CallChannel(clock, recorder_factory=FileRecorder, audio=ArraySource(far_end()))
    ch.schedule_state(100, CallState.IDLE)
    ch.clock.sleep(50)
    r = ch.FileRecorder
    if method == "start":
        assert r.start(filename="h.wav", file_format=fmt) is False
    else:
        assert r.record(filename="h.wav", file_format=fmt) is Cause.HANGUP
    assert r.cause() is Cause.HANGUP and r.state() is State.IDLE and clock.now == 100
    data = ch.store.read("h.wav")
    assert validate_wav(data, fmt, 8000) == []
    assert len(decode_wav(data)[1]) == 0
