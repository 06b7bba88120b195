"""The reference ``FileRecorder``: the spec's API and the record job's state machine.

Every behaviour here traces to a clause of the vendor's reference page (``SPEC-*`` IDs in
``conformance.clauses``) or to a decision in ``docs/spec-decisions.md`` (``SD-*`` IDs); the
comments name them. The recorder touches the outside only through the call channel it is given
(``callsim.contract`` documents that seam and is all this package imports from outside) and is single-threaded: blocking calls advance the
channel's virtual clock.

A job is a media sink: the clock hands it blocks of 20 ms frames; ``scan`` finds the first frame
where a limit is reached (size, silence, initial silence, in-band barge-in) with vectorised code,
``commit`` encodes and writes the frames it keeps. Timers, hangups, out-of-band digits and
``stop()`` arrive as events between frames.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from callsim.contract import (
    FORMATS,
    FRAME,
    RATES,
    ArgumentError,
    CallState,
    Cause,
    Error,
    Hangup,
    InvalidNameError,
    Priority,
    State,
    seconds_to_ticks,
    validate_name,
)

from . import codecs, wav
from .detect import ACTIVE_ENERGY, DtmfDetector, frame_energy
from .resample import StreamResampler

__all__ = ["FileRecorder", "Cause", "State", "RATES", "FORMAT_NAMES", "MAX_SECONDS"]

#: The encodings by name (the contract's ``FORMATS``; kept under the reference's first spelling).
FORMAT_NAMES = FORMATS
#: SD-ARGS: the longest timer we accept (7 days); longer values are rejected as out of range.
MAX_SECONDS = 7 * 24 * 3600
#: SD-ARGS: the longest silence timers we accept, in ms (same 7 days).
MAX_MS = MAX_SECONDS * 1000
#: SD-SIZE: a RIFF file cannot exceed 4 GiB; with max_bytes=0 that is the only size limit.
RIFF_LIMIT = 2**32 - 1
#: SD-DTMF-BUFFER: frames of call audio before the job that prime the DTMF detector, so a digit
#: already sounding when the job starts is recognised as old and does not barge in.
PREROLL_FRAMES = 5
#: SD-DTMF-BUFFER: the detector dates onsets within about 3 ms; a digit dated up to 5 ms before
#: the job's first frame is taken to have begun with the job.
ONSET_SLACK = 40


#: Aliases for annotations inside FileRecorder, whose Cause/State attributes shadow the enums.
CauseT = Cause
StateT = State


@dataclass(frozen=True)
class JobParams:
    """Validated parameters of one record job, with times converted to ticks and frames."""

    filename: str
    file_format: str
    rate: int
    timeout_ticks: int | None
    max_bytes: int
    max_silence_frames: int  # 0: off
    initial_silence_frames: int  # 0: off
    barge_in: bool
    cipher: Any


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> int:
    """Seconds (int or float) to ticks, or ArgumentError (SD-ARGS)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(name, value, "must be a number of seconds (int or float)")
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        # A Real beyond float range (a huge int or Fraction): out of range on one side or the
        # other; compared exactly so the message says which (never an OverflowError).
        low = value < 0  # type: ignore[operator]
        reason = ("must be > 0" if not allow_zero else "must be >= 0") if low else f"must be at most {MAX_SECONDS} seconds"
        raise ArgumentError(name, value, reason) from None
    if math.isnan(v) or math.isinf(v):
        raise ArgumentError(name, value, "must be a finite number of seconds")
    if v < 0 or (v == 0 and not allow_zero):
        raise ArgumentError(name, value, "must be > 0" if not allow_zero else "must be >= 0")
    if v > MAX_SECONDS:
        raise ArgumentError(name, value, f"must be at most {MAX_SECONDS} seconds")
    return seconds_to_ticks(v)


def _check_ms(name: str, value: object) -> int:
    """Milliseconds (int >= 0, 0 = off) to whole 20 ms frames, rounding up (SD-SILENCE)."""
    if not _is_int(value):
        raise ArgumentError(name, value, "must be an int number of milliseconds (0 = off)")
    v = int(value)  # type: ignore[call-overload]
    if v < 0:
        raise ArgumentError(name, value, "must be >= 0 (0 switches the limit off)")
    if v > MAX_MS:
        raise ArgumentError(name, value, f"must be at most {MAX_MS} ms")
    return -(-v // 20)


def validate_params(
    filename: object,
    file_format: object,
    rate: object,
    seconds_timeout: object,
    max_bytes: object,
    milliseconds_max_silence: object,
    milliseconds_initial_silence: object,
    barge_in: object,
    cipher: object,
    *,
    with_timeout: bool,
) -> JobParams:
    """Check every argument of ``record``/``start`` before anything changes (SD-ARGS)."""
    if not isinstance(filename, str):
        raise ArgumentError("filename", filename, "must be a str")
    try:
        validate_name(filename)
    except InvalidNameError as exc:
        raise ArgumentError("filename", filename, str(exc)) from None
    if not isinstance(file_format, str) or file_format not in FORMAT_NAMES:
        raise ArgumentError("file_format", file_format, f"must be one of {', '.join(FORMAT_NAMES)}")
    if not _is_int(rate) or int(rate) not in RATES:  # type: ignore[call-overload]
        raise ArgumentError("rate", rate, f"must be one of {', '.join(map(str, RATES))}")
    timeout = _check_seconds("seconds_timeout", seconds_timeout, allow_zero=False) if with_timeout else None
    if not _is_int(max_bytes):
        raise ArgumentError("max_bytes", max_bytes, "must be an int number of bytes (0 = no limit)")
    if int(max_bytes) < 0:  # type: ignore[call-overload]
        raise ArgumentError("max_bytes", max_bytes, "must be >= 0 (0 = no limit)")
    if int(max_bytes) > RIFF_LIMIT:  # type: ignore[call-overload]
        raise ArgumentError("max_bytes", max_bytes, f"must be at most {RIFF_LIMIT} (the WAV limit)")
    max_sil = _check_ms("milliseconds_max_silence", milliseconds_max_silence)
    init_sil = _check_ms("milliseconds_initial_silence", milliseconds_initial_silence)
    if not isinstance(barge_in, bool):
        raise ArgumentError("barge_in", barge_in, "must be True or False")
    if cipher is not None and not (hasattr(cipher, "encryptor") and callable(cipher.encryptor)):
        raise ArgumentError("cipher", type(cipher).__name__, "must be None or a callsim.contract.Cipher")
    return JobParams(
        filename=filename,
        file_format=file_format,
        rate=int(rate),  # type: ignore[call-overload]
        timeout_ticks=timeout,
        max_bytes=int(max_bytes),  # type: ignore[call-overload]
        max_silence_frames=max_sil,
        initial_silence_frames=init_sil,
        barge_in=barge_in,
        cipher=cipher,
    )


@dataclass
class _Scan:
    """What ``scan`` found in a block, kept so ``commit`` need not redo it."""

    start: int
    n: int
    stop: int | None
    cause: Cause | None
    active: np.ndarray
    dtmf_state: Any


class _Job:
    """One record job: a media sink with its limits, detectors, encoder and writer."""

    def __init__(self, rec: FileRecorder, params: JobParams, first_tick: int) -> None:
        self.rec = rec
        self.params = params
        self.first_tick = first_tick
        self.frames_done = 0
        self.silence_run = 0  # consecutive inactive frames ending at the last frame
        self.heard = False  # SD-AUDIO: any active frame so far
        self.ended = False
        self.cause: Cause | None = None
        fmt = params.file_format
        self.resampler = StreamResampler(params.rate)
        self.encoder = codecs.make_encoder(fmt)
        # SD-SIZE: max_bytes counts audio data only; the data never exceeds it.
        budget = params.max_bytes if params.max_bytes else RIFF_LIMIT - wav.header_size(fmt) - 1
        self.sample_limit = codecs.max_samples(fmt, budget)
        self.out_samples = 0  # samples handed to the encoder (after resampling and capping)
        self.size_frame = self._frames_for_samples(self.sample_limit)
        self.data_bytes = 0
        self.detector = DtmfDetector()
        self.dtmf_state = self.detector.initial_state()
        self._scan: _Scan | None = None
        self.writer: Any = None
        self.plain: bytearray | None = None  # cipher: plaintext kept in memory, never stored

    # -- sizing -------------------------------------------------------------------------
    def _frames_for_samples(self, limit: int) -> int:
        """The first frame count whose recording reaches ``limit`` output samples."""
        up, down = self.resampler.up, self.resampler.down
        # output samples after f frames = ceil(f*160*up/down); smallest f with that >= limit
        f = (limit * down) // (FRAME * up)
        while -(-(f * FRAME * up) // down) < limit:
            f += 1
        while f > 0 and -(-((f - 1) * FRAME * up) // down) >= limit:
            f -= 1
        return f

    # -- media sink protocol ------------------------------------------------------------
    def can_finish_alone(self) -> bool:
        p = self.params
        return bool(p.max_bytes or p.max_silence_frames or p.initial_silence_frames or p.barge_in)

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        p = self.params
        n = len(frames)
        active = frame_energy(frames) >= ACTIVE_ENERGY
        candidates: list[tuple[int, int, Cause]] = []  # (frame, rank, cause); rank breaks ties
        # SD-SIZE: the frame whose samples reach the limit ends the job.
        k = self.size_frame - self.frames_done - 1
        if k < n:
            candidates.append((k, 0, Cause.SIZE))  # k == -1: the limit allows no sample at all
        # SPEC-BARGEIN / SD-DTMF-BUFFER: a new in-band digit confirmed in a frame ends the job.
        dtmf_state = self.dtmf_state
        if p.barge_in:
            events, dtmf_state = self.detector.scan(frames, self.dtmf_state)
            for ev in events:
                if start + ev.onset_sample >= self.first_tick - ONSET_SLACK:
                    candidates.append((ev.frame, 1, Cause.BARGEIN))
                    break
        # SD-SILENCE / SD-INITIAL-SILENCE.
        sil = self._silence_stop(active)
        if sil is not None:
            candidates.append((sil, 2, Cause.SILENCE))
        stop: int | None = None
        cause: Cause | None = None
        if candidates:
            frame, _, cause = min(candidates)
            stop = frame + 1
        self._scan = _Scan(start, n, stop, cause, active, dtmf_state)
        return stop

    def _silence_stop(self, active: np.ndarray) -> int | None:
        """First frame index in this block where a silence limit is reached, or None."""
        p = self.params
        n = len(active)
        idx = np.arange(n)
        best: int | None = None
        if p.initial_silence_frames and not self.heard:
            # SD-INITIAL-SILENCE: no audio in the first N frames of the job -> SILENCE.
            k = p.initial_silence_frames - self.frames_done - 1
            first_active = int(np.argmax(active)) if active.any() else n
            if 0 <= k < n and first_active > k:
                best = k
        if p.max_silence_frames:
            # The silence run at each frame: frames since the last active frame (or carried).
            last_active = np.where(active, idx, -1)
            np.maximum.accumulate(last_active, out=last_active)
            run = np.where(last_active >= 0, idx - last_active, self.silence_run + idx + 1)
            # SD-INITIAL-SILENCE: with an initial-silence limit set, leading silence is governed
            # by it alone; with 0 the maximum silence also covers the wait for first audio.
            eligible = run >= p.max_silence_frames
            if p.initial_silence_frames and not self.heard:
                eligible &= last_active >= 0
            if eligible.any():
                k = int(np.argmax(eligible))
                best = k if best is None else min(best, k)
        return best

    def commit(self, start: int, frames: np.ndarray, n: int) -> None:
        scan = self._scan
        if scan is None or scan.start != start or scan.n != len(frames):
            self.scan(start, frames)
            scan = self._scan
        assert scan is not None
        self._scan = None
        kept = frames[:n]
        active = scan.active[:n]
        if n:
            if active.any():
                self.heard = True
                last = n - 1 - int(np.argmax(active[::-1]))
                self.silence_run = n - 1 - last
            else:
                self.silence_run += n
        if n == scan.n:
            self.dtmf_state = scan.dtmf_state
        elif self.params.barge_in and (scan.stop is None or n < scan.stop):
            _, self.dtmf_state = self.detector.scan(kept, self.dtmf_state)
        self.frames_done += n
        if n:
            self._write_audio(kept.reshape(-1))
        if self.ended:
            return
        if scan.stop is not None and n == scan.stop:
            assert scan.cause is not None
            self.rec._end_job(self, scan.cause)

    # -- encoding and writing ---------------------------------------------------------------
    def _emit(self, pcm: np.ndarray) -> None:
        room = self.sample_limit - self.out_samples
        if room <= 0 or len(pcm) == 0:
            return
        if len(pcm) > room:
            pcm = pcm[:room]  # SD-SIZE: never above the limit
        self.out_samples += len(pcm)
        self._store(self.encoder.encode(pcm))

    def _write_audio(self, pcm: np.ndarray) -> None:
        try:
            self._emit(self.resampler.process(pcm))
        except Exception as exc:  # a store fault: SPEC-ERROR / SD-ERROR
            self.rec._fail_job(self, exc)

    def _store(self, data: bytes) -> None:
        if not data:
            return
        self.data_bytes += len(data)
        if self.plain is not None:
            self.plain += data
        else:
            self.writer.write(data)

    def open(self) -> None:
        fmt, rate = self.params.file_format, self.params.rate
        self.writer = self.rec._channel.store.open_write(self.params.filename)
        header = wav.wav_header(fmt, rate, 0)
        if self.params.cipher is not None:
            self.plain = bytearray(header)  # SD-CIPHER: plaintext never reaches the store
        else:
            self.writer.write(header)

    def finish(self) -> None:
        """Flush, write the final header, publish (encrypting first when asked)."""
        self._emit(self.resampler.flush())
        self._store(self.encoder.flush())
        fmt, rate = self.params.file_format, self.params.rate
        header = wav.wav_header(fmt, rate, self.out_samples)
        pad = wav.data_pad(self.data_bytes)
        if self.plain is not None:
            self.plain[: len(header)] = header
            self.plain += pad
            enc = self.params.cipher.encryptor()
            self.writer.write(enc.update(bytes(self.plain)) + enc.finalize())
            self.plain = None
        else:
            if pad:
                self.writer.write(pad)
            self.writer.patch(0, header)
        self.writer.commit()

    def discard(self) -> None:
        self.plain = None
        if self.writer is not None:
            try:
                self.writer.abort()
            except Exception:  # noqa: S110 - aborting is best effort; nothing was published
                pass


class FileRecorder:
    """The reference implementation of the vendor's ``UASCallFileRecorder``.

    Built with ``FileRecorder(channel)``; ``channel.FileRecorder`` builds one by default.
    """

    Cause = Cause
    State = State
    #: The job class (a media sink); subclasses may replace it (the suite's faulty recorders do).
    job_class: type[_Job] = _Job

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._clock = channel.clock
        self._state = State.IDLE
        self._cause = Cause.NONE
        self._audio: bool | None = None
        self._job: _Job | None = None
        self._unsubscribe: list[Any] = []

    def __repr__(self) -> str:
        return f"<FileRecorder state={self._state.value} cause={self._cause.value}>"

    # -- checks shared by the blocking calls --------------------------------------------------
    def _check_call(self) -> None:
        """SPEC-EXC-HANGUP / SPEC-EXC-NOTANSWERED: the call-state check comes first."""
        st = self._channel.state()
        if st is CallState.IDLE:
            raise Hangup("the call has been hung up (call state IDLE)")
        if st is not CallState.ANSWERED:
            raise Error(f"the call is not answered (call state {st.value})")

    def _log(self, kind: str, **fields: Any) -> None:
        self._channel.log.add(kind, **fields)

    # -- job life cycle ---------------------------------------------------------------
    def _begin(self, params: JobParams) -> _Job:
        now = self._clock.now
        first = now + (-now) % FRAME  # SD-START: recording starts at the next frame boundary
        job = self.job_class(self, params, first)
        try:
            job.open()  # may raise a store error: handled by the caller
        except BaseException:
            # SD-ERROR: never leave a writer open behind a failed start, whatever the store did
            job.discard()
            raise
        if params.barge_in:
            # SD-DTMF-BUFFER: prime the detector with the audio just before the job.
            pre = PREROLL_FRAMES * FRAME
            hist = self._channel.render(first - pre, first).reshape(-1, FRAME)
            _, job.dtmf_state = job.detector.scan(hist, job.dtmf_state)
        self._job = job
        self._state = State.RECORDING
        self._cause = Cause.NONE
        self._audio = None
        self._channel.add_media_sink(job)
        self._unsubscribe = [
            self._channel.on_state_change(lambda old, new: self._on_call_state(job, new)),
            self._channel.on_dtmf(lambda digit, onset: self._on_dtmf(job, digit, onset)),
        ]
        if params.timeout_ticks is not None:
            job_timer = self._clock.schedule(
                first + params.timeout_ticks, Priority.JOB, lambda: self._end_job(job, Cause.TIMEOUT), "record-timeout"
            )
            self._unsubscribe.append(job_timer.cancel)
        self._log("job-start", first_tick=first, format=params.file_format, rate=params.rate, file=params.filename)
        return job

    def _on_call_state(self, job: _Job, new: CallState) -> None:
        # SD-HANGUP: a hangup ends the job with HANGUP; the partial file is kept. SD-HOLD: other
        # state changes (hold, transfer) do not stop a running job.
        if new is CallState.IDLE and not job.ended:
            self._end_job(job, Cause.HANGUP)

    def _on_dtmf(self, job: _Job, digit: str, onset: int) -> None:
        # SPEC-BARGEIN for out-of-band digits; SD-DTMF-BUFFER: only digits that begin during the job.
        if job.params.barge_in and not job.ended and onset >= job.first_tick:
            self._end_job(job, Cause.BARGEIN)

    def _detach(self, job: _Job) -> None:
        job.ended = True
        self._channel.remove_media_sink(job)
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe = []

    def _end_job(self, job: _Job, cause: CauseT) -> None:
        if job.ended:
            return
        self._detach(job)
        try:
            job.finish()
        except Exception as exc:
            job.discard()
            self._finish_state(job, Cause.ERROR, State.ERROR, error=exc)
            return
        self._finish_state(job, cause, State.IDLE)

    def _fail_job(self, job: _Job, exc: BaseException) -> None:
        if job.ended:
            return
        self._detach(job)
        job.discard()
        self._finish_state(job, Cause.ERROR, State.ERROR, error=exc)

    def _finish_state(self, job: _Job, cause: CauseT, state: StateT, error: BaseException | None = None) -> None:
        job.cause = cause
        self._audio = job.heard  # SD-AUDIO
        self._cause = cause
        self._state = state
        fields: dict[str, Any] = {"cause": cause.value, "state": state.value, "frames": job.frames_done}
        if error is not None:
            fields["error"] = type(error).__name__
        self._log("job-end", **fields)

    def _wait_job(self, job: _Job, what: str) -> None:
        self._clock.run_until(lambda: job.ended, what=what)

    # -- the spec's API ---------------------------------------------------------------
    def record(
        self,
        filename: str,
        file_format: str = "alaw",
        rate: int = 8000,
        seconds_timeout: float = 120,
        max_bytes: int = 1920000,
        milliseconds_max_silence: int = 10000,
        milliseconds_initial_silence: int = 0,
        barge_in: bool = False,
        cipher: Any = None,
    ) -> CauseT:
        """Record to ``filename`` and block until the job ends; return its cause (SPEC-RECORD)."""
        self._check_call()
        if self._state is State.RECORDING:
            raise Error("a record job is already running")  # SPEC-EXC-BUSY
        params = validate_params(
            filename, file_format, rate, seconds_timeout, max_bytes,
            milliseconds_max_silence, milliseconds_initial_silence, barge_in, cipher,
            with_timeout=True,
        )
        if not self._start_job(params):
            return self._cause
        job = self._job
        assert job is not None
        self._wait_job(job, "the record job to end")
        return self._cause

    def start(
        self,
        filename: str,
        file_format: str = "alaw",
        rate: int = 8000,
        max_bytes: int = 1920000,
        milliseconds_max_silence: int = 10000,
        milliseconds_initial_silence: int = 0,
        barge_in: bool = False,
        cipher: Any = None,
    ) -> bool:
        """Start a record job; block until it has started; True on success (SPEC-START)."""
        self._check_call()
        if self._state is State.RECORDING:
            raise Error("a record job is already running")  # SPEC-EXC-BUSY
        params = validate_params(
            filename, file_format, rate, None, max_bytes,
            milliseconds_max_silence, milliseconds_initial_silence, barge_in, cipher,
            with_timeout=False,
        )
        return self._start_job(params)

    def _start_job(self, params: JobParams) -> bool:
        """SD-START-FALSE: False when the job ended before recording began."""
        try:
            job = self._begin(params)
        except Exception as exc:  # the store refused to create the file
            self._job = None
            self._audio = False
            self._cause = Cause.ERROR
            self._state = State.ERROR
            self._log("job-end", cause="ERROR", state="ERROR", frames=0, error=type(exc).__name__)
            return False
        # Wait for an APP event at the first frame boundary: it runs after a hangup due at that
        # same tick (SD-TIES), so such a job never "started" (SD-START-FALSE).
        started = [False]

        def mark() -> None:
            started[0] = True

        self._clock.schedule(job.first_tick, Priority.APP, mark, "recording-started")
        self._clock.run_until(lambda: job.ended or started[0], what="the recording to start")
        return not (job.ended and job.frames_done == 0)

    def stop(self) -> bool:
        """Stop the running job (cause ABORTED); True on success (SPEC-STOP)."""
        self._check_call()
        job = self._job
        if self._state is not State.RECORDING or job is None or job.ended:
            return True
        self._end_job(job, Cause.ABORTED)
        return self._state is not State.ERROR

    def state(self) -> StateT:
        """The current record state (SPEC-STATE-FN)."""
        return self._state

    def cause(self) -> CauseT:
        """NONE while a job runs or before any; else the last job's cause (SPEC-CAUSE-FN)."""
        return Cause.NONE if self._state is State.RECORDING else self._cause

    def audio_detected_in_recording(self) -> bool | None:
        """None before or during a job; else whether audio was detected (SPEC-AUDIO)."""
        if self._state is State.RECORDING:
            return None
        return self._audio

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> CauseT:
        """Block until the job ends or the timeout expires (TIMEOUT) (SPEC-WAIT)."""
        self._check_call()
        ticks = None if seconds_timeout is None else _check_seconds("seconds_timeout", seconds_timeout, allow_zero=True)
        job = self._job
        if self._state is not State.RECORDING or job is None or job.ended:
            return self._cause
        expired = [False]
        timer = None
        if ticks is not None:
            def expire() -> None:
                expired[0] = True

            timer = self._clock.schedule(self._clock.now + ticks, Priority.APP, expire, "wait-timeout")
        self._clock.run_until(lambda: job.ended or expired[0], what="the record job to end")
        if timer is not None:
            timer.cancel()
        # SD-WAIT-TIMEOUT: on expiry the job keeps running; TIMEOUT is only the wait's result.
        return self._cause if job.ended else Cause.TIMEOUT
