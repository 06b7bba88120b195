"""Faulty recorders that lose or duplicate audio (family "formats": SPEC-WAV, the file's audio
must be the caller's audio)."""

from __future__ import annotations

from typing import Any

import numpy as np

from recorder.filerecorder import JobParams, _Job

from ._base import FaultyRecorder

__all__ = ["FirstFrameLost", "FrameDuplicatedEvery100"]


class _FirstFrameLostJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.skip_first = True

    def _write_audio(self, pcm: np.ndarray) -> None:
        if self.skip_first:
            self.skip_first = False
            pcm = pcm[160:]  # the first frame primes a buffer and is never written
        super()._write_audio(pcm)


class FirstFrameLost(FaultyRecorder):
    """Bug: the job's first 20 ms frame is dropped (used to "prime" a buffer); the file is one
    frame short and everything after is shifted by 20 ms.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"
    job_class = _FirstFrameLostJob


class _DuplicateJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.frame_no = 0

    def _write_audio(self, pcm: np.ndarray) -> None:
        frames = pcm.reshape(-1, 160)
        idx = self.frame_no + np.arange(len(frames))
        self.frame_no += len(frames)
        reps = np.where(idx % 100 == 99, 2, 1)  # a jitter buffer replays every 100th frame
        super()._write_audio(np.repeat(frames, reps, axis=0).reshape(-1))


class FrameDuplicatedEvery100(FaultyRecorder):
    """Bug: every 100th frame is written twice (a jitter-buffer replay), so the file grows 1 %
    longer than the call and drifts.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"
    job_class = _DuplicateJob
