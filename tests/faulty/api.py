"""Faulty recorders with wrong return values, exceptions or states (families "record",
"start", "stop", "wait", "exceptions", "state", "audio", "arguments")."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from recorder import FileRecorder
from recorder.filerecorder import Cause, JobParams, State, _Job
from simulator import ArgumentError, CallState, Error, Hangup

from ._base import FaultyRecorder

__all__ = [
    "StopReturnsNone", "StartReturnsNone", "WaitTimeoutReturnsNone", "WaitNoneReturnsAtOnce",
    "WaitTimeoutEndsJob", "RecordDoesNotBlock", "ErrorInsteadOfHangup", "NoErrorWhenBusy",
    "StopSkipsCallCheckWhenIdle", "RecordsWhileOnHold", "StateStaysRecording",
    "AudioFalseBeforeJob", "AudioTrueForSilence", "DefaultMaxSilence3000", "AddsWavExtension",
    "ArgsRaisePlainValueError",
]


class StopReturnsNone(FaultyRecorder):
    """Bug: ``stop()`` stops the job but returns None (no ``return``).

    Breaks SPEC-STOP.
    """

    BREAKS = "SPEC-STOP"

    def stop(self) -> Any:
        super().stop()
        return None


class StartReturnsNone(FaultyRecorder):
    """Bug: ``start()`` starts the job but returns None.

    Breaks SPEC-START.
    """

    BREAKS = "SPEC-START"

    @functools.wraps(FileRecorder.start)  # keep the spec's signature visible to inspect
    def start(self, filename: str, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
        super().start(filename, *args, **kw)
        return None


class WaitTimeoutReturnsNone(FaultyRecorder):
    """Bug: when its own timeout expires, ``wait_until_finished()`` returns the current cause
    (NONE) instead of TIMEOUT.

    Breaks SPEC-WAIT-TIMEOUT.
    """

    BREAKS = "SPEC-WAIT-TIMEOUT"

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> Cause:
        got = super().wait_until_finished(seconds_timeout)
        return self.cause() if got is Cause.TIMEOUT and self._state is State.RECORDING else got


class WaitNoneReturnsAtOnce(FaultyRecorder):
    """Bug: ``wait_until_finished(None)`` is treated as a zero timeout (``seconds or 0``).

    Breaks SPEC-WAIT-NONE.
    """

    BREAKS = "SPEC-WAIT-NONE"

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> Cause:
        return super().wait_until_finished(seconds_timeout or 0)


class WaitTimeoutEndsJob(FaultyRecorder):
    """Bug (another reading): a wait timeout also ends the job, with cause TIMEOUT.

    Breaks SD-WAIT-TIMEOUT only: expected NON-STRICT.
    """

    BREAKS = "SD-WAIT-TIMEOUT"
    GRADE = "NON-STRICT"

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> Cause:
        got = super().wait_until_finished(seconds_timeout)
        job = self._job
        if got is Cause.TIMEOUT and job is not None and not job.ended:
            self._end_job(job, Cause.TIMEOUT)
        return got


class RecordDoesNotBlock(FaultyRecorder):
    """Bug: ``record()`` is built on ``start()`` and forgets to wait: it returns NONE at once
    while the job runs on.

    Breaks SPEC-RECORD.
    """

    BREAKS = "SPEC-RECORD"

    def record(self, filename: str, file_format: str = "alaw", rate: int = 8000,
               seconds_timeout: float = 120, max_bytes: int = 1920000,
               milliseconds_max_silence: int = 10000, milliseconds_initial_silence: int = 0,
               barge_in: bool = False, cipher: Any = None) -> Cause:
        self.start(filename, file_format, rate, max_bytes, milliseconds_max_silence,
                   milliseconds_initial_silence, barge_in, cipher)
        return self.cause()


class ErrorInsteadOfHangup(FaultyRecorder):
    """Bug: every non-ANSWERED call state, IDLE included, raises ``Error``; never ``Hangup``.

    Breaks SPEC-EXC-HANGUP.
    """

    BREAKS = "SPEC-EXC-HANGUP"

    def _check_call(self) -> None:
        st = self._channel.state()
        if st is not CallState.ANSWERED:
            raise Error(f"the call is not answered (call state {st.value})")


class NoErrorWhenBusy(FaultyRecorder):
    """Bug: ``record()``/``start()`` while a job runs silently abort it and start the new one.

    Breaks SPEC-EXC-BUSY.
    """

    BREAKS = "SPEC-EXC-BUSY"

    def _abort_running(self) -> None:
        job = self._job
        if self._state is State.RECORDING and job is not None and not job.ended:
            self._end_job(job, Cause.ABORTED)

    @functools.wraps(FileRecorder.record)  # keep the spec's signature visible to inspect
    def record(self, filename: str, *args: Any, **kw: Any) -> Cause:  # type: ignore[override]
        if self._channel.state() is CallState.ANSWERED:
            self._abort_running()
        return super().record(filename, *args, **kw)

    @functools.wraps(FileRecorder.start)  # keep the spec's signature visible to inspect
    def start(self, filename: str, *args: Any, **kw: Any) -> bool:  # type: ignore[override]
        if self._channel.state() is CallState.ANSWERED:
            self._abort_running()
        return super().start(filename, *args, **kw)


class StopSkipsCallCheckWhenIdle(FaultyRecorder):
    """Bug: ``stop()`` returns True at once when no job runs, before checking the call state,
    so ``stop()`` on a hung-up call does not raise ``Hangup``.

    Breaks SPEC-EXC-ORDER (the call-state check comes first).
    """

    BREAKS = "SPEC-EXC-ORDER"

    def stop(self) -> bool:
        if self._state is not State.RECORDING:
            return True
        return super().stop()


class RecordsWhileOnHold(FaultyRecorder):
    """Bug: only IDLE is checked; record/start/stop/wait work in any other call state (hold,
    ringing, transfer) instead of raising ``Error``.

    Breaks SPEC-EXC-NOTANSWERED.
    """

    BREAKS = "SPEC-EXC-NOTANSWERED"

    def _check_call(self) -> None:
        if self._channel.state() is CallState.IDLE:
            raise Hangup("the call has been hung up (call state IDLE)")


class StateStaysRecording(FaultyRecorder):
    """Bug: a job that ends by itself never leaves RECORDING (only ERROR is ever set).

    Breaks SPEC-STATE-FN.
    """

    BREAKS = "SPEC-STATE-FN"

    def _finish_state(self, job: _Job, cause: Cause, state: State,
                      error: BaseException | None = None) -> None:
        super()._finish_state(job, cause, state, error)
        if state is State.IDLE:
            self._state = State.RECORDING


class AudioFalseBeforeJob(FaultyRecorder):
    """Bug: the audio flag is initialised to False, so ``audio_detected_in_recording()`` is
    False instead of None before the first job.

    Breaks SPEC-AUDIO.
    """

    BREAKS = "SPEC-AUDIO"

    def __init__(self, channel: Any) -> None:
        super().__init__(channel)
        self._audio = False


class AudioTrueForSilence(FaultyRecorder):
    """Bug: "audio detected" means "any frame recorded", so an all-silence recording reports
    True.

    Breaks SPEC-AUDIO-FALSE.
    """

    BREAKS = "SPEC-AUDIO-FALSE"

    def _finish_state(self, job: _Job, cause: Cause, state: State,
                      error: BaseException | None = None) -> None:
        super()._finish_state(job, cause, state, error)
        self._audio = job.frames_done > 0


class DefaultMaxSilence3000(FaultyRecorder):
    """Bug: the defaults were copied from the REST ``record`` action: milliseconds_max_silence
    defaults to 3000 instead of 10000.

    Breaks SPEC-RECORD-DEFAULTS.
    """

    BREAKS = "SPEC-RECORD-DEFAULTS"

    def record(self, filename: str, file_format: str = "alaw", rate: int = 8000,
               seconds_timeout: float = 120, max_bytes: int = 1920000,
               milliseconds_max_silence: int = 3000, milliseconds_initial_silence: int = 0,
               barge_in: bool = False, cipher: Any = None) -> Cause:
        return super().record(filename, file_format, rate, seconds_timeout, max_bytes,
                              milliseconds_max_silence, milliseconds_initial_silence, barge_in,
                              cipher)

    def start(self, filename: str, file_format: str = "alaw", rate: int = 8000,
              max_bytes: int = 1920000, milliseconds_max_silence: int = 3000,
              milliseconds_initial_silence: int = 0, barge_in: bool = False,
              cipher: Any = None) -> bool:
        return super().start(filename, file_format, rate, max_bytes, milliseconds_max_silence,
                             milliseconds_initial_silence, barge_in, cipher)


class AddsWavExtension(FaultyRecorder):
    """Bug: ``.wav`` is appended to names without it ("recfile" becomes "recfile.wav"), so
    the recording is not at the filename the application gave.

    Breaks SPEC-RECORD (records to ``filename``) and SD-NAME (no extension added).
    """

    BREAKS = "SPEC-RECORD"
    ALSO = ("SD-NAME",)

    def _begin(self, params: JobParams) -> _Job:
        if not params.filename.endswith(".wav"):
            params = dataclasses.replace(params, filename=params.filename + ".wav")
        return super()._begin(params)


class ArgsRaisePlainValueError(FaultyRecorder):
    """Bug (another reading): bad arguments raise a bare ``ValueError``, which code written to
    the spec (``except Error``) does not catch.

    Breaks SD-ARGS only: expected NON-STRICT.
    """

    BREAKS = "SD-ARGS"
    GRADE = "NON-STRICT"

    @functools.wraps(FileRecorder.record)  # keep the spec's signature visible to inspect
    def record(self, filename: str, *args: Any, **kw: Any) -> Cause:  # type: ignore[override]
        try:
            return super().record(filename, *args, **kw)
        except ArgumentError as exc:
            raise ValueError(str(exc)) from None

    @functools.wraps(FileRecorder.start)  # keep the spec's signature visible to inspect
    def start(self, filename: str, *args: Any, **kw: Any) -> bool:  # type: ignore[override]
        try:
            return super().start(filename, *args, **kw)
        except ArgumentError as exc:
            raise ValueError(str(exc)) from None
