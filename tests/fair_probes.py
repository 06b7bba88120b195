"""Fairness probes: the reference recorder with ONE other reasonable reading of an open point each.

Each class differs from ``recorder.FileRecorder`` only where the vendor's text is silent
(docs/vendor-facts.md section 3), so the conformance suite must never grade it FAIL: at most
NON-STRICT on the decision it departs from. ``tests/test_fair_probes.py`` checks that on the cases
each reading touches. ``READING`` names the decision and ``SELECT`` the catalogue cases that
exercise the reading.

The probes are test code: they reach into the reference's job class (``recorder.filerecorder``)
to change one behaviour, as ``tests/faulty`` does for bugs.
"""

from __future__ import annotations

import functools
import struct
from typing import Any, ClassVar

import numpy as np

from recorder import FileRecorder, wav
from recorder.detect import ACTIVE_ENERGY, frame_energy
from recorder.filerecorder import Cause, JobParams, State, _Job
from simulator import Hangup

__all__ = ["PROBES", "Probe"]

FRAME = 160


class _BufferedJob(_Job):
    """Keeps the 8 kHz audio in memory and encodes it when the job ends, so a reading can
    trim the start or the end of the file."""

    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.buf: list[np.ndarray] = []
        self.pending_cause: Cause | None = None
        self.digit_onset: int | None = None  # absolute tick of the barge-in digit's onset
        self._cur_start = first_tick

    def _write_audio(self, pcm: np.ndarray) -> None:
        self.buf.append(np.asarray(pcm, dtype=np.int16).copy())

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        self._cur_start = start
        stop = super().scan(start, frames)
        return stop

    def transform(self, pcm: np.ndarray) -> np.ndarray:
        return pcm

    def finish(self) -> None:
        pcm = np.concatenate(self.buf) if self.buf else np.zeros(0, np.int16)
        pcm = self.transform(pcm)
        if len(pcm):
            _Job._write_audio(self, pcm)
        super().finish()


class Probe(FileRecorder):
    """The reference with one other reading; subclasses set ``READING`` and ``SELECT``."""

    READING: ClassVar[str] = ""
    SELECT: ClassVar[str] = ""
    job_class: type[_Job] = _BufferedJob

    def _end_job(self, job: _Job, cause: Cause) -> None:
        if isinstance(job, _BufferedJob) and not job.ended:
            job.pending_cause = cause
        super()._end_job(job, cause)

    def _on_dtmf(self, job: _Job, digit: str, onset: int) -> None:
        if isinstance(job, _BufferedJob) and job.params.barge_in and not job.ended and onset >= job.first_tick:
            job.digit_onset = onset
        super()._on_dtmf(job, digit, onset)


def _silent(frames: np.ndarray) -> np.ndarray:
    return frame_energy(frames) < ACTIVE_ENERGY


# -- 1. leading silence is not recorded (SD-INITIAL-SILENCE) ----------------------------------
class _LeadTrimJob(_BufferedJob):
    def transform(self, pcm: np.ndarray) -> np.ndarray:
        n = len(pcm) // FRAME
        quiet = _silent(pcm[: n * FRAME].reshape(-1, FRAME)) if n else np.zeros(0, bool)
        first = int(np.argmin(quiet)) if n and not quiet.all() else n
        return pcm[first * FRAME:]


class LeadingSilenceTrimmed(Probe):
    """The file starts at the first audio frame (as the REST sibling's record action does)."""

    READING = "SD-INITIAL-SILENCE"
    SELECT = "limits/initial|limits/silence|examples/|limits/bargein|formats/alaw/8000|limits/hangup"
    job_class = _LeadTrimJob


# -- 2. no file when the job heard no audio (SD-FILES-LEFT) -----------------------------------
class NoFileWithoutAudio(Probe):
    """A job that ends before any audio was heard publishes nothing."""

    READING = "SD-FILES-LEFT"
    SELECT = "limits/initial|limits/zero-max-silence|limits/bargein-off|api/|limits/hangup-first"
    job_class = _Job

    def _end_job(self, job: _Job, cause: Cause) -> None:
        if job.ended or job.heard or cause is Cause.ERROR:
            super()._end_job(job, cause)
            return
        self._detach(job)
        job.discard()
        self._finish_state(job, cause, State.IDLE)


# -- 3. trailing silence trimmed on a SILENCE stop (SD-SILENCE) --------------------------------
class _TrailTrimJob(_BufferedJob):
    keep_frames = 25  # 500 ms

    def transform(self, pcm: np.ndarray) -> np.ndarray:
        if self.pending_cause is not Cause.SILENCE:
            return pcm
        n = len(pcm) // FRAME
        quiet = _silent(pcm[: n * FRAME].reshape(-1, FRAME)) if n else np.zeros(0, bool)
        if not n or quiet.all():
            return pcm[: self.keep_frames * FRAME]
        last = n - 1 - int(np.argmin(quiet[::-1]))
        return pcm[: min(len(pcm), (last + 1 + self.keep_frames) * FRAME)]


class TrailingSilenceKept500(Probe):
    """On a SILENCE stop the file keeps 500 ms of the trailing silence."""

    READING = "SD-SILENCE"
    SELECT = "limits/silence|examples/record-silence|limits/initial-silence-met|formats/alaw/8000|formats/ima/8000"
    job_class = _TrailTrimJob


class _TrailTrimAllJob(_TrailTrimJob):
    keep_frames = 0


class TrailingSilenceTrimmed(Probe):
    """On a SILENCE stop the file ends with the last audio frame."""

    READING = "SD-SILENCE"
    SELECT = TrailingSilenceKept500.SELECT
    job_class = _TrailTrimAllJob


# -- 4. record() / a blocking wait raise Hangup when the call hangs up mid-job (SD-HANGUP) -------
class HangupRaises(Probe):
    """record() and a blocking wait_until_finished() raise Hangup when the call hangs up
    while they wait; the job's cause is HANGUP."""

    READING = "SD-HANGUP"
    SELECT = "limits/hangup|cipher/hangup|limits/stop-and-hangup|api/start-hangup"
    job_class = _Job

    @functools.wraps(FileRecorder.record)  # keep the spec's signature visible to inspect
    def record(self, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
        got = super().record(*args, **kw)
        if got is Cause.HANGUP:
            raise Hangup("the call hung up during the recording")
        return got

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> Any:
        running = self._state is State.RECORDING
        got = super().wait_until_finished(seconds_timeout)
        if running and got is Cause.HANGUP:
            raise Hangup("the call hung up during the wait")
        return got


# -- 5. the barge-in digit is cut out of the file (SD-DTMF-FILE) ---------------------------------
class _DetectorSpy:
    def __init__(self, inner: Any, job: _BufferedJob) -> None:
        self.inner = inner
        self.job = job

    def initial_state(self) -> Any:
        return self.inner.initial_state()

    def scan(self, frames: np.ndarray, state: Any) -> tuple[list[Any], Any]:
        events, new = self.inner.scan(frames, state)
        job = self.job
        for ev in events:
            onset = job._cur_start + ev.onset_sample
            if job.digit_onset is None and onset >= job.first_tick - 40:
                job.pending_onset = max(onset, job.first_tick)
        return events, new


class _DigitCutJob(_BufferedJob):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.pending_onset: int | None = None
        self.detector = _DetectorSpy(self.detector, self)  # type: ignore[assignment]

    def transform(self, pcm: np.ndarray) -> np.ndarray:
        if self.pending_cause is not Cause.BARGEIN:
            return pcm
        onset = self.digit_onset if self.digit_onset is not None else self.pending_onset
        if onset is None:
            return pcm
        return pcm[: max(0, onset - self.first_tick)]


class DigitCut(Probe):
    """The barge-in digit is cut out of the file, sample-exactly from its onset."""

    READING = "SD-DTMF-FILE"
    SELECT = "limits/bargein|limits/digit"
    job_class = _DigitCutJob


# -- 6. the job starts at the exact call instant (SD-START) -------------------------------------
class _CallInstantJob(_BufferedJob):
    skip = 0

    def transform(self, pcm: np.ndarray) -> np.ndarray:
        return pcm[self.skip:]


class StartAtCallInstant(Probe):
    """Recording starts at the call instant (a partial first frame is recorded); start()
    returns at once."""

    READING = "SD-START"
    SELECT = "api/start-mid-frame|api/stop-right-after|limits/|examples/"
    job_class = _CallInstantJob

    def _begin(self, params: JobParams) -> _Job:
        now = self._clock.now
        job = super()._begin(params)  # timers count from the frame boundary; frames from the call
        job.first_tick = now - now % FRAME
        job.skip = now - job.first_tick  # type: ignore[attr-defined]
        return job

    def _start_job(self, params: JobParams) -> bool:
        try:
            self._begin(params)
        except Exception:
            self._job = None
            self._audio = False
            self._cause = Cause.ERROR
            self._state = State.ERROR
            return False
        return True


# -- 7. stop() discards the partial file (SD-FILES-LEFT / SD-STOP) ---------------------------------
class StopDiscards(Probe):
    """stop() ends the job with ABORTED and publishes nothing."""

    READING = "SD-FILES-LEFT"
    SELECT = "limits/stop|examples/start-stop|api/stop|api/during|api/start-mid|limits/hold"
    job_class = _Job

    def stop(self) -> bool:
        self._check_call()
        job = self._job
        if self._state is not State.RECORDING or job is None or job.ended:
            return True
        self._detach(job)
        job.discard()
        self._finish_state(job, Cause.ABORTED, State.IDLE)
        return True


# -- header readings: any layout standard tools decode the same way (SD-CODEC-*) ------------------
class _HeaderWriter:
    def __init__(self, inner: Any, mangle: Any) -> None:
        self.inner = inner
        self.mangle = mangle
        self.first = True

    def write(self, data: bytes) -> None:
        if self.first:
            self.first = False
            data = self.mangle(bytes(data))
        self.inner.write(data)

    def patch(self, offset: int, data: bytes) -> None:
        self.inner.patch(offset, self.mangle(bytes(data)) if offset == 0 else data)

    def commit(self) -> None:
        self.inner.commit()

    def abort(self) -> None:
        self.inner.abort()


def _header_job(mangle: Any) -> type[_Job]:
    class _J(_Job):
        def open(self) -> None:
            p = self.params
            self.writer = _HeaderWriter(self.rec._channel.store.open_write(p.filename),
                                        lambda h: mangle(h, p))
            header = wav.wav_header(p.file_format, p.rate, 0)
            if p.cipher is not None:
                self.plain = bytearray(header)
            else:
                self.writer.write(header)

        def finish(self) -> None:
            if self.plain is not None:  # the encrypted path writes the header itself
                p = self.params
                orig = wav.wav_header
                try:
                    wav.wav_header = lambda f, r, n: mangle(orig(f, r, n), p)  # type: ignore[assignment]
                    super().finish()
                finally:
                    wav.wav_header = orig  # type: ignore[assignment]
                return
            super().finish()

    return _J


def _ima_fact_padded(h: bytes, p: JobParams) -> bytes:
    if p.file_format != "ima":
        return h
    data_size = struct.unpack_from("<I", h, len(h) - 4)[0]
    at = h.index(b"fact") + 8
    return h[:at] + struct.pack("<I", (data_size // 256) * 505) + h[at + 4:]


class ImaFactPadded(Probe):
    """IMA ``fact`` counts the last block's padding (as libsndfile writes)."""

    READING = "SD-CODEC-IMA"
    SELECT = "formats/ima|limits/size-ima"
    job_class = _header_job(_ima_fact_padded)


def _oki_tag_0010(h: bytes, p: JobParams) -> bytes:
    return h[:20] + struct.pack("<H", 0x0010) + h[22:] if p.file_format == "oki" else h


class OkiTag0010(Probe):
    """OKI ADPCM written with WAV tag 0x0010 (ffmpeg decodes it to the same samples)."""

    READING = "SD-CODEC-OKI"
    SELECT = "formats/oki|limits/size-oki"
    job_class = _header_job(_oki_tag_0010)


_PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")


def _extensible(h: bytes, p: JobParams) -> bytes:
    if p.file_format not in ("s16bit", "u8bit"):
        return h
    tag, ch, rate, avg, align, bits = struct.unpack_from("<HHIIHH", h, 20)
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, rate, avg, align, bits, 22, bits, 4) + _PCM_GUID
    riff = struct.unpack_from("<I", h, 4)[0] + len(fmt) - 16
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + h[36:]


class Extensible(Probe):
    """16/8-bit PCM written as WAVE_FORMAT_EXTENSIBLE with the PCM subformat."""

    READING = "SD-WAV-LAYOUT"
    SELECT = "formats/s16bit|formats/u8bit|limits/size-s16bit|limits/size-u8bit|limits/default-16bit"
    job_class = _header_job(_extensible)


# -- silence detection readings (SD-SILENCE) ------------------------------------------------------
class _ActivityJob(_Job):
    """A job whose silence detector is ``activity(frames) -> bool per frame``."""

    recent_raw: list[bool]

    def activity(self, frames: np.ndarray) -> np.ndarray:
        return frame_energy(frames) >= ACTIVE_ENERGY

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        import recorder.filerecorder as fr

        act = self.activity(frames)
        saved = fr.frame_energy
        fr.frame_energy = lambda f: np.where(act[: len(f)], ACTIVE_ENERGY, 0)  # type: ignore[assignment]
        try:
            return super().scan(start, frames)
        finally:
            fr.frame_energy = saved

    def commit(self, start: int, frames: np.ndarray, n: int) -> None:
        if self._scan is None or self._scan.start != start or self._scan.n != len(frames):
            self.scan(start, frames)
        super().commit(start, frames, n)
        raw = frame_energy(frames[:n]) >= ACTIVE_ENERGY if n else np.zeros(0, bool)
        self.recent_raw = (list(getattr(self, "recent_raw", [])) + [bool(a) for a in raw])[-3:]


class _Threshold40Job(_ActivityJob):
    def activity(self, frames: np.ndarray) -> np.ndarray:
        x = frames.reshape(len(frames), 2, FRAME // 2).astype(np.int64)
        half = (x * x).sum(axis=2)
        return (half >= ACTIVE_ENERGY * 10 ** 0.5 / 2).any(axis=1)  # -40 dBm0 over 80 samples


class Threshold40On10ms(Probe):
    """Silence is judged on 10 ms windows against -40 dBm0: a frame is audio when either half
    reaches -40 dBm0."""

    READING = "SD-SILENCE"
    SELECT = "limits/silence|limits/quiet|limits/initial|examples/record-silence"
    job_class = _Threshold40Job


class _HangoverJob(_ActivityJob):
    def activity(self, frames: np.ndarray) -> np.ndarray:
        raw = frame_energy(frames) >= ACTIVE_ENERGY
        hist = list(getattr(self, "recent_raw", []))[-3:]
        act = np.zeros(len(raw), bool)
        for i, a in enumerate(raw):
            act[i] = bool(a) or any(hist[-3:])
            hist.append(bool(a))
        return act


class Hangover60(Probe):
    """The silence detector holds 'audio' for 60 ms after the last audio frame (hangover)."""

    READING = "SD-SILENCE"
    SELECT = "limits/silence|examples/record-silence|limits/initial-silence-met"
    job_class = _HangoverJob


# -- an empty file after an initial-silence expiry (SD-FILES-LEFT) ---------------------------------
class _EmptyOnInitialJob(_BufferedJob):
    def transform(self, pcm: np.ndarray) -> np.ndarray:
        if self.pending_cause is Cause.SILENCE and not self.heard:
            return pcm[:0]
        return pcm


class EmptyOnInitialSilence(Probe):
    """A job ended by the initial-silence limit publishes an empty WAV."""

    READING = "SD-FILES-LEFT"
    SELECT = "limits/initial"
    job_class = _EmptyOnInitialJob


#: The probes the fairness test runs, in a stable order.
PROBES: tuple[type[Probe], ...] = (
    LeadingSilenceTrimmed, NoFileWithoutAudio, TrailingSilenceKept500, TrailingSilenceTrimmed,
    HangupRaises, DigitCut, StartAtCallInstant, StopDiscards, ImaFactPadded, OkiTag0010,
    Extensible, Threshold40On10ms, Hangover60, EmptyOnInitialSilence,
)
