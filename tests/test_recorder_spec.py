"""The reference FileRecorder against every clause of the spec page and every decision.

Each test names the clause (SPEC-*) or decision (SD-*, docs/spec-decisions.md) it covers.
"""

from __future__ import annotations

import pytest

import simulator
from recorder import Cause, FileRecorder, State
from simulator import CallState, Error, Hangup
from tests.helpers import dtmf, make_call, ms, read_wav, speech, tone


# -- SPEC-EXAMPLES: every usage example on the spec page runs unchanged -------------------------
def test_spec_example_cause_usage():
    """SPEC-CAUSE example: state/cause check after a job."""
    channel = make_call(tone(0, 1000))
    channel.FileRecorder.record(filename="recfile", milliseconds_max_silence=2000)
    state = channel.FileRecorder.state()
    assert state != channel.FileRecorder.State.RECORDING
    cause = channel.FileRecorder.cause()
    assert cause == channel.FileRecorder.Cause.SILENCE


def test_spec_example_state_usage():
    """SPEC-STATE example: state is RECORDING while a job is in progress."""
    channel = make_call(tone(0, 60_000))
    assert channel.FileRecorder.start(filename="recfile") is True
    state = channel.FileRecorder.state()
    assert state == channel.FileRecorder.State.RECORDING


def test_spec_example_audio_detected():
    """SPEC-AUDIO example: record until 2 s of silence, then ask whether audio was detected."""
    channel = make_call(speech(0, 1500))
    cause = channel.FileRecorder.record(filename="recfile", milliseconds_max_silence=2000)
    assert cause == channel.FileRecorder.Cause.SILENCE
    assert channel.FileRecorder.audio_detected_in_recording() is True


def test_spec_example_record_silence():
    """SPEC-RECORD example: two seconds of silence ends the job with SILENCE."""
    channel = make_call(tone(0, 500))
    cause = channel.FileRecorder.record(filename="recfile", milliseconds_max_silence=2000)
    assert cause == channel.FileRecorder.Cause.SILENCE
    # SD-SILENCE: stop at the end of the 100th silent frame after the tone (500 ms + 2000 ms)
    assert channel.clock.now == ms(2500)


def test_spec_example_start_then_wait():
    """SPEC-START / SPEC-WAIT examples: start, do something else, wait_until_finished."""
    channel = make_call(tone(0, 300))
    if channel.FileRecorder.start(filename="recfile", milliseconds_max_silence=2000) == True:  # noqa: E712
        channel.sleep(0.5)
        cause = channel.FileRecorder.wait_until_finished()
        assert cause == channel.FileRecorder.Cause.SILENCE
    else:
        pytest.fail("start returned False")


def test_spec_example_start_then_stop():
    """SPEC-STOP example: start, then stop -> ABORTED."""
    channel = make_call(tone(0, 60_000))
    if channel.FileRecorder.start(filename="recfile") == True:  # noqa: E712
        channel.sleep(1.0)
        assert channel.FileRecorder.stop() is True
    assert channel.FileRecorder.cause() == Cause.ABORTED
    x, rate = read_wav(channel.store.read("recfile"))
    assert rate == 8000 and len(x) == 8000


# -- API shape --------------------------------------------------------------------------------
def test_api_enums_and_exceptions():
    """SPEC-CAUSE, SPEC-STATE: the 8 causes and 3 states; Hangup/Error from simulator."""
    assert {c.name for c in Cause} == {"ERROR", "BARGEIN", "SILENCE", "SIZE", "ABORTED", "HANGUP", "TIMEOUT", "NONE"}
    assert {s.name for s in State} == {"RECORDING", "IDLE", "ERROR"}
    assert simulator.Hangup is Hangup and simulator.Error is Error
    assert FileRecorder.Cause is Cause and FileRecorder.State is State


def test_signatures_match_the_spec():
    """SPEC-RECORD, SPEC-START, SPEC-WAIT: parameter names, order and defaults."""
    import inspect

    rec = inspect.signature(FileRecorder.record).parameters
    assert list(rec)[1:] == ["filename", "file_format", "rate", "seconds_timeout", "max_bytes",
                             "milliseconds_max_silence", "milliseconds_initial_silence", "barge_in", "cipher"]
    defaults = {k: v.default for k, v in rec.items() if k not in ("self", "filename")}
    assert defaults == {"file_format": "alaw", "rate": 8000, "seconds_timeout": 120, "max_bytes": 1920000,
                        "milliseconds_max_silence": 10000, "milliseconds_initial_silence": 0,
                        "barge_in": False, "cipher": None}
    st = inspect.signature(FileRecorder.start).parameters
    assert list(st)[1:] == ["filename", "file_format", "rate", "max_bytes", "milliseconds_max_silence",
                            "milliseconds_initial_silence", "barge_in", "cipher"]
    assert inspect.signature(FileRecorder.wait_until_finished).parameters["seconds_timeout"].default == 120


def test_initial_state_cause_audio():
    """SPEC-STATE-FN, SPEC-CAUSE-FN, SPEC-AUDIO: IDLE, NONE and None before any job."""
    r = make_call().FileRecorder
    assert r.state() is State.IDLE and r.cause() is Cause.NONE and r.audio_detected_in_recording() is None


def test_during_job_cause_none_audio_none():
    """SPEC-CAUSE-FN, SPEC-AUDIO: cause NONE and audio None while a job runs."""
    ch = make_call(tone(0, 10_000))
    r = ch.FileRecorder
    assert r.start(filename="x")
    ch.sleep(1)
    assert r.state() is State.RECORDING and r.cause() is Cause.NONE and r.audio_detected_in_recording() is None


# -- termination causes -----------------------------------------------------------------------
def test_timeout_default_alaw_120s():
    """SPEC-RECORD-TIMEOUT, SD-TIMER: A-law with defaults meets the 120 s timer first."""
    ch = make_call(tone(0, 200_000))
    assert ch.FileRecorder.record(filename="t.wav") is Cause.TIMEOUT
    assert ch.clock.now == ms(120_000)
    x, _ = read_wav(ch.store.read("t.wav"))
    assert len(x) == 960_000


def test_default_16bit_tie_gives_size():
    """SD-TIES: 16-bit at defaults reaches max_bytes and the timer at 120 s together: SIZE."""
    ch = make_call(tone(0, 200_000))
    assert ch.FileRecorder.record(filename="t.wav", file_format="s16bit") is Cause.SIZE
    assert ch.clock.now == ms(120_000)
    data = ch.store.read("t.wav")
    x, _ = read_wav(data)
    assert len(x) * 2 == 1_920_000


@pytest.mark.parametrize("fmt,per_sample", [("alaw", 1), ("ulaw", 1), ("u8bit", 1), ("s16bit", 2)])
def test_size_limit_sample_exact(fmt, per_sample):
    """SPEC-SIZE, SD-SIZE: data never above max_bytes; SIZE at the frame reaching it."""
    ch = make_call(tone(0, 10_000))
    assert ch.FileRecorder.record(filename="s", file_format=fmt, max_bytes=1000) is Cause.SIZE
    x, _ = read_wav(ch.store.read("s"))
    assert len(x) == 1000 // per_sample
    frames = -(-(1000 // per_sample) // 160)
    assert ch.clock.now == frames * 160


def test_max_bytes_zero_means_no_limit():
    """SPEC-ZERO-OFF: max_bytes=0 -> no size limit (the timer ends a 16-bit job at 120 s)."""
    ch = make_call(tone(0, 200_000))
    assert ch.FileRecorder.record(filename="t", file_format="s16bit", max_bytes=0) is Cause.TIMEOUT


def test_silence_zero_means_no_silence_limit():
    """SPEC-ZERO-OFF: milliseconds_max_silence=0 -> silence never stops the job."""
    ch = make_call()
    assert ch.FileRecorder.record(filename="t", milliseconds_max_silence=0, seconds_timeout=30) is Cause.TIMEOUT


def test_initial_silence():
    """SPEC-INITIAL-SILENCE, SD-INITIAL-SILENCE: no audio within the initial silence -> SILENCE."""
    ch = make_call(tone(5000, 1000))
    assert ch.FileRecorder.record(filename="t", milliseconds_initial_silence=3000,
                                  milliseconds_max_silence=10000) is Cause.SILENCE
    assert ch.clock.now == ms(3000)
    assert ch.FileRecorder.audio_detected_in_recording() is False


def test_initial_silence_suspends_max_silence_until_audio():
    """SD-INITIAL-SILENCE: with an initial limit, max silence does not govern leading silence."""
    ch = make_call(tone(3000, 1000))
    assert ch.FileRecorder.record(filename="t", milliseconds_initial_silence=5000,
                                  milliseconds_max_silence=1000) is Cause.SILENCE
    assert ch.clock.now == ms(5000)  # tone 3000-4000, then 1000 ms of silence


def test_initial_silence_zero_max_silence_covers_leading_silence():
    """SD-INITIAL-SILENCE: with 0, the maximum-silence timer runs from the job's start."""
    ch = make_call(tone(3000, 1000))
    assert ch.FileRecorder.record(filename="t", milliseconds_max_silence=2000) is Cause.SILENCE
    assert ch.clock.now == ms(2000)


def test_silence_boundary_one_frame_short_does_not_stop():
    """SD-SILENCE: a silence one frame shorter than the limit does not stop the job."""
    ch = make_call(tone(0, 500), tone(500 + 1980, 500))
    assert ch.FileRecorder.record(filename="t", milliseconds_max_silence=2000, seconds_timeout=4) is Cause.TIMEOUT
    ch2 = make_call(tone(0, 500), tone(500 + 2000, 500))
    assert ch2.FileRecorder.record(filename="t", milliseconds_max_silence=2000, seconds_timeout=4) is Cause.SILENCE
    assert ch2.clock.now == ms(2500)


def test_bargein_inband():
    """SPEC-BARGEIN: an in-band DTMF digit ends the job with BARGEIN when barge_in=True."""
    ch = make_call(speech(0, 2000), dtmf(2500, "5", tone_ms=80, gap_ms=80))
    assert ch.FileRecorder.record(filename="b", barge_in=True) is Cause.BARGEIN
    assert ms(2500) < ch.clock.now <= ms(2500 + 80)


def test_no_bargein_when_off():
    """SPEC-BARGEIN: digits do not end the job when barge_in=False."""
    ch = make_call(dtmf(500, "5", tone_ms=80, gap_ms=80))
    assert ch.FileRecorder.record(filename="b", milliseconds_max_silence=1000) is Cause.SILENCE


def test_bargein_out_of_band():
    """SPEC-BARGEIN (out-of-band): an RFC 4733 event ends the job at its onset."""
    ch = make_call(tone(0, 5000), dtmf(1234, "#", out_of_band=True))
    assert ch.FileRecorder.record(filename="b", barge_in=True) is Cause.BARGEIN
    assert ch.clock.now == ms(1234)


def test_digit_before_job_does_not_barge_in():
    """SD-DTMF-BUFFER: a digit sounding when the job starts does not barge in."""
    ch = make_call(dtmf(0, "1", tone_ms=300, gap_ms=0))
    ch.sleep(0.2)
    assert ch.FileRecorder.record(filename="b", barge_in=True, milliseconds_max_silence=1000) is Cause.SILENCE


def test_hangup_mid_record_returns_hangup():
    """SPEC-HANGUP-CAUSE, SD-HANGUP: record returns HANGUP; audio up to the hangup is kept."""
    ch = make_call(tone(0, 10_000), hangup_ms=3210)
    assert ch.FileRecorder.record(filename="h") is Cause.HANGUP
    assert ch.clock.now == ms(3210)
    x, _ = read_wav(ch.store.read("h"))
    assert len(x) == 3200 * 8  # whole frames before the hangup


def test_stop_gives_aborted_and_stop_when_idle_returns_true():
    """SPEC-STOP: stop() when not RECORDING returns True; stopping a job -> ABORTED."""
    ch = make_call(tone(0, 5000))
    r = ch.FileRecorder
    assert r.stop() is True
    assert r.start(filename="s")
    assert r.stop() is True
    assert r.cause() is Cause.ABORTED and r.state() is State.IDLE


def test_stop_right_after_start_gives_empty_valid_wav():
    """SD-FILES-LEFT: stop() right after start() with zero frames -> valid WAV, empty data."""
    ch = make_call(tone(0, 5000))
    assert ch.FileRecorder.start(filename="e.wav")
    assert ch.FileRecorder.stop()
    x, rate = read_wav(ch.store.read("e.wav"))
    assert len(x) == 0 and rate == 8000


def test_wait_until_finished_timeout_leaves_job_running():
    """SPEC-WAIT-TIMEOUT, SD-WAIT-TIMEOUT: TIMEOUT returned, job still running."""
    ch = make_call(tone(0, 60_000))
    r = ch.FileRecorder
    assert r.start(filename="w", milliseconds_max_silence=0)
    assert r.wait_until_finished(2) is Cause.TIMEOUT
    assert r.state() is State.RECORDING and r.cause() is Cause.NONE
    assert ch.clock.now == ms(2000)


def test_wait_until_finished_none_waits_forever():
    """SPEC-WAIT-NONE: None waits until the job ends, however long."""
    ch = make_call(tone(0, 400_000))
    r = ch.FileRecorder
    assert r.start(filename="w", max_bytes=0)
    assert r.wait_until_finished(None) is Cause.SILENCE
    assert ch.clock.now == ms(410_000)


def test_wait_until_finished_returns_cause_of_job():
    """SPEC-WAIT: returns the job's termination cause."""
    ch = make_call(tone(0, 1000))
    r = ch.FileRecorder
    assert r.start(filename="w", milliseconds_max_silence=1000)
    assert r.wait_until_finished() is Cause.SILENCE


# -- exception paths ----------------------------------------------------------------------------
ALL_CALL_STATES = list(CallState)


@pytest.mark.parametrize("state", ALL_CALL_STATES, ids=lambda s: s.value)
@pytest.mark.parametrize("method", ["record", "start", "stop", "wait_until_finished"])
def test_call_state_exceptions(method, state):
    """SPEC-EXC-HANGUP, SPEC-EXC-NOTANSWERED: IDLE -> Hangup, other non-ANSWERED -> Error."""
    ch = make_call(tone(0, 60_000), state=state)
    r = ch.FileRecorder
    args = {"filename": "x"} if method in ("record", "start") else {}
    if method == "record":
        args["seconds_timeout"] = 1
    if state is CallState.IDLE:
        with pytest.raises(Hangup):
            getattr(r, method)(**args)
    elif state is CallState.ANSWERED:
        getattr(r, method)(**args)
    else:
        with pytest.raises(Error):
            getattr(r, method)(**args)
    if state is not CallState.ANSWERED:
        assert ch.store.list() == [] and r.state() is State.IDLE


@pytest.mark.parametrize("method", ["record", "start"])
def test_error_when_already_recording(method):
    """SPEC-EXC-BUSY: record/start while RECORDING raise Error; the job continues."""
    ch = make_call(tone(0, 60_000))
    r = ch.FileRecorder
    assert r.start(filename="a")
    with pytest.raises(Error):
        getattr(r, method)(filename="b")
    assert r.state() is State.RECORDING
    assert not ch.store.exists("b")


def test_call_state_check_comes_first():
    """SPEC-EXC-ORDER: stop() on a hung-up call raises Hangup even though no job runs."""
    ch = make_call(state=CallState.IDLE)
    with pytest.raises(Hangup):
        ch.FileRecorder.stop()
    ch2 = make_call(tone(0, 60_000))
    r = ch2.FileRecorder
    assert r.start(filename="a")
    ch2.change_state(CallState.ON_HOLD)
    with pytest.raises(Error):  # call state check before "already recording"
        r.record(filename="b")


def test_hold_does_not_stop_job():
    """SD-HOLD: hold keeps the job recording; stop() during hold raises Error."""
    ch = make_call(tone(0, 60_000))
    ch.schedule_state(ms(1000), CallState.ON_HOLD)
    ch.schedule_state(ms(2000), CallState.ANSWERED)
    r = ch.FileRecorder
    assert r.start(filename="h")
    ch.sleep(1.5)
    with pytest.raises(Error):
        r.stop()
    assert r.state() is State.RECORDING
    ch.sleep(1.0)
    assert r.stop()
    x, _ = read_wav(ch.store.read("h"))
    assert len(x) == 2500 * 8


# -- formats and rates --------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [8000, 6000, 11000, 11025])
@pytest.mark.parametrize("fmt", ["alaw", "ulaw", "s16bit", "u8bit", "ima"])
def test_format_rate_soundfile_reads(fmt, rate):
    """SPEC-FORMATS, SPEC-RATES: each format x rate gives a WAV soundfile reads right."""
    import numpy as np

    ch = make_call(tone(0, 3000, freq=440, level=-10))
    assert ch.FileRecorder.record(filename="f.wav", file_format=fmt, rate=rate, milliseconds_max_silence=500) is Cause.SILENCE
    x, got_rate = read_wav(ch.store.read("f.wav"))
    assert got_rate == rate
    n_in = 3500 * 8
    expect = -(-n_in * rate // 8000)
    if fmt == "ima":
        assert expect <= len(x) < expect + 505
        x = x[:expect]
    else:
        assert len(x) == expect
    seg = x[int(0.5 * rate): int(2.5 * rate)].astype(float)
    t = np.arange(len(seg)) / rate
    fit = np.linalg.lstsq(np.c_[np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)], seg, rcond=None)[0]
    amp = float(np.hypot(*fit))
    assert abs(20 * np.log10(amp / 22827) - (-10)) < 0.6  # -10 dBm0 tone survives every codec


def test_repeat_job_overwrites_and_second_job_resets_audio_flag():
    """SD-NAME, SD-AUDIO: a second job replaces the file; audio flag None during it."""
    ch = make_call(tone(0, 1000))
    r = ch.FileRecorder
    r.record(filename="same", milliseconds_max_silence=500)
    assert r.audio_detected_in_recording() is True
    assert r.start(filename="same", milliseconds_max_silence=500)
    assert r.audio_detected_in_recording() is None
    assert r.wait_until_finished() is Cause.SILENCE
    assert r.audio_detected_in_recording() is False


# -- cipher ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_cipher_file_decrypts_with_openssl(bits, tmp_path):
    """SPEC-CIPHER, SD-CIPHER: the completed file is AES-CBC encrypted; `openssl enc -d` gives the WAV."""
    import shutil
    import subprocess

    from recorder import Cipher

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key = "00112233445566778899aabbccddeeff0011223344556677889900aabbccddee"[: bits // 4]
    iv = "0f0e0d0c0b0a09080706050403020100"
    ch = make_call(tone(0, 1500))
    assert ch.FileRecorder.record(filename="c.wav", milliseconds_max_silence=500, cipher=Cipher(key, iv)) is Cause.SILENCE
    enc = ch.store.read("c.wav")
    assert enc[:4] != b"RIFF"
    (tmp_path / "c.enc").write_bytes(enc)
    out = subprocess.run(["openssl", "enc", "-d", f"-aes-{bits}-cbc", "-K", key, "-iv", iv, "-in", str(tmp_path / "c.enc")],
                         capture_output=True, check=True).stdout
    x, rate = read_wav(out)
    assert rate == 8000 and len(x) == 2000 * 8


def test_cipher_on_hangup_and_no_plaintext_in_store():
    """SD-CIPHER: on hangup the encrypted partial file is published; no write holds plaintext."""
    from recorder import Cipher
    from simulator.store import MediaStore

    writes = []

    c = Cipher("000102030405060708090a0b0c0d0e0f", "0f0e0d0c0b0a09080706050403020100")
    from simulator import CallChannel, Clock
    from simulator.audio import Timeline

    clock = Clock()
    ch = CallChannel(clock, recorder_factory=FileRecorder, audio=Timeline((tone(0, 10_000),), seed=1), store=MediaStore(clock=lambda: clock.now, on_write=lambda w: writes.append(w.data)))
    ch.schedule_state(ms(1000), CallState.IDLE)
    assert ch.FileRecorder.record(filename="h.wav", cipher=c) is Cause.HANGUP
    assert writes and not any(b"RIFF" in w or b"fmt " in w for w in writes)
    x, _ = read_wav(c.decrypt(ch.store.read("h.wav")))
    assert len(x) == 8000
