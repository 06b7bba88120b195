"""Silence/audio classification at its boundaries through the whole recorder (SD-SILENCE,
SD-AUDIO), and ADPCM quality on real speech."""

from __future__ import annotations

import numpy as np
import pytest
from callsim.fixtures import audio_path

from conformance.decoders import decode
from recorder import Cause, codecs
from simulator.audio import Speech, load_wav
from tests.helpers import make_call, ms, noise, speech, tone


def _record(*segments, max_silence=1000, timeout=6):
    ch = make_call(*segments)
    cause = ch.FileRecorder.record(filename="s.wav", milliseconds_max_silence=max_silence, seconds_timeout=timeout)
    return ch, cause, ch.FileRecorder.audio_detected_in_recording()


def test_comfort_noise_at_minus_60_dbm0_is_silence():
    """SD-SILENCE: comfort noise at -60 dBm0 counts as silence: SILENCE after exactly 1 s."""
    ch, cause, audio = _record(noise(0, 10_000, -60))
    assert cause is Cause.SILENCE and audio is False and ch.clock.now == ms(1000)


def test_speech_at_minus_35_dbm0_is_audio():
    """SD-AUDIO: speech at -35 dBm0 (active level) is audio; the job is not cut while it talks."""
    ch, cause, audio = _record(speech(0, 6000, level=-35), max_silence=2000, timeout=5)
    assert audio is True and cause is Cause.TIMEOUT


@pytest.mark.parametrize("level,is_audio", [(-43.0, True), (-44.0, True), (-46.0, False), (-47.0, False)])
def test_tone_just_above_and_below_threshold(level, is_audio):
    """SD-SILENCE: a 1 kHz tone 1-2 dB either side of -45 dBm0."""
    _, cause, audio = _record(tone(0, 10_000, level=level), max_silence=1000, timeout=3)
    assert audio is is_audio
    assert cause is (Cause.TIMEOUT if is_audio else Cause.SILENCE)


@pytest.mark.parametrize("level,is_audio", [(-43.5, True), (-46.5, False)])
def test_white_noise_just_above_and_below_threshold(level, is_audio):
    """SD-SILENCE: white noise 1.5 dB either side of the threshold (per-frame energy varies)."""
    _, cause, audio = _record(noise(0, 10_000, level), max_silence=1000, timeout=3)
    assert audio is is_audio


def test_very_quiet_speech_is_silence():
    """SD-SILENCE: speech whose loudest frames stay under -45 dBm0 counts as silence."""
    _, cause, audio = _record(speech(0, 10_000, level=-65), max_silence=1000, timeout=5)
    assert audio is False and cause is Cause.SILENCE


def test_low_level_speech_just_above_threshold_is_audio():
    """SD-AUDIO: speech at -42 dBm0 active level is still detected as audio."""
    _, _cause, audio = _record(speech(0, 6000, level=-42), max_silence=3000, timeout=5)
    assert audio is True


@pytest.mark.parametrize("fmt,min_snr", [("ima", 14.0), ("oki", 14.0)])
@pytest.mark.parametrize("clip", ["speech_en.wav", "speech_de.wav", "speech_fr.wav"])
def test_adpcm_snr_on_real_speech(fmt, min_snr, clip):
    """IMA and OKI ADPCM reach a stated SNR (>= 14 dB) on real speech at -20 dBm0,
    decoded by the suite's independent decoder."""
    x = load_wav(audio_path(clip))
    seg = Speech(start=0, duration=len(x), level_dbm0=-20.0, clips=(clip,))
    from simulator.audio import Timeline

    pcm = Timeline((seg,), seed=3).render(0, len(x))
    enc = codecs.make_encoder(fmt)
    data = enc.encode(pcm) + enc.flush()
    y = decode(fmt, data, len(pcm)).astype(np.float64)
    err = y - pcm
    snr = 10 * np.log10(np.sum(pcm.astype(np.float64) ** 2) / np.sum(err**2))
    assert snr >= min_snr, f"{fmt} on {clip}: {snr:.1f} dB"
