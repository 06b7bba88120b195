"""Faulty recorders whose limits are wrong: off by a frame, ignored, or misread (family "limits")."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recorder import codecs, wav
from recorder.filerecorder import Cause, JobParams, _Job
from simulator import CallState

from ._base import FaultyRecorder

__all__ = [
    "ClaimsItCannotEndAlone",
    "SilenceOneFrameEarly", "SilenceOneFrameLate", "SizeOneFrameOver", "MaxBytesZeroIsZero",
    "MaxBytesCountsHeader", "InitialSilenceIgnored", "MaxSilenceDuringInitialSilence",
    "BargeInIgnored", "BargeInAlways", "DigitBeforeJobBargesIn", "TimeoutIgnored",
    "HangupIgnored", "HangupDeletesFile", "HoldStopsJob",
]


def _with(job: _Job, **changes: Any) -> None:
    job.params = dataclasses.replace(job.params, **changes)


class _EarlySilenceJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        if params.max_silence_frames > 1:
            _with(self, max_silence_frames=params.max_silence_frames - 1)  # `>` where `>=` was meant


class SilenceOneFrameEarly(FaultyRecorder):
    """Bug: the silence run is compared with ``>`` instead of ``>=`` on a count that starts at
    1, so SILENCE fires one 20 ms frame before milliseconds_max_silence of silence.

    Breaks SPEC-SILENCE (the job ends before the stated silence has elapsed).
    """

    BREAKS = "SPEC-SILENCE"
    job_class = _EarlySilenceJob


class _LateSilenceJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        if params.max_silence_frames:
            _with(self, max_silence_frames=params.max_silence_frames + 1)


class SilenceOneFrameLate(FaultyRecorder):
    """Bug: the silence counter starts at 0 on the first silent frame: SILENCE one frame late,
    so a pause of exactly milliseconds_max_silence followed by speech never stops the job.

    Breaks SD-SILENCE only (its exact frame): expected NON-STRICT. The text gives no silence
    detector, and one that holds "audio" for a frame or three after the last audio (a hangover)
    stops exactly this late; the suite accepts a hangover of up to 3 frames.
    """

    BREAKS = "SD-SILENCE"
    GRADE = "NON-STRICT"
    job_class = _LateSilenceJob


class _SizeOverJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        if params.max_bytes:
            # the limit is checked before the frame is written instead of after
            self.sample_limit += 160 * self.resampler.up // self.resampler.down
            self.size_frame = self._frames_for_samples(self.sample_limit)


class SizeOneFrameOver(FaultyRecorder):
    """Bug: the size check runs before a frame is written, so the data ends one 20 ms frame
    beyond max_bytes.

    Breaks SPEC-SIZE (the file grows past max_bytes).
    """

    BREAKS = "SPEC-SIZE"
    job_class = _SizeOverJob


class _ZeroBytesJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        if params.max_bytes == 0:
            self.sample_limit = 0
            self.size_frame = 0


class MaxBytesZeroIsZero(FaultyRecorder):
    """Bug: ``max_bytes=0`` is taken literally (a 0-byte limit): every job ends with SIZE at once.

    Breaks SPEC-ZERO-OFF.
    """

    BREAKS = "SPEC-ZERO-OFF"
    job_class = _ZeroBytesJob


class _HeaderCountedJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        if params.max_bytes:
            budget = max(0, params.max_bytes - wav.header_size(params.file_format))
            self.sample_limit = codecs.max_samples(params.file_format, budget)
            self.size_frame = self._frames_for_samples(self.sample_limit)


class MaxBytesCountsHeader(FaultyRecorder):
    """Bug (another reading): max_bytes limits the whole file, header included, so the data
    stops ``header_size`` bytes short.

    Breaks SD-SIZE only (max_bytes counts data bytes): expected NON-STRICT.
    """

    BREAKS = "SD-SIZE"
    GRADE = "NON-STRICT"
    job_class = _HeaderCountedJob


class _NoInitialJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        _with(self, initial_silence_frames=0)


class InitialSilenceIgnored(FaultyRecorder):
    """Bug: milliseconds_initial_silence is accepted but never used.

    Breaks SPEC-INITIAL-SILENCE.
    """

    BREAKS = "SPEC-INITIAL-SILENCE"
    job_class = _NoInitialJob


class _BothSilenceJob(_Job):
    def _silence_stop(self, active: np.ndarray) -> int | None:
        a = super()._silence_stop(active)
        p = self.params
        self.params = dataclasses.replace(p, initial_silence_frames=0)
        try:
            b = super()._silence_stop(active)
        finally:
            self.params = p
        found = [k for k in (a, b) if k is not None]
        return min(found) if found else None


class MaxSilenceDuringInitialSilence(FaultyRecorder):
    """Bug: the maximum-silence timer also runs before the first audio when an initial-silence
    limit is set (the shorter of the two wins).

    Breaks SD-INITIAL-SILENCE only: expected NON-STRICT.
    """

    BREAKS = "SD-INITIAL-SILENCE"
    GRADE = "NON-STRICT"
    job_class = _BothSilenceJob


class _NoBargeJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        _with(self, barge_in=False)


class BargeInIgnored(FaultyRecorder):
    """Bug: ``barge_in=True`` is accepted but digits (in-band or out-of-band) never end the job.

    Breaks SPEC-BARGEIN.
    """

    BREAKS = "SPEC-BARGEIN"
    job_class = _NoBargeJob


class _AlwaysBargeJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        _with(self, barge_in=True)


class BargeInAlways(FaultyRecorder):
    """Bug: the DTMF detector is always armed, so a digit ends the job with BARGEIN even with
    ``barge_in=False``.

    Breaks SPEC-BARGEIN ("with False it does not").
    """

    BREAKS = "SPEC-BARGEIN"
    job_class = _AlwaysBargeJob


class _ConfirmTimeDetector:
    """Wraps the DTMF detector and reports each digit's onset as the frame it was confirmed in."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def initial_state(self) -> Any:
        return self.inner.initial_state()

    def scan(self, frames: np.ndarray, state: Any) -> tuple[list[Any], Any]:
        events, new = self.inner.scan(frames, state)
        return [dataclasses.replace(ev, onset_sample=ev.frame * 160) for ev in events], new


class _ConfirmTimeJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.detector = _ConfirmTimeDetector(self.detector)  # type: ignore[assignment]


class DigitBeforeJobBargesIn(FaultyRecorder):
    """Bug: the rule for digits already in the buffer is not implemented: the DTMF detector
    starts fresh at the job (no pre-roll) and any digit it confirms during the job counts as
    new, so a digit already sounding when the job starts barges in.

    Breaks SD-DTMF-BUFFER only: expected NON-STRICT.
    """

    BREAKS = "SD-DTMF-BUFFER"
    GRADE = "NON-STRICT"
    job_class = _ConfirmTimeJob

    def _begin(self, params: JobParams) -> _Job:
        job = super()._begin(dataclasses.replace(params, barge_in=False))  # skips the pre-roll
        job.params = params
        return job


class TimeoutIgnored(FaultyRecorder):
    """Bug: record()'s seconds_timeout never arms a timer.

    Breaks SPEC-RECORD-TIMEOUT.
    """

    BREAKS = "SPEC-RECORD-TIMEOUT"

    def _begin(self, params: JobParams) -> _Job:
        return super()._begin(dataclasses.replace(params, timeout_ticks=None))


class HangupIgnored(FaultyRecorder):
    """Bug: the recorder never listens for call-state changes; after a hangup the job runs on
    (recording nothing) until another limit ends it (Asterisk app_record, PR 1790).

    Breaks SPEC-HANGUP-CAUSE.
    """

    BREAKS = "SPEC-HANGUP-CAUSE"

    def _on_call_state(self, job: _Job, new: CallState) -> None:
        return None


class HangupDeletesFile(FaultyRecorder):
    """Bug (Asterisk's default): on hangup the partial recording is deleted, not published.

    Breaks SD-FILES-LEFT (and SD-HANGUP) only: expected NON-STRICT.
    """

    BREAKS = "SD-FILES-LEFT"
    GRADE = "NON-STRICT"
    ALSO = ("SD-HANGUP",)

    def _end_job(self, job: _Job, cause: Cause) -> None:
        if cause is not Cause.HANGUP or job.ended:
            super()._end_job(job, cause)
            return
        self._detach(job)
        job.discard()
        self._finish_state(job, Cause.HANGUP, self.State.IDLE)


class HoldStopsJob(FaultyRecorder):
    """Bug: any call-state change away from ANSWERED (hold, transfer) ends the job as a hangup.

    Breaks SD-HOLD only: expected NON-STRICT.
    """

    BREAKS = "SD-HOLD"
    GRADE = "NON-STRICT"

    def _on_call_state(self, job: _Job, new: CallState) -> None:
        if new is not CallState.ANSWERED and not job.ended:
            self._end_job(job, Cause.HANGUP)


class _NeverAloneJob(_Job):
    def can_finish_alone(self) -> bool:
        return False  # the bug: a job that only the caller's audio can end says it cannot end


class ClaimsItCannotEndAlone(FaultyRecorder):
    """Bug: the job tells the call that audio alone can never end it, so a
    ``wait_until_finished(None)`` with nothing else scheduled gives up at once (the simulator's
    ``Deadlock``) instead of waiting for the silence, size or digit that ends the job.

    Breaks SPEC-WAIT-NONE (None enables an infinite wait).
    """

    BREAKS = "SPEC-WAIT-NONE"
    job_class = _NeverAloneJob

