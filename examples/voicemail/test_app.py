"""The voicemail application's own tests, on simulated calls (``simulated_call`` fixture).

Each test describes what the caller does, runs ``take_message`` on the simulated channel and
checks what the application decided and what the mailbox holds. The calls last seconds of
virtual time and run in milliseconds. ``pytest examples/voicemail`` runs them;
``pytest examples/voicemail --recorder-factory mypkg.rec:MyRecorder`` runs the application on
another recorder.
"""

from __future__ import annotations

from pathlib import Path

from examples.voicemail.app import MAILBOX_FILE, take_message

CALLS = Path(__file__).parent / "calls"


def test_caller_speaks_then_hangs_up(simulated_call):
    call = simulated_call(CALLS / "speaks-then-hangs-up.toml")
    message = take_message(call.channel)
    assert message.kept and message.cause == "HANGUP"
    info = call.info(MAILBOX_FILE)
    assert info["format"] == "s16bit" and 4500 <= info["duration_ms"] <= 5000
    assert 5000 <= call.now_ms <= 5020  # the recording ended when the caller hung up


def test_caller_presses_hash_to_finish(simulated_call):
    call = simulated_call(simulated_call.builder().speech(0, 3000).dtmf(3500, "#"))
    message = take_message(call.channel)
    assert message.kept and message.cause == "BARGEIN"
    assert MAILBOX_FILE in call.files()
    assert 3500 <= call.now_ms <= 3700  # the digit ended it, not the 3 s of silence after the speech


def test_silent_caller_leaves_no_message(simulated_call):
    call = simulated_call(simulated_call.builder())  # an answered call; the caller says nothing
    message = take_message(call.channel)
    assert not message.kept and message.cause == "SILENCE" and message.filename is None
    assert call.files() == {}  # the empty recording was removed
    assert 5000 <= call.now_ms <= 5020  # five seconds of virtual time


def test_caller_who_hung_up_before_the_greeting_ended(simulated_call):
    call = simulated_call(simulated_call.builder().hangup(0))
    message = take_message(call.channel)
    assert not message.kept and message.cause == "HANGUP"
