"""A second, independently written FileRecorder: whole-buffer instead of streaming.

This module owns ``BufferedRecorder``, an example of a third-party recorder plugged into callsim
through the one seam ``factory(channel) -> recorder``. It shares no code with the reference
recorder (``recorder/``): it imports only the contract (``callsim.contract``: the channel seam
with ``first_tick``/``scan``/``commit``/``can_finish_alone`` media sinks,
``on_state_change``, ``on_dtmf``, ``render``, ``store``), the spec's exceptions, and numpy,
scipy and soundfile.

Design (deliberately unlike the reference):

* The job keeps the raw 8 kHz frames of the whole recording in memory. Limits are decided by a
  plain per-frame loop over a small immutable state (no vectorised look-ahead): ``scan`` runs
  the loop on a copy and reports the stopping frame, ``commit`` runs it again over the frames it
  keeps and stores the resulting state.
* Silence: a frame is audio when ``sum(x**2)`` reaches the energy of -45 dBm0 over 160 samples
  (0 dBm0 = a sine of peak 22827, the G.711 digital milliwatt).
* In-band DTMF: a DFT at the 8 DTMF frequencies on each 20 ms frame (what a Goertzel filter per
  frequency computes); a frame is a hit for a digit when one row and one column tone dominate
  their groups and together hold most of the frame's energy; two consecutive hit frames of the
  same digit (40 ms) confirm it. The detector is primed with 100 ms of audio before the job so
  a digit already sounding does not barge in.
* At the end the whole buffer is resampled once with ``scipy.signal.resample_poly``, cut to the
  size limit and encoded by libsndfile (through soundfile) into an in-memory WAV; OKI ADPCM is
  encoded by libsndfile as raw VOX and wrapped in a hand-built WAV (tag 0x0017). The file is
  then written to the store in one go (encrypted first when a cipher is given) and committed.

Behaviour follows ``docs/spec-decisions.md`` (the SD-* decisions) wherever it is observable.
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from callsim.contract import (
    FORMATS,
    FRAME,
    RATES,
    TICKS_PER_SECOND,
    ArgumentError,
    CallState,
    Cause,
    Error,
    Hangup,
    Priority,
    State,
    dbm0_to_energy,
)

__all__ = ["BufferedRecorder", "Cause", "State"]

MAX_SECONDS = 7 * 24 * 3600
MAX_MS = MAX_SECONDS * 1000
RIFF_MAX = 2**32 - 1
#: -45 dBm0 over one frame, as an integer energy (the contract's level reference).
SILENCE_ENERGY = dbm0_to_energy(-45.0)
PREROLL_FRAMES = 5
IMA_BLOCK = 256
IMA_SAMPLES_PER_BLOCK = 505
_SUBTYPES = {"alaw": "ALAW", "ulaw": "ULAW", "s16bit": "PCM_16", "u8bit": "PCM_U8", "ima": "IMA_ADPCM"}
_NAME_OK = re.compile(r"[A-Za-z0-9._/@-]{1,255}")


_Cause = Cause  # module-level names for annotations inside BufferedRecorder,
_State = State  # whose class attributes Cause/State shadow them


# -- argument checks -----------------------------------------------------------------------------

def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(name: str, value: object, *, zero_ok: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentError(name, value, "must be a number of seconds")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok) or v > MAX_SECONDS:
        raise ArgumentError(name, value, f"must be {'>=' if zero_ok else '>'} 0 and at most {MAX_SECONDS} s")
    return int(round(v * TICKS_PER_SECOND))


def _millis(name: str, value: object) -> int:
    if not _int(value) or not 0 <= int(value) <= MAX_MS:  # type: ignore[call-overload]
        raise ArgumentError(name, value, f"must be an int number of ms in 0..{MAX_MS} (0 = off)")
    return -(-int(value) // 20)  # type: ignore[call-overload]  # whole frames, rounded up


def _check_name(filename: object) -> str:
    if not isinstance(filename, str) or not _NAME_OK.fullmatch(filename):
        raise ArgumentError("filename", filename, "must be 1-255 of A-Z a-z 0-9 . _ / @ -")
    parts = filename.split("/")
    if "" in parts or "." in parts or ".." in filename:
        raise ArgumentError("filename", filename, "no leading/trailing '/', '//', '.' or '..'")
    return filename


@dataclass(frozen=True)
class Params:
    filename: str
    fmt: str
    rate: int
    timeout: int | None  # ticks
    max_bytes: int
    max_silence: int  # frames, 0 = off
    initial_silence: int  # frames, 0 = off
    barge_in: bool
    cipher: Any


def _params(filename: object, file_format: object, rate: object, seconds_timeout: object,
            max_bytes: object, max_silence: object, initial_silence: object, barge_in: object,
            cipher: object, *, with_timeout: bool) -> Params:
    name = _check_name(filename)
    if file_format not in FORMATS:
        raise ArgumentError("file_format", file_format, f"must be one of {', '.join(FORMATS)}")
    if not _int(rate) or rate not in RATES:
        raise ArgumentError("rate", rate, "must be 8000, 6000, 11000 or 11025")
    timeout = _seconds("seconds_timeout", seconds_timeout, zero_ok=False) if with_timeout else None
    if not _int(max_bytes) or not 0 <= int(max_bytes) <= RIFF_MAX:  # type: ignore[call-overload]
        raise ArgumentError("max_bytes", max_bytes, f"must be an int in 0..{RIFF_MAX} (0 = no limit)")
    ms_max = _millis("milliseconds_max_silence", max_silence)
    ms_init = _millis("milliseconds_initial_silence", initial_silence)
    if not isinstance(barge_in, bool):
        raise ArgumentError("barge_in", barge_in, "must be True or False")
    if cipher is not None and not callable(getattr(cipher, "encryptor", None)):
        raise ArgumentError("cipher", type(cipher).__name__, "must be None or a recorder.Cipher")
    return Params(name, str(file_format), int(rate), timeout, int(max_bytes), ms_max, ms_init,  # type: ignore[call-overload]
                  barge_in, cipher)


# -- sizes --------------------------------------------------------------------------------------

def _header_bytes(fmt: str) -> int:
    return {"s16bit": 44, "u8bit": 44, "alaw": 58, "ulaw": 58, "oki": 58, "ima": 60}[fmt]


def _sample_limit(fmt: str, max_bytes: int) -> int:
    """Most samples whose data fits in ``max_bytes`` (whole IMA blocks, whole OKI bytes)."""
    budget = max_bytes if max_bytes else RIFF_MAX - _header_bytes(fmt) - 1
    if fmt == "s16bit":
        return budget // 2
    if fmt == "ima":
        return (budget // IMA_BLOCK) * IMA_SAMPLES_PER_BLOCK
    if fmt == "oki":
        return budget * 2
    return budget


# -- in-band DTMF ---------------------------------------------------------------------------------

_ROWS = (697.0, 770.0, 852.0, 941.0)
_COLS = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYS = ("123A", "456B", "789C", "*0#D")
_N = np.arange(FRAME)
_BASIS = np.exp(-2j * np.pi * np.outer(_N, _ROWS + _COLS) / TICKS_PER_SECOND)  # (160, 8)
#: a tone of mean power P gives |X|^2 = P * N^2 / 2 at its own frequency
_TONE_MIN = (22827.0**2 / 2) * 10 ** (-30 / 10)  # each tone at least -30 dBm0


def _frame_digits(frames: np.ndarray) -> np.ndarray:
    """Digit index 0..15 per frame, or -1: one row and one column tone dominate the frame."""
    x = frames.astype(np.float64)
    power = np.abs(x @ _BASIS) ** 2 * (2.0 / FRAME**2)  # mean power of each tone
    total = np.einsum("ij,ij->i", x, x) / FRAME
    rows, cols = power[:, :4], power[:, 4:]
    r, c = rows.argmax(axis=1), cols.argmax(axis=1)
    pr, pc = rows.max(axis=1), cols.max(axis=1)
    rows_s, cols_s = np.sort(rows, axis=1), np.sort(cols, axis=1)
    ok = (pr >= _TONE_MIN) & (pc >= _TONE_MIN)
    ok &= (pr + pc) >= 0.7 * total  # the two tones hold most of the energy
    ok &= rows_s[:, -2] * 6.3 <= pr  # the other rows at least 8 dB down
    ok &= cols_s[:, -2] * 6.3 <= pc
    twist = pc / np.maximum(pr, 1e-9)  # column (high) over row (low): -8 .. +4 dB
    ok &= (twist >= 10 ** (-0.8)) & (twist <= 10 ** 0.4)
    return np.where(ok, r * 4 + c, -1)


# -- the per-frame state machine -----------------------------------------------------------------

@dataclass(frozen=True)
class _Frame:
    """Everything the per-frame loop carries from one frame to the next."""

    done: int = 0  # frames consumed
    silent_run: int = 0  # consecutive silent frames up to now
    heard: bool = False  # any audio frame so far
    digit_on: int = -1  # digit currently sounding (already reported or pre-job)
    off_run: int = 0  # frames without digit_on
    cand: int = -1  # candidate new digit
    cand_run: int = 0


def _dtmf_step(s: _Frame, d: int) -> tuple[_Frame, bool]:
    """Advance the DTMF part of the state by one frame; True when a new digit is confirmed."""
    digit_on, off_run = s.digit_on, s.off_run
    if digit_on >= 0:
        off_run = 0 if d == digit_on else off_run + 1
        if off_run >= 2:  # two frames without it: the digit has ended (bridges a dropout)
            digit_on, off_run = -1, 0
    cand, run = (d, s.cand_run + 1 if d == s.cand else 1) if d >= 0 and d != digit_on else (-1, 0)
    fired = run >= 2
    if fired:
        digit_on, off_run, cand, run = d, 0, -1, 0
    return replace(s, digit_on=digit_on, off_run=off_run, cand=cand, cand_run=run), fired


class _Job:
    """One record job: a media sink that buffers the frames and decides the limits per frame."""

    def __init__(self, rec: BufferedRecorder, p: Params, first_tick: int) -> None:
        self.rec = rec
        self.p = p
        self.first_tick = first_tick
        self.state = _Frame()
        self.chunks: list[np.ndarray] = []
        self.ended = False
        self.writer: Any = None
        self.ratio = Fraction(p.rate, 8000)
        self.limit = _sample_limit(p.fmt, p.max_bytes)

    def out_samples(self, frames: int) -> int:
        """Samples resample_poly gives for ``frames`` frames: ceil(n * rate / 8000)."""
        return -(-(frames * FRAME * self.ratio.numerator) // self.ratio.denominator)

    def can_finish_alone(self) -> bool:
        p = self.p
        return bool(p.max_bytes or p.max_silence or p.initial_silence or p.barge_in)

    def _run(self, frames: np.ndarray, upto: int | None = None) -> tuple[int | None, _Frame, Cause | None]:
        """The per-frame loop over ``frames[:upto]``: (frames consumed if it stops, state, cause)."""
        p = self.p
        energy = np.einsum("ij,ij->i", frames.astype(np.int64), frames.astype(np.int64))
        digits = _frame_digits(frames) if p.barge_in else None
        s = self.state
        if self.out_samples(s.done) >= self.limit:
            return 0, s, Cause.SIZE  # the limit leaves room for no sample at all
        for i in range(len(frames) if upto is None else upto):
            loud = bool(energy[i] >= SILENCE_ENERGY)
            s = replace(s, done=s.done + 1, heard=s.heard or loud,
                        silent_run=0 if loud else s.silent_run + 1)
            fired = False
            if digits is not None:
                s, fired = _dtmf_step(s, int(digits[i]))
            # SD-TIES: SIZE before BARGEIN before SILENCE within one frame
            if self.out_samples(s.done) >= self.limit:
                return i + 1, s, Cause.SIZE
            if fired:
                return i + 1, s, Cause.BARGEIN
            if p.initial_silence and not s.heard and s.done == p.initial_silence:
                return i + 1, s, Cause.SILENCE
            waiting = p.initial_silence and not s.heard  # SD-INITIAL-SILENCE: max silence paused
            if p.max_silence and not waiting and s.silent_run >= p.max_silence:
                return i + 1, s, Cause.SILENCE
        return None, s, None

    # media sink protocol (simulator.clock.MediaSink)
    def scan(self, start: int, frames: np.ndarray) -> int | None:
        return self._run(frames)[0]

    def commit(self, start: int, frames: np.ndarray, n: int) -> None:
        stop, state, cause = self._run(frames, n)
        self.state = state
        if n:
            self.chunks.append(np.array(frames[:n], dtype=np.int16).reshape(-1))
        if stop is not None and stop == n and cause is not None and not self.ended:
            self.rec._end(self, cause)

    def prime(self, history: np.ndarray) -> None:
        """Feed the audio just before the job to the DTMF detector (SD-DTMF-BUFFER)."""
        s = self.state
        for d in _frame_digits(history):
            s, _ = _dtmf_step(s, int(d))
        # a digit still being confirmed at the start began before the job: count it as sounding
        if s.cand >= 0:
            s = replace(s, digit_on=s.cand, off_run=0, cand=-1, cand_run=0)
        self.state = s

    # the file
    def wav_bytes(self) -> bytes:
        p = self.p
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        if p.rate != 8000:
            y = resample_poly(pcm.astype(np.float64), self.ratio.numerator, self.ratio.denominator)
            pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
        pcm = pcm[: self.limit]
        if p.fmt == "oki":
            return _oki_wav(pcm, p.rate)
        buf = io.BytesIO()
        sf.write(buf, pcm, p.rate, subtype=_SUBTYPES[p.fmt], format="WAV")
        data = buf.getvalue()
        if p.fmt == "ima":
            # libsndfile's 'fact' counts the padding of the last block; state the true count
            at = data.index(b"fact", 12)
            data = data[: at + 8] + struct.pack("<I", len(pcm)) + data[at + 12:]
        return data


def _oki_wav(pcm: np.ndarray, rate: int) -> bytes:
    """Dialogic OKI ADPCM in WAV (tag 0x0017): libsndfile's raw VOX stream in a hand-made header."""
    raw = io.BytesIO()
    if len(pcm):
        # VOX packs two samples a byte and soundfile refuses an odd count: complete it with one
        # zero sample (the low nibble of the last byte); 'fact' keeps the true count
        even = np.concatenate([pcm, np.zeros(len(pcm) % 2, np.int16)])
        sf.write(raw, even, rate, subtype="VOX_ADPCM", format="RAW")
    data = raw.getvalue()
    fmt = struct.pack("<HHIIHHH", 0x0017, 1, rate, rate // 2, 1, 4, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, len(pcm))
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


class BufferedRecorder:
    """A whole-buffer FileRecorder: ``BufferedRecorder(channel)`` is the factory."""

    Cause = Cause
    State = State

    def __init__(self, channel: Any) -> None:
        self._ch = channel
        self._clock = channel.clock
        self._state = State.IDLE
        self._cause = Cause.NONE
        self._audio: bool | None = None
        self._job: _Job | None = None
        self._undo: list[Callable[[], Any]] = []

    def __repr__(self) -> str:
        return f"<BufferedRecorder {self._state.value} {self._cause.value}>"

    # -- checks ------------------------------------------------------------------------------
    def _check_call(self) -> None:
        st = self._ch.state()
        if st is CallState.IDLE:
            raise Hangup("the call has been hung up")
        if st is not CallState.ANSWERED:
            raise Error(f"the call is {st.value}, not ANSWERED")

    def _check_free(self) -> None:
        self._check_call()
        if self._state is State.RECORDING:
            raise Error("a record job is already running")

    # -- job life cycle -------------------------------------------------------------------------
    def _launch(self, p: Params) -> bool:
        """Open the file, attach the job at the next frame boundary; False if it never started."""
        now = self._clock.now
        first = -(-now // FRAME) * FRAME
        job = _Job(self, p, first)
        try:
            job.writer = self._ch.store.open_write(p.filename)
        except Exception:  # the store refused: SD-ERROR / SD-START-FALSE
            self._state, self._cause, self._audio, self._job = State.ERROR, Cause.ERROR, False, None
            return False
        if p.barge_in:
            job.prime(self._ch.render(first - PREROLL_FRAMES * FRAME, first).reshape(-1, FRAME))
        self._job = job
        self._state, self._cause, self._audio = State.RECORDING, Cause.NONE, None
        self._ch.add_media_sink(job)
        self._undo = [
            self._ch.on_state_change(lambda old, new: self._end(job, Cause.HANGUP) if new is CallState.IDLE else None),
            self._ch.on_dtmf(lambda digit, onset: self._end(job, Cause.BARGEIN)
                             if p.barge_in and onset >= first else None),
        ]
        if p.timeout is not None:
            timer = self._clock.schedule(first + p.timeout, Priority.JOB,
                                         lambda: self._end(job, Cause.TIMEOUT), "buffered-timeout")
            self._undo.append(timer.cancel)
        if self._clock.now < first:
            # an event at the boundary, so the clock stops there rather than after a whole block
            self._clock.schedule(first, Priority.APP, lambda: None, "buffered-started")
        self._clock.run_until(lambda: job.ended or self._clock.now >= first, what="the recording to start")
        return not (job.ended and job.state.done == 0)

    def _end(self, job: _Job, cause: _Cause) -> None:
        if job.ended:
            return
        job.ended = True
        self._ch.remove_media_sink(job)
        for undo in self._undo:
            undo()
        self._undo = []
        self._audio = job.state.heard
        try:
            data = job.wav_bytes()
            if job.p.cipher is not None:
                enc = job.p.cipher.encryptor()
                data = enc.update(data) + enc.finalize()
            for i in range(0, len(data), 65536):
                job.writer.write(data[i:i + 65536])
            job.writer.commit()
        except Exception:  # a store failure: nothing is published (SD-FILES-LEFT, SD-ERROR)
            try:
                job.writer.abort()
            except Exception:  # noqa: S110 - already aborted by the store
                pass
            self._state, self._cause = State.ERROR, Cause.ERROR
            return
        self._state, self._cause = State.IDLE, cause

    # -- the spec's API -------------------------------------------------------------------------
    def record(self, filename: str, file_format: str = "alaw", rate: int = 8000,
               seconds_timeout: float = 120, max_bytes: int = 1920000,
               milliseconds_max_silence: int = 10000, milliseconds_initial_silence: int = 0,
               barge_in: bool = False, cipher: Any = None) -> _Cause:
        self._check_free()
        p = _params(filename, file_format, rate, seconds_timeout, max_bytes, milliseconds_max_silence,
                    milliseconds_initial_silence, barge_in, cipher, with_timeout=True)
        if self._launch(p):
            job = self._job
            assert job is not None
            self._clock.run_until(lambda: job.ended, what="the record job to end")
        return self._cause

    def start(self, filename: str, file_format: str = "alaw", rate: int = 8000,
              max_bytes: int = 1920000, milliseconds_max_silence: int = 10000,
              milliseconds_initial_silence: int = 0, barge_in: bool = False,
              cipher: Any = None) -> bool:
        self._check_free()
        p = _params(filename, file_format, rate, None, max_bytes, milliseconds_max_silence,
                    milliseconds_initial_silence, barge_in, cipher, with_timeout=False)
        return self._launch(p)

    def stop(self) -> bool:
        self._check_call()
        job = self._job
        if self._state is State.RECORDING and job is not None and not job.ended:
            self._end(job, Cause.ABORTED)
            return self._state is not State.ERROR
        return True

    def state(self) -> _State:
        return self._state

    def cause(self) -> _Cause:
        return Cause.NONE if self._state is State.RECORDING else self._cause

    def audio_detected_in_recording(self) -> bool | None:
        return None if self._state is State.RECORDING else self._audio

    def wait_until_finished(self, seconds_timeout: float | None = 120) -> _Cause:
        self._check_call()
        ticks = None if seconds_timeout is None else _seconds("seconds_timeout", seconds_timeout, zero_ok=True)
        job = self._job
        if self._state is not State.RECORDING or job is None or job.ended:
            return self._cause
        expired: list[bool] = []
        timer = None
        if ticks is not None:
            timer = self._clock.schedule(self._clock.now + ticks, Priority.APP,
                                         lambda: expired.append(True), "buffered-wait")
        self._clock.run_until(lambda: job.ended or bool(expired), what="the record job to end")
        if timer is not None:
            timer.cancel()
        # SD-WAIT-TIMEOUT: the job goes on; TIMEOUT is only what this wait returns
        return self._cause if job.ended else Cause.TIMEOUT
