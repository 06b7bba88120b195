"""Faulty recorders with a wrong termination cause or a wrong ``cause()`` (family "cause")."""

from __future__ import annotations

from typing import Any

from recorder.filerecorder import Cause, JobParams, State, _Job

from ._base import FaultyRecorder

__all__ = ["SilenceReportedAsTimeout", "HangupReportedAsAborted", "StopLeavesCauseNone",
           "StaleCauseDuringJob"]


class SilenceReportedAsTimeout(FaultyRecorder):
    """Bug: the silence limit reports TIMEOUT (one "timer expired" cause for both timers).

    Breaks SPEC-SILENCE.
    """

    BREAKS = "SPEC-SILENCE"

    def _end_job(self, job: _Job, cause: Cause) -> None:
        super()._end_job(job, Cause.TIMEOUT if cause is Cause.SILENCE else cause)


class HangupReportedAsAborted(FaultyRecorder):
    """Bug: a far-end hangup is reported as ABORTED (both go through the same "stop" path).

    Breaks SPEC-HANGUP-CAUSE.
    """

    BREAKS = "SPEC-HANGUP-CAUSE"

    def _end_job(self, job: _Job, cause: Cause) -> None:
        super()._end_job(job, Cause.ABORTED if cause is Cause.HANGUP else cause)


class StopLeavesCauseNone(FaultyRecorder):
    """Bug: ``stop()`` ends the job but never sets a cause, so ``cause()`` stays NONE.

    Breaks SPEC-STOP (stop() ends a job with ABORTED).
    """

    BREAKS = "SPEC-STOP"

    def stop(self) -> bool:
        was_running = self._state is State.RECORDING
        ok = super().stop()
        if was_running and self._cause is Cause.ABORTED:
            self._cause = Cause.NONE
        return ok


class StaleCauseDuringJob(FaultyRecorder):
    """Bug: a new job does not reset the cause; ``cause()`` shows the previous job's cause
    while the new one runs.

    Breaks SPEC-CAUSE-FN (cause() is NONE while a job is running).
    """

    BREAKS = "SPEC-CAUSE-FN"

    def _begin(self, params: JobParams) -> _Job:
        old = self._cause
        job = super()._begin(params)
        self._cause = old
        return job

    def cause(self) -> Any:
        return self._cause
