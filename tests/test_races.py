"""Same-instant races (SD-TIES, SD-STOP, SD-HANGUP, SD-FILES-LEFT).

Ordering rules under test (``simulator/clock.py`` and SD-TIES): a frame ending at instant T is
processed before any event at T; events at one instant run hangup (CALL) before out-of-band digit
(DTMF) before the job's timer (JOB) before the application's calls (APP); within one frame SIZE
beats BARGEIN beats SILENCE. Each race must give exactly one documented cause, exactly one
``job-end`` in the event log, exactly one published file (one ``open`` and one ``commit`` in
the store's events) holding exactly the frames the rules say.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from conformance.decoders import decode_wav
from conformance.wavread import parse_wav, validate_wav
from recorder import Cause, FileRecorder, State
from simulator import CallChannel, CallState, Clock, Hangup
from simulator.audio import Timeline, Tone
from tests.helpers import dtmf, make_call, ms, tone

FRAME = 160
FORMATS = ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")


def assert_one_outcome(ch: CallChannel, cause: Cause, name: str = "r.wav", *, samples: int | None = None,
                       fmt: str = "alaw", rate: int = 8000) -> bytes:
    """Exactly one cause, one job-end, one file (opened once, committed once)."""
    r = ch.FileRecorder
    assert r.cause() is cause, f"cause {r.cause()} != {cause}"
    assert r.state() is State.IDLE
    ends = ch.log.of_kind("job-end")
    assert [e["cause"] for e in ends] == [cause.value], ends
    assert ch.store.list() == [name]
    ops = [(e.op, e.name) for e in ch.store.events]
    assert ops == [("open", name), ("commit", name)], ops
    data = ch.store.read(name)
    assert validate_wav(data, fmt, rate) == []
    if samples is not None:
        n = len(decode_wav(data)[1])
        assert n == samples, f"{n} samples in the file, expected {samples}"
    return data


# -- stop() and hangup --------------------------------------------------------------------------
@pytest.mark.parametrize("t", [ms(1000), ms(1000) + 1, ms(1000) + 80, ms(1000) + 159])
def test_hangup_and_stop_at_the_same_instant(t: int) -> None:
    """SD-TIES (3): hangup at T and the app's stop() at T: the hangup runs first (CALL before
    APP), the job ends HANGUP with the frames before T, and stop() raises Hangup (SPEC-EXC-HANGUP)."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_state(t, CallState.IDLE)
    r = ch.FileRecorder
    assert r.start(filename="r.wav")
    ch.clock.sleep(t)  # the app wakes at T, after the hangup of the same instant
    assert ch.clock.now == t
    with pytest.raises(Hangup):
        r.stop()
    assert_one_outcome(ch, Cause.HANGUP, samples=t // FRAME * FRAME)


@pytest.mark.parametrize("t", [ms(1000), ms(1000) + 1, ms(1000) + 80, ms(1000) + 159])
def test_stop_one_tick_before_hangup(t: int) -> None:
    """SD-STOP: stop() at T ends the job ABORTED (frames ending at or before T); a hangup at T+1
    changes nothing (no second cause, no second file)."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_state(t + 1, CallState.IDLE)
    r = ch.FileRecorder
    assert r.start(filename="r.wav")
    ch.clock.sleep(t)
    assert r.stop() is True
    ch.clock.sleep(FRAME * 3)  # let the hangup happen
    assert ch.state() is CallState.IDLE
    assert_one_outcome(ch, Cause.ABORTED, samples=t // FRAME * FRAME)


def test_stop_at_a_frame_end_keeps_that_frame() -> None:
    """SD-TIES (1) + SD-STOP: stop() at a frame boundary T keeps the frame ending at T."""
    ch = make_call(tone(0, 5000, level=-10))
    r = ch.FileRecorder
    assert r.start(filename="r.wav")
    ch.clock.sleep(ms(20) * 7)
    assert r.stop() is True
    assert_one_outcome(ch, Cause.ABORTED, samples=7 * FRAME)


# -- digits and hangup ---------------------------------------------------------------------------
@pytest.mark.parametrize("digit_at,hangup_at,cause", [
    (8000, 8000, Cause.HANGUP),          # same instant: hangup (CALL) before digit (DTMF)
    (8000, 8001, Cause.BARGEIN),         # digit first, same frame
    (8000, 8000 + 159, Cause.BARGEIN),
    (8001, 8000, Cause.HANGUP),          # hangup first, same frame
    (8000 + 80, 8000 + 80, Cause.HANGUP),
    (8000 + 159, 8000 + 1, Cause.HANGUP),
])
def test_out_of_band_digit_and_hangup_in_one_frame(digit_at: int, hangup_at: int, cause: Cause) -> None:
    """SD-TIES (3) for out-of-band digits: whichever event comes first ends the job; at the same
    instant the hangup wins. The file holds the frames before the winning instant."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_dtmf(digit_at, "5")
    ch.schedule_state(hangup_at, CallState.IDLE)
    r = ch.FileRecorder
    assert r.record(filename="r.wav", barge_in=True) is cause
    end = min(digit_at, hangup_at)
    assert ch.clock.now == end
    assert_one_outcome(ch, cause, samples=end // FRAME * FRAME)


def _inband_call(hangup_at: int | None) -> CallChannel:
    ch = make_call(tone(0, 1000, level=-15), dtmf(1500, "7", tone_ms=100, gap_ms=100))
    if hangup_at is not None:
        ch.schedule_state(hangup_at, CallState.IDLE)
    return ch


def _confirm_instant() -> int:
    """Where the reference confirms the in-band digit (measured, then used as the race point)."""
    ch = _inband_call(None)
    assert ch.FileRecorder.record(filename="r.wav", barge_in=True) is Cause.BARGEIN
    e = ch.clock.now
    assert e % FRAME == 0 and ms(1500) < e <= ms(1600)
    return e


@pytest.mark.parametrize("delta,cause", [
    (0, Cause.BARGEIN),      # hangup at the end of the confirming frame: the frame comes first
    (1, Cause.BARGEIN),
    (-1, Cause.HANGUP),      # hangup inside the confirming frame: the frame never completes
    (-80, Cause.HANGUP),
    (-159, Cause.HANGUP),
    (-160, Cause.HANGUP),    # at the end of the frame before
])
def test_inband_digit_and_hangup_in_one_frame(delta: int, cause: Cause) -> None:
    """SD-TIES: an in-band digit confirmed by a frame ending at or before the hangup instant
    wins (BARGEIN); otherwise HANGUP, with the frames before the hangup."""
    e = _confirm_instant()
    ch = _inband_call(e + delta)
    assert ch.FileRecorder.record(filename="r.wav", barge_in=True) is cause
    if cause is Cause.BARGEIN:
        assert ch.clock.now == e
        assert_one_outcome(ch, cause, samples=e)
    else:
        assert ch.clock.now == e + delta
        assert_one_outcome(ch, cause, samples=(e + delta) // FRAME * FRAME)


# -- limits due together --------------------------------------------------------------------------
def test_default_16bit_size_and_timer_at_120s() -> None:
    """SD-TIES: 16-bit at the defaults reaches max_bytes (1,920,000 B) and the 120 s timer at
    the same instant: SIZE, one file of exactly 960,000 samples."""
    ch = make_call(tone(0, 200_000, level=-10))
    assert ch.FileRecorder.record(filename="r.wav", file_format="s16bit") is Cause.SIZE
    assert ch.clock.now == 120 * 8000
    data = assert_one_outcome(ch, Cause.SIZE, fmt="s16bit", samples=960_000)
    assert parse_wav(data).data_bytes == 1_920_000


@pytest.mark.parametrize("fmt,max_bytes,seconds,samples", [
    ("u8bit", 8000, 1, 8000),
    ("alaw", 8000, 1, 8000),
    ("ulaw", 16_000, 2, 16_000),
    ("s16bit", 16_000, 1, 8000),
    ("oki", 4000, 1, 8000),
    ("ima", 32 * 256, 2.02, 32 * 505),  # 32 IMA blocks = 16,160 samples = 101 frames = 2.02 s
])
def test_size_and_timer_due_together(fmt: str, max_bytes: int, seconds: float, samples: int) -> None:
    """SD-TIES (1): the frame reaching the size limit ends at the timer's instant: SIZE."""
    ch = make_call(tone(0, 10_000, level=-10))
    assert ch.FileRecorder.record(filename="r.wav", file_format=fmt, max_bytes=max_bytes,
                                  seconds_timeout=seconds) is Cause.SIZE
    assert ch.clock.now == round(seconds * 8000)
    assert_one_outcome(ch, Cause.SIZE, fmt=fmt, samples=samples)


def test_size_and_silence_in_one_frame() -> None:
    """SD-TIES (2): size and silence limits reached by the same frame: SIZE."""
    # tone for 500 ms, then silence; max silence 500 ms -> silence limit at frame 50 (1000 ms);
    # max_bytes 8000 A-law bytes = 8000 samples -> size limit at the end of frame 50 too.
    ch = make_call(tone(0, 500, level=-10))
    assert ch.FileRecorder.record(filename="r.wav", max_bytes=8000, milliseconds_max_silence=500) is Cause.SIZE
    assert ch.clock.now == ms(1000)
    assert_one_outcome(ch, Cause.SIZE, samples=8000)


def test_silence_and_timer_at_one_instant() -> None:
    """SD-TIES (1): the silence limit's frame ends at T, the timer fires at T: SILENCE."""
    ch = make_call(tone(0, 500, level=-10))
    assert ch.FileRecorder.record(filename="r.wav", seconds_timeout=1, milliseconds_max_silence=500) is Cause.SILENCE
    assert ch.clock.now == ms(1000)
    assert_one_outcome(ch, Cause.SILENCE, samples=8000)


def test_size_and_inband_digit_in_one_frame() -> None:
    """SD-TIES (2): size limit and an in-band digit confirmed by the same frame: SIZE."""
    e = _confirm_instant()
    ch = _inband_call(None)
    assert ch.FileRecorder.record(filename="r.wav", barge_in=True, max_bytes=e) is Cause.SIZE
    assert ch.clock.now == e
    assert_one_outcome(ch, Cause.SIZE, samples=e)


def test_hangup_and_timer_at_one_instant() -> None:
    """SD-TIES (3): hangup and the job's timer at the same instant: HANGUP (CALL before JOB)."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_state(ms(1000), CallState.IDLE)
    assert ch.FileRecorder.record(filename="r.wav", seconds_timeout=1) is Cause.HANGUP
    assert_one_outcome(ch, Cause.HANGUP, samples=8000)


def test_hangup_and_size_at_one_instant() -> None:
    """SD-TIES (1): the frame reaching the size limit ends at T, the hangup is at T: SIZE."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_state(ms(1000), CallState.IDLE)
    assert ch.FileRecorder.record(filename="r.wav", max_bytes=8000) is Cause.SIZE
    assert_one_outcome(ch, Cause.SIZE, samples=8000)


def test_oob_digit_and_timer_at_one_instant() -> None:
    """SD-TIES (3): an out-of-band digit and the timer at the same instant: BARGEIN (DTMF before JOB)."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_dtmf(ms(1000), "#")
    assert ch.FileRecorder.record(filename="r.wav", seconds_timeout=1, barge_in=True) is Cause.BARGEIN
    assert_one_outcome(ch, Cause.BARGEIN, samples=8000)


# -- stop() right after start() ------------------------------------------------------------------
@pytest.mark.parametrize("rate", [8000, 6000, 11025])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("called_at", [0, 1, 37, 159])
def test_stop_right_after_start_gives_empty_wav(fmt: str, rate: int, called_at: int) -> None:
    """SD-FILES-LEFT / SD-START: stop() right after start() (zero frames recorded) gives
    ABORTED and a valid WAV whose data chunk is empty, for every format and several rates,
    whether start() is called on a frame boundary or mid-frame (it then blocks to the boundary)."""
    clock = Clock()
    ch = CallChannel(clock, recorder_factory=FileRecorder, audio=Timeline((Tone(start=0, duration=80_000, freqs=(500.0,)),)))
    if called_at:
        clock.sleep(called_at)
    r = ch.FileRecorder
    assert r.start(filename="r.wav", file_format=fmt, rate=rate) is True
    assert clock.now == (0 if called_at == 0 else FRAME)
    assert r.stop() is True
    data = assert_one_outcome(ch, Cause.ABORTED, fmt=fmt, rate=rate, samples=0)
    info = parse_wav(data)
    assert info.data_bytes == 0 and info.sample_rate == rate
    if info.fact_samples is not None:
        assert info.fact_samples == 0
    if fmt != "oki":
        x, got_rate = sf.read(io.BytesIO(data), dtype="int16")
        assert got_rate == rate and len(x) == 0
    assert r.audio_detected_in_recording() is False


def test_second_stop_and_late_events_change_nothing() -> None:
    """SD-STOP: a second stop() returns True and changes nothing; a later digit and hangup
    reach no job (one cause, one file)."""
    ch = make_call(tone(0, 5000, level=-10))
    ch.schedule_dtmf(ms(600), "1")
    ch.schedule_state(ms(700), CallState.IDLE)
    r = ch.FileRecorder
    assert r.start(filename="r.wav", barge_in=True)
    ch.clock.sleep(ms(500))
    assert r.stop() is True and r.stop() is True
    ch.clock.sleep(ms(300))
    data = assert_one_outcome(ch, Cause.ABORTED, samples=4000)
    x = decode_wav(data)[1]
    assert np.abs(x.astype(int)).max() > 5000  # the tone is in the file
