"""The vendor's call API as an implementer sees it: values, enums and exceptions.

Everything here is a fact of the vendor's pages (summarised in ``docs/vendor-facts.md``): the
call channel's 14 states, the recorder's termination causes and record states, the two
exceptions of the call API, the six encodings and four rates a media file may have, and the
recorder's methods with their parameters, defaults and what each returns (``API_METHODS``,
``API_RETURNS``; section 1 of that page).
``ArgumentError`` is our own refinement of ``Error`` (decision SD-ARGS in
``docs/spec-decisions.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from inspect import Parameter
from types import MappingProxyType
from typing import Final

__all__ = [
    "API_METHODS",
    "API_RETURNS",
    "ArgumentError",
    "CallState",
    "Cause",
    "Error",
    "FORMATS",
    "Hangup",
    "RATES",
    "State",
    "safe_repr",
]

#: The six media-file encodings, by the names ``record(file_format=...)`` takes.
FORMATS: Final[tuple[str, ...]] = ("alaw", "ulaw", "oki", "ima", "s16bit", "u8bit")
#: The four sample rates in Hz a recording may be written at (the call itself runs at 8000).
RATES: Final[tuple[int, ...]] = (8000, 6000, 11000, 11025)


class CallState(Enum):
    """The 14 states of the vendor's call channel (``channel.State``).

    ``IDLE`` means the far end hung up: a call never leaves it. Only ``ANSWERED`` lets a
    recording start.
    """

    WAITING = "WAITING"
    CALL_INCOMING = "CALL_INCOMING"
    RING_INCOMING = "RING_INCOMING"
    ANSWERING = "ANSWERING"
    ANSWERED = "ANSWERED"
    CALL_OUTGOING = "CALL_OUTGOING"
    RING_OUTGOING = "RING_OUTGOING"
    HOLDING = "HOLDING"
    ON_HOLD = "ON_HOLD"
    TRANSFERRING = "TRANSFERRING"
    TRANSFERRED = "TRANSFERRED"
    RECONNECTING = "RECONNECTING"
    ERROR = "ERROR"
    IDLE = "IDLE"


class Cause(Enum):
    """Why a record job ended (the recorder's ``Cause``); ``NONE`` while one runs."""

    ERROR = "ERROR"
    BARGEIN = "BARGEIN"
    SILENCE = "SILENCE"
    SIZE = "SIZE"
    ABORTED = "ABORTED"
    HANGUP = "HANGUP"
    TIMEOUT = "TIMEOUT"
    NONE = "NONE"


class State(Enum):
    """The recorder's record state (its ``State``); ``IDLE`` when no job runs."""

    RECORDING = "RECORDING"
    IDLE = "IDLE"
    ERROR = "ERROR"


def _param(name: str, default: object = Parameter.empty) -> Parameter:
    return Parameter(name, Parameter.POSITIONAL_OR_KEYWORD, default=default)


_JOB_HEAD = (_param("filename"), _param("file_format", "alaw"), _param("rate", 8000))
_JOB_TAIL = (
    _param("max_bytes", 1920000),
    _param("milliseconds_max_silence", 10000),
    _param("milliseconds_initial_silence", 0),
    _param("barge_in", False),
    _param("cipher", None),
)

#: The recorder's methods (the vendor's ``FileRecorder``), in the page's order, each with its
#: parameters after ``self``: names, order and defaults (``Parameter.empty`` = required). An
#: implementation's signatures match this table; scenario actions are checked against it.
API_METHODS: Final[Mapping[str, tuple[Parameter, ...]]] = MappingProxyType({
    "record": (*_JOB_HEAD, _param("seconds_timeout", 120), *_JOB_TAIL),
    "start": (*_JOB_HEAD, *_JOB_TAIL),
    "stop": (),
    "wait_until_finished": (_param("seconds_timeout", 120),),
    "state": (),
    "cause": (),
    "audio_detected_in_recording": (),
})

#: What each method of ``API_METHODS`` returns: ``Cause`` or ``State`` (a member, shown by
#: name), ``bool``, or ``None`` (``audio_detected_in_recording`` before or during a job).
API_RETURNS: Final[Mapping[str, tuple[type, ...]]] = MappingProxyType({
    "record": (Cause,),
    "start": (bool,),
    "stop": (bool,),
    "wait_until_finished": (Cause,),
    "state": (State,),
    "cause": (Cause,),
    "audio_detected_in_recording": (bool, type(None)),
})


class Hangup(Exception):
    """The call has been hung up (call state ``IDLE``)."""


class Error(Exception):
    """An operation failed: wrong call state, job already running, or a bad argument."""


class ArgumentError(Error, ValueError):
    """An argument is of the wrong type or out of range (decision SD-ARGS).

    It is an ``Error`` (so code written to the spec's ``except Error`` catches it) and a
    ``ValueError`` (so ordinary Python code does too). ``parameter`` names the parameter and
    ``value`` holds the rejected value; the message shows a safe, shortened ``repr`` of it.
    """

    def __init__(self, parameter: str, value: object, reason: str) -> None:
        self.parameter = parameter
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {parameter}={safe_repr(value)}: {reason}")


def safe_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` shortened to ``limit`` characters; never raises."""
    try:
        text = repr(value)
    except ValueError:  # e.g. an int too long for repr (Python's 4300-digit limit)
        digits = value.bit_length() * 30103 // 100000 + 1 if isinstance(value, int) else None
        return f"<int with about {digits} digits>" if digits else f"<{type(value).__name__}>"
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the argument error
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
