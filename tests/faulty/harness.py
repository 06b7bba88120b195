"""Recorders that attack the harness rather than the spec.

They are not part of ``faulty.ALL`` (the proof of teeth): each is the reference recorder with
one behaviour that tries to make the *verdict* wrong, garbled or hung instead of breaking a
clause of the spec: exception messages full of terminal control sequences, NUL bytes and lone
surrogates; ``BaseException`` subclasses escaping from API calls; a worker process that dies.
``tests/test_verdict.py`` runs them through ``callsim conformance``.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from typing import Any

from recorder import FileRecorder

__all__ = ["HOSTILE", "HostileMessages", "StopRaisesSystemExit", "StopRaisesKeyboardInterrupt",
           "RecordRaisesGeneratorExit", "RecordKillsTheProcess", "CapabilitiesRaise", "NotAFactory",
           "RecordRaisesBaseException", "ConstructorRaises", "factory_returns_none", "RecordLoopsForever",
           "StopSleepsForever", "LeavesNonDaemonThread", "CausesAsStrings", "ForeignEnums", "StopReturnsOne"]

#: Clear the screen, set the terminal's title, a NUL byte and a lone surrogate.
HOSTILE = "boom \x1b[2J\x1b]0;pwned\x07 nul\x00 sur\ud800 bell\x07 csi\x9b31m end"


class HostileMessages(FileRecorder):
    """``stop()`` raises a ``ValueError`` whose message is hostile text, ``record()`` raises
    ``SystemExit`` with the same text, and ``repr`` returns it too."""

    def stop(self) -> bool:
        raise ValueError(HOSTILE)

    def record(self, *args: Any, **kwargs: Any) -> Any:
        raise SystemExit(HOSTILE)

    def __repr__(self) -> str:
        return HOSTILE


class StopRaisesSystemExit(FileRecorder):
    """``stop()`` raises ``SystemExit``, which ``except Exception`` does not catch."""

    def stop(self) -> bool:
        raise SystemExit(3)


class StopRaisesKeyboardInterrupt(FileRecorder):
    """``stop()`` raises ``KeyboardInterrupt`` (pytest takes it as the user's Ctrl-C)."""

    def stop(self) -> bool:
        raise KeyboardInterrupt("from the recorder")


class RecordRaisesGeneratorExit(FileRecorder):
    """``record()`` raises ``GeneratorExit``."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        raise GeneratorExit("from the recorder")


class RecordKillsTheProcess(FileRecorder):
    """``record()`` ends the process at once (a crash in native code looks the same): run it
    only under ``-n`` so that it kills a pytest-xdist worker, not the test run."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        os._exit(3)


class _CapabilitiesRaise:
    """A factory whose ``callsim_capabilities`` raises: the suite's fixtures cannot set a case up."""

    @property
    def callsim_capabilities(self) -> Any:
        raise RuntimeError("capabilities exploded")

    def __call__(self, channel: Any) -> FileRecorder:
        return FileRecorder(channel)


CapabilitiesRaise = _CapabilitiesRaise()

#: Not callable: ``--recorder-factory tests.faulty.harness:NotAFactory`` must be refused.
NotAFactory = "a string, not a factory"


class _Custom(BaseException):
    """A ``BaseException`` subclass of the recorder's own."""


class RecordRaisesBaseException(FileRecorder):
    """``record()`` raises a ``BaseException`` subclass of its own."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        raise _Custom("from the recorder")


class ConstructorRaises(FileRecorder):
    """The constructor raises ``SystemExit``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise SystemExit("constructor refuses")


def factory_returns_none(channel: Any) -> Any:
    """A factory that returns ``None`` instead of a recorder."""
    return None


class RecordLoopsForever(FileRecorder):
    """``record()`` spins outside the virtual clock."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        while True:
            pass


class StopSleepsForever(FileRecorder):
    """``stop()`` blocks on the wall clock."""

    def stop(self) -> bool:
        time.sleep(10**6)
        return True


class LeavesNonDaemonThread(FileRecorder):
    """``start()`` starts a non-daemon thread that never ends, then behaves."""

    def start(self, *args: Any, **kwargs: Any) -> Any:
        threading.Thread(target=time.sleep, args=(10**6,), daemon=False).start()
        return super().start(*args, **kwargs)


class CausesAsStrings(FileRecorder):
    """``record()``/``cause()`` return the name "SILENCE", ``state()`` the name "IDLE"."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        return super().record(*args, **kwargs).name

    def cause(self) -> Any:
        return super().cause().name

    def state(self) -> Any:
        return super().state().name


class _Cause(enum.Enum):
    ERROR, BARGEIN, SILENCE, SIZE, ABORTED, HANGUP, TIMEOUT, NONE = range(8)


class _State(enum.Enum):
    RECORDING, IDLE, ERROR = range(3)


class ForeignEnums(FileRecorder):
    """Returns members of unrelated enums with the same names as its own ``Cause``/``State``."""

    def record(self, *args: Any, **kwargs: Any) -> Any:
        return _Cause[super().record(*args, **kwargs).name]

    def cause(self) -> Any:
        return _Cause[super().cause().name]

    def state(self) -> Any:
        return _State[super().state().name]


class StopReturnsOne(FileRecorder):
    """``stop()`` returns ``int(result)``: equal to True, but not a bool."""

    def stop(self) -> Any:
        return int(super().stop())
