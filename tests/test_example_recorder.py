"""The second, independently written recorder (examples/buffered_recorder.py) behaves per spec.

Scenarios driven directly through the call channel (silence, size, hangup, timeout, barge-in,
each format), checked against the spec/decision values and read back by soundfile and by the
suite's independent WAV reader; then the whole conformance suite must find no FAIL.
"""

from __future__ import annotations

import numpy as np
import pytest

import conformance
from conformance.wavread import validate_wav
from examples.buffered_recorder import BufferedRecorder
from recorder import Cipher
from simulator import CallState, Error, Hangup
from simulator.store import FaultPlan
from tests.helpers import dtmf, make_call, ms, noise, read_wav, speech, tone

B = BufferedRecorder


def test_silence_stop_exact_frame():
    """SPEC-SILENCE, SD-SILENCE: SILENCE at the end of the 100th silent frame after the tone."""
    ch = make_call(tone(0, 500), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="s", milliseconds_max_silence=2000) is r.Cause.SILENCE
    assert ch.clock.now == ms(2500)
    assert r.audio_detected_in_recording() is True and r.state() is r.State.IDLE
    x, rate = read_wav(ch.store.read("s"))
    assert rate == 8000 and len(x) == 2500 * 8


def test_initial_silence():
    """SPEC-INITIAL-SILENCE, SD-INITIAL-SILENCE: no audio in 3 s -> SILENCE at 3 s, no audio."""
    ch = make_call(tone(5000, 1000), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="i", milliseconds_initial_silence=3000) is r.Cause.SILENCE
    assert ch.clock.now == ms(3000) and r.audio_detected_in_recording() is False


@pytest.mark.parametrize("fmt,per_sample", [("alaw", 1), ("s16bit", 2)])
def test_size_limit(fmt, per_sample):
    """SPEC-SIZE, SD-SIZE: data never above max_bytes; SIZE at the frame reaching it."""
    ch = make_call(tone(0, 10_000), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="z", file_format=fmt, max_bytes=1000) is r.Cause.SIZE
    x, _ = read_wav(ch.store.read("z"))
    assert len(x) == 1000 // per_sample
    assert ch.clock.now == -(-(1000 // per_sample) // 160) * 160


def test_hangup_keeps_audio_up_to_last_frame():
    """SPEC-HANGUP-CAUSE, SD-HANGUP: record returns HANGUP; whole frames before it are kept."""
    ch = make_call(noise(0, 10_000, -20), factory=B, hangup_ms=3210)
    r = ch.FileRecorder
    assert r.record(filename="h") is r.Cause.HANGUP
    x, _ = read_wav(ch.store.read("h"))
    assert len(x) == 3200 * 8


def test_timeout_and_exact_audio():
    """SPEC-RECORD-TIMEOUT, SPEC-WAV: TIMEOUT after 2 s; 16-bit data equals the call audio."""
    ch = make_call(noise(0, 10_000, -20), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="t", file_format="s16bit", seconds_timeout=2) is r.Cause.TIMEOUT
    x, _ = read_wav(ch.store.read("t"))
    assert np.array_equal(x, ch.render(0, 16000))


def test_bargein_nominal_digit_inband():
    """SPEC-BARGEIN: a nominal in-band digit ends the job within the tone; off: no barge-in."""
    ch = make_call(speech(0, 2000), dtmf(2500, "5", tone_ms=80, gap_ms=80), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="b", barge_in=True) is r.Cause.BARGEIN
    assert ms(2500) < ch.clock.now <= ms(2580)
    ch2 = make_call(speech(0, 2000), dtmf(2500, "5", tone_ms=80, gap_ms=80), factory=B)
    assert ch2.FileRecorder.record(filename="b", milliseconds_max_silence=1000) is r.Cause.SILENCE


def test_bargein_out_of_band_and_digit_before_job():
    """SPEC-BARGEIN (RFC 4733 event at its onset), SD-DTMF-BUFFER (old digit ignored)."""
    ch = make_call(tone(0, 5000), dtmf(1234, "#", out_of_band=True), factory=B)
    assert ch.FileRecorder.record(filename="o", barge_in=True).name == "BARGEIN"
    assert ch.clock.now == ms(1234)
    ch2 = make_call(dtmf(0, "1", tone_ms=300, gap_ms=0), factory=B)
    ch2.sleep(0.2)
    assert ch2.FileRecorder.record(filename="o", barge_in=True,
                                   milliseconds_max_silence=1000).name == "SILENCE"


def test_start_wait_stop_and_exceptions():
    """SPEC-START, SPEC-WAIT-TIMEOUT, SD-WAIT-TIMEOUT, SPEC-STOP, SPEC-EXC-*."""
    ch = make_call(tone(0, 60_000), factory=B)
    r = ch.FileRecorder
    assert r.audio_detected_in_recording() is None and r.cause() is r.Cause.NONE
    assert r.start(filename="w", milliseconds_max_silence=0) is True
    with pytest.raises(Error):
        r.start(filename="x")
    assert r.wait_until_finished(1) is r.Cause.TIMEOUT and r.state() is r.State.RECORDING
    assert r.stop() is True and r.cause() is r.Cause.ABORTED
    ch.change_state(CallState.ON_HOLD)
    with pytest.raises(Error):
        r.record(filename="x")
    ch.change_state(CallState.IDLE)
    with pytest.raises(Hangup):
        r.stop()


def test_store_failure_gives_error_state():
    """SPEC-STATE-ERROR, SD-FILES-LEFT: a store failure -> ERROR/ERROR, nothing published."""
    ch = make_call(tone(0, 1000), factory=B)
    ch.store.faults = FaultPlan(capacity_bytes=4000)
    r = ch.FileRecorder
    assert r.record(filename="e", milliseconds_max_silence=500) is r.Cause.ERROR
    assert r.state() is r.State.ERROR and not ch.store.exists("e")


def test_cipher_encrypts_whole_file():
    """SPEC-CIPHER: the stored file is the openssl-compatible encryption of a valid WAV."""
    c = Cipher("00112233445566778899aabbccddeeff", "0f0e0d0c0b0a09080706050403020100")
    ch = make_call(tone(0, 1000), factory=B)
    ch.FileRecorder.record(filename="c", milliseconds_max_silence=500, cipher=c)
    data = ch.store.read("c")
    assert data[:4] != b"RIFF" and c.validate(data)
    assert validate_wav(c.decrypt(data), "alaw", 8000) == []


@pytest.mark.parametrize("rate", [8000, 6000, 11000, 11025])
@pytest.mark.parametrize("fmt", ["alaw", "ulaw", "s16bit", "u8bit", "ima", "oki"])
def test_each_format_and_rate(fmt, rate):
    """SPEC-FORMATS, SPEC-RATES, SPEC-WAV: valid per the independent reader; soundfile reads all
    but OKI (tag 0x0017) back as a -10 dBm0 440 Hz tone of the right length."""
    ch = make_call(tone(0, 3000, freq=440, level=-10), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="f", file_format=fmt, rate=rate, milliseconds_max_silence=500) is r.Cause.SILENCE
    data = ch.store.read("f")
    assert validate_wav(data, fmt, rate) == []
    if fmt == "oki":
        return
    x, got_rate = read_wav(data)
    expect = -(-3500 * 8 * rate // 8000)
    assert got_rate == rate
    assert (expect <= len(x) < expect + 505) if fmt == "ima" else len(x) == expect
    seg = x[int(0.5 * rate): int(2.5 * rate)].astype(float)
    t = np.arange(len(seg)) / rate
    fit = np.linalg.lstsq(np.c_[np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)], seg, rcond=None)[0]
    assert abs(20 * np.log10(float(np.hypot(*fit)) / 22827) + 10) < 0.6


def test_oki_odd_sample_count():
    """SPEC-FORMATS (oki): an odd number of samples (0.1 s at 11025 Hz = 1103) is padded to
    whole bytes; 'fact' keeps the true count and the independent reader accepts the file."""
    ch = make_call(tone(0, 3000), factory=B)
    r = ch.FileRecorder
    assert r.record(filename="o", file_format="oki", rate=11025, seconds_timeout=0.1, max_bytes=0,
                    milliseconds_max_silence=0) is r.Cause.TIMEOUT
    data = ch.store.read("o")
    assert validate_wav(data, "oki", 11025) == []
    assert data[data.index(b"fact") + 8: data.index(b"fact") + 12] == (1103).to_bytes(4, "little")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(conformance, "check_recorder"),
                    reason="conformance.check_recorder not yet implemented")
def test_conformance_suite_finds_no_fail():
    """The whole CI profile: zero FAIL for the independent recorder (about 10 s of CPU)."""
    report = conformance.check_recorder(BufferedRecorder, profile="ci")
    assert not report.failed, [f"{c.id}: {c.summary()}" for c in report.failed]
