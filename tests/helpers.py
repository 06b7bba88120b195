"""Shared helpers for the project's own tests: build a call quickly, read a WAV back."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import soundfile as sf

from recorder import FileRecorder
from simulator import CallChannel, CallState, Clock
from simulator.audio import Dtmf, Noise, Segment, Speech, Timeline, Tone

__all__ = ["make_call", "read_wav", "speech", "tone", "noise", "dtmf", "ms"]


def ms(v: float) -> int:
    return int(round(v * 8))


def make_call(*segments: Segment, state: CallState = CallState.ANSWERED, seed: int = 1,
              factory: Any = None, hangup_ms: int | None = None, **kw: Any) -> CallChannel:
    clock = Clock()
    ch = CallChannel(clock, audio=Timeline(tuple(segments), seed=seed), state=state,
                     recorder_factory=factory or FileRecorder, **kw)
    if hangup_ms is not None:
        ch.schedule_state(ms(hangup_ms), CallState.IDLE, reason="hangup")
    for onset, _end, digit, oob in ch.audio.dtmf_events():  # type: ignore[attr-defined]
        if oob:
            ch.schedule_dtmf(onset, digit)
    return ch


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    x, rate = sf.read(io.BytesIO(data), dtype="int16")
    return x, rate


def speech(at_ms: float, dur_ms: float, level: float = -20.0) -> Speech:
    return Speech(start=ms(at_ms), duration=ms(dur_ms), level_dbm0=level)


def tone(at_ms: float, dur_ms: float, freq: float = 1000.0, level: float = -20.0) -> Tone:
    return Tone(start=ms(at_ms), duration=ms(dur_ms), freqs=(freq,), level_dbm0=level)


def noise(at_ms: float, dur_ms: float, level: float) -> Noise:
    return Noise(start=ms(at_ms), duration=ms(dur_ms), level_dbm0=level)


def dtmf(at_ms: float, digits: str, **kw: Any) -> Dtmf:
    return Dtmf(start=ms(at_ms), digits=digits, **kw)
