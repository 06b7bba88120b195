"""Faulty recorders that mishandle store failures or the cipher (families "state", "cipher")."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recorder import wav
from recorder.filerecorder import Cause, JobParams, State, _Job

from ._base import FaultyRecorder

__all__ = ["StoreFaultSwallowed", "StoreFaultNoticedAtEnd", "ErrorStateIdle", "CipherIgnored",
           "HeaderNotEncrypted", "KeyInRepr"]


class _WriteOnJob(_Job):
    def _write_audio(self, pcm: np.ndarray) -> None:
        try:
            self._emit(self.resampler.process(pcm))
        except Exception:  # noqa: S110 - the bug: a failed write is logged nowhere and ignored
            pass


class _SwallowJob(_WriteOnJob):
    def finish(self) -> None:
        try:
            super().finish()
        except Exception:  # noqa: S110 - the bug
            pass


class StoreFaultSwallowed(FaultyRecorder):
    """Bug: store write/publish errors are caught and ignored; the job ends with its ordinary
    cause (e.g. SILENCE) and state IDLE although no file was published.

    Breaks SPEC-STATE-ERROR (a failed job leaves state ERROR with cause ERROR).
    """

    BREAKS = "SPEC-STATE-ERROR"
    job_class = _SwallowJob


class StoreFaultNoticedAtEnd(FaultyRecorder):
    """Bug: a failed write during the job is ignored; the job records on until its own end
    (silence, size, ...), where publishing the aborted file fails and it ends with ERROR.

    Breaks SD-ERROR (a store failure ends the job at once).
    """

    BREAKS = "SD-ERROR"
    GRADE = "NON-STRICT"
    job_class = _WriteOnJob  # publishing still raises: the job ends with ERROR, late


class ErrorStateIdle(FaultyRecorder):
    """Bug: a failed job reports cause ERROR but goes back to state IDLE.

    Breaks SPEC-STATE-ERROR.
    """

    BREAKS = "SPEC-STATE-ERROR"

    def _finish_state(self, job: _Job, cause: Cause, state: State,
                      error: BaseException | None = None) -> None:
        super()._finish_state(job, cause, State.IDLE if state is State.ERROR else state, error)

    def _start_job(self, params: JobParams) -> bool:
        ok = super()._start_job(params)
        if self._state is State.ERROR:
            self._state = State.IDLE
        return ok


class _NoCipherJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, dataclasses.replace(params, cipher=None), first_tick)


class CipherIgnored(FaultyRecorder):
    """Bug: the cipher argument is validated and then dropped; the file is stored in clear.

    Breaks SPEC-CIPHER.
    """

    BREAKS = "SPEC-CIPHER"
    job_class = _NoCipherJob


class _ClearHeaderJob(_Job):
    def finish(self) -> None:
        if self.plain is None:
            super().finish()
            return
        self._emit(self.resampler.flush())
        self._store(self.encoder.flush())
        fmt, rate = self.params.file_format, self.params.rate
        header = wav.wav_header(fmt, rate, self.out_samples)
        body = bytes(self.plain[len(header):]) + wav.data_pad(self.data_bytes)
        enc = self.params.cipher.encryptor()
        # the bug: only the audio is encrypted, the header goes out in clear
        self.writer.write(header + enc.update(body) + enc.finalize())
        self.plain = None
        self.writer.commit()


class HeaderNotEncrypted(FaultyRecorder):
    """Bug: only the audio data is encrypted; the WAV header is stored in clear before it, so
    the file is neither a WAV nor an openssl-compatible ciphertext.

    Breaks SPEC-CIPHER.
    """

    BREAKS = "SPEC-CIPHER"
    job_class = _ClearHeaderJob


class KeyInRepr(FaultyRecorder):
    """Bug: the recorder keeps the cipher key in hex for "debugging" and shows it in ``repr``
    and in its job-start log entry.

    Breaks SD-CIPHER only (key material must never appear in output): expected NON-STRICT.
    """

    BREAKS = "SD-CIPHER"
    GRADE = "NON-STRICT"

    def __init__(self, channel: Any) -> None:
        super().__init__(channel)
        self._key_hex = ""

    def _begin(self, params: JobParams) -> _Job:
        if params.cipher is not None:
            self._key_hex = bytes(params.cipher._key).hex()
            self._log("cipher", key=self._key_hex)
        return super()._begin(params)

    def __repr__(self) -> str:
        return f"<FileRecorder state={self._state.value} cause={self._cause.value} key={self._key_hex}>"
