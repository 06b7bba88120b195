"""A small voicemail application, written against the vendor's call API only.

This is the kind of code most users of the recorder API write: it takes the call channel the
platform hands it and uses ``channel.FileRecorder``. Of callsim it imports only the contract's
``Hangup`` (the spec's exception), and it compares causes by name, so it works with any
recorder's own ``Cause``. Its tests (``test_app.py``) run it on simulated calls
with the ``simulated_call`` fixture that the callsim pytest plugin ships.

``take_message(channel)`` records the caller's message:

* the caller speaks, then stops for 3 s or hangs up: the message is kept;
* the caller presses ``#`` (any digit) to finish: the message is kept (barge-in);
* the caller says nothing for the first 5 s: there is no message, and the empty file is removed;
* after 60 s the recording stops anyway (the message is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callsim.contract import Hangup

__all__ = ["Message", "take_message", "MAILBOX_FILE"]

MAILBOX_FILE = "message.wav"


@dataclass(frozen=True)
class Message:
    """What ``take_message`` did: ``kept`` a message (in ``filename``) or not, and why."""

    kept: bool
    cause: str
    filename: str | None


def take_message(channel: Any, filename: str = MAILBOX_FILE) -> Message:
    """Record the caller's message on ``channel`` (see the module's doc)."""
    recorder = channel.FileRecorder
    try:
        cause = recorder.record(filename, file_format="s16bit", seconds_timeout=60,
                                milliseconds_max_silence=3000, milliseconds_initial_silence=5000,
                                barge_in=True)
    except Hangup:  # the caller hung up before the recording could start
        return Message(False, "HANGUP", None)
    name = getattr(cause, "name", str(cause))
    if not recorder.audio_detected_in_recording():
        if filename in channel.store.list():
            channel.store.delete(filename)
        return Message(False, name, None)
    return Message(True, name, filename)
