"""``FairRecorder``: an independent FileRecorder that can take other accepted readings of the spec.

The conformance suite promises that a FAIL always means a broken sentence of the spec, and that
where the text is silent other reasonable readings grade NON-STRICT or INFO. This recorder is the
instrument that checks the promise: written from ``docs/vendor-facts.md`` alone (it imports only
``callsim.contract``, numpy, scipy and soundfile, never ``recorder``, ``simulator`` or
``conformance``; encryption goes through the ``Cipher`` value's own encryptor), it follows our decisions (``docs/spec-decisions.md``) by
default and departs from them, one open question at a time, for each *reading* it is given.

``make_factory(*readings)`` returns a factory ``channel -> FairRecorder`` named
``Fair[reading+reading]`` (``Fair[ours]`` with none). ``READINGS`` lists every reading;
``READING_DOCS`` says in one line what each does and which open question of
``docs/vendor-facts.md`` section 3 it answers.

Design (its own, not the reference's):

* a job is a media sink; ``scan`` classifies a whole block of frames with numpy (levels, silence
  runs in ticks, size reached, an in-band digit from ``tests.fair.dsp``) and returns the first
  frame where a limit is reached, ``commit`` keeps the committed prefix and its state;
* the job keeps the 8 kHz audio and the per-frame decisions in memory; when it ends the file is
  cut (readings may trim), resampled with ``scipy.signal.resample_poly``, capped to the size
  limit, encoded by libsndfile through soundfile (OKI ADPCM by ``tests.fair.dsp.oki_encode``),
  encrypted when asked, written to the store and published;
* time is counted in ticks from the job's first recorded sample, so a job that starts mid-frame
  (``start-at-call-instant``) needs no special case; levels are judged on the platform's 20 ms
  frames, the first of which then begins before the job.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
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

from .dsp import (
    TAIL,
    WINDOW,
    Confirmed,
    DtmfState,
    data_bytes,
    encode_wav,
    estimate_onset,
    frame_active,
    header_bytes,
    max_samples,
    out_samples,
    resample,
    scan_dtmf,
)

__all__ = ["CONFLICTS", "FairRecorder", "READINGS", "READING_DOCS", "make_factory"]

# -- the readings ---------------------------------------------------------------------------------

LEADING_SILENCE_TRIMMED = "leading-silence-trimmed"
NO_FILE_WITHOUT_AUDIO = "no-file-without-audio"
TRAILING_SILENCE_TRIMMED = "trailing-silence-trimmed"
HANGUP_RAISES = "hangup-raises"
BARGEIN_DIGIT_CUT = "bargein-digit-cut"
THRESHOLD_40_10MS = "threshold-40-10ms"
START_AT_CALL_INSTANT = "start-at-call-instant"
IMA_FACT_COUNTS_PADDING = "ima-fact-counts-padding"
SILENCE_HANGOVER_60MS = "silence-hangover-60ms"
EMPTY_FILE_ON_INITIAL_SILENCE = "empty-file-on-initial-silence"
OKI_TAG_0X0010 = "oki-tag-0x0010"
DIGIT_REMOVED_SAMPLE_EXACT = "digit-removed-sample-exact"
NO_LIMIT_NEVER_ENDS = "no-limit-never-ends"
TINY_MAX_BYTES_EMPTY = "tiny-max-bytes-empty"
STOP_DISCARDS = "stop-discards"
MAX_BYTES_WHOLE_FILE = "max-bytes-whole-file"
OLD_DIGIT_BARGES_IN = "old-digit-barges-in"
BAD_NAME_ERRORS_JOB = "bad-name-errors-job"
START_NO_WAIT = "start-no-wait"
SILENCE_BEFORE_SIZE = "silence-before-size"
EVENTS_BEFORE_FRAME = "events-before-frame"
TIMEOUT_ZERO_NO_TIMER = "timeout-zero-no-timer"
HOLD_ENDS_JOB = "hold-ends-job"
WAV_EXTENSIBLE = "wav-extensible"
CODEC_NEAREST = "codec-nearest"
RESAMPLER_LONG = "resampler-long"

#: One line per reading: what it does, and the open question (vendor-facts §3) it answers.
READING_DOCS: dict[str, str] = {
    LEADING_SILENCE_TRIMMED: "the file starts at the first audio frame; size counts from there (§3.4: is leading silence in the file)",
    NO_FILE_WITHOUT_AUDIO: "a job that ends before any audio was heard publishes no file (§3.8: what is left after a job; §3.4)",
    TRAILING_SILENCE_TRIMMED: "a SILENCE stop keeps only 500 ms of the trailing silence in the file (§3.5: is trailing silence trimmed)",
    HANGUP_RAISES: "record() and a blocking wait_until_finished() raise Hangup when the call hangs up mid-job; cause() is HANGUP (§3.1)",
    BARGEIN_DIGIT_CUT: "on barge-in the file ends at the start of the frame in which the digit's tone began (§3.6: is the barge-in tone kept, cut or removed)",
    THRESHOLD_40_10MS: "a frame is audio when either 10 ms half is at or above -40 dBm0 (§3.5: what counts as silence, level and window)",
    START_AT_CALL_INSTANT: "the job starts at the instant of record()/start(), mid-frame; start() returns at once (§3.14 and decision SD-START: when recording starts)",
    IMA_FACT_COUNTS_PADDING: "the IMA fact chunk counts the zero samples padding the last block (§3.7: ADPCM-block granularity)",
    SILENCE_HANGOVER_60MS: "after audio the silence detector waits 60 ms (3 frames) before silence counts, so SILENCE ends up to 60 ms later (§3.5)",
    EMPTY_FILE_ON_INITIAL_SILENCE: "an initial-silence expiry publishes a WAV with an empty data chunk (§3.8 and §3.4: initial-silence expiry)",
    OKI_TAG_0X0010: "OKI ADPCM is written with WAV tag 0x0010 (WAVE_FORMAT_OKI_ADPCM) instead of 0x0017, same data (the media-file guide names no tag)",
    DIGIT_REMOVED_SAMPLE_EXACT: "on barge-in the file ends at the digit's onset sample, inside a frame if need be (§3.6)",
    NO_LIMIT_NEVER_ENDS: "max_bytes=0 means no size limit at all, not even RIFF's 4 GiB (§3.7: max_bytes)",
    TINY_MAX_BYTES_EMPTY: "a max_bytes too small for one frame leaves an empty file; the job ends with SIZE at once (§3.7: granularity)",
    STOP_DISCARDS: "stop() discards the partial file: nothing is published for ABORTED (§3.8)",
    MAX_BYTES_WHOLE_FILE: "max_bytes counts the whole file, header included (§3.7: audio data only or the whole file)",
    OLD_DIGIT_BARGES_IN: "a digit already sounding when the job starts barges in (§2 DTMF buffer, decision SD-DTMF-BUFFER; §3.3 and §3.6)",
    BAD_NAME_ERRORS_JOB: "a bad file name raises nothing: the job fails (cause and state ERROR), start() returns False (§3.10 and §3.9)",
    START_NO_WAIT: "start() returns at once without waiting for the next frame boundary (§3.14: what start() blocks for)",
    SILENCE_BEFORE_SIZE: "size and silence reached in the same frame end the job with SILENCE, not SIZE (§3.3: ties)",
    EVENTS_BEFORE_FRAME: "a hangup or digit at the instant a frame ends is handled before that frame, which is then not recorded (§3.3: ties)",
    TIMEOUT_ZERO_NO_TIMER: "record(seconds_timeout=0) runs without a timer instead of raising an argument error (§3.10)",
    HOLD_ENDS_JOB: "a hold or transfer (call state leaves ANSWERED for anything but IDLE) ends the job with HANGUP (§3.11)",
    WAV_EXTENSIBLE: "PCM and G.711 files are written as WAVE_FORMAT_EXTENSIBLE with the subformat GUID (§2 media files: mono WAV; standard tools decode it alike)",
    CODEC_NEAREST: "G.711 codes pick the nearest codec level and OKI codes the nearest step change (rounding, not truncation): other valid encoders (§2 media files: the codec, not an encoder)",
    RESAMPLER_LONG: "6000/11000/11025 Hz files resampled with a filter twice scipy's default length and a steeper Kaiser window (beta 8.6): another valid resampler (§2 media files: a rate, not a filter)",
}

READINGS: tuple[str, ...] = tuple(READING_DOCS)

#: Pairs of readings that cannot hold together (make_factory refuses them).
CONFLICTS: tuple[frozenset[str], ...] = (
    frozenset({NO_FILE_WITHOUT_AUDIO, EMPTY_FILE_ON_INITIAL_SILENCE}),
)

MAX_SECONDS = 7 * 24 * 3600
MAX_MS = MAX_SECONDS * 1000
RIFF_MAX = 2**32 - 1
PREROLL = 5 * FRAME  # SD-DTMF-BUFFER: 100 ms of audio before the job primes the detector
ONSET_SLACK = 40  # a digit dated up to 5 ms before the job's first sample began with the job
HANGOVER = 3 * FRAME
TRAIL_KEEP = 500 * 8
#: between DTMF (20) and JOB (30): a frame limit deferred behind same-instant hangups and digits
_DEFERRED = (int(Priority.DTMF) + int(Priority.JOB)) // 2

_Cause = Cause
_State = State


# -- arguments -----------------------------------------------------------------------------------

def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _seconds(name: str, value: object, *, zero_ok: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(name, value, "must be a number of seconds")
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        raise ArgumentError(name, value, "out of range") from None
    if not math.isfinite(v):
        raise ArgumentError(name, value, "must be finite")
    if v < 0 or (v == 0 and not zero_ok):
        raise ArgumentError(name, value, "must be >= 0" if zero_ok else "must be > 0")
    if v > MAX_SECONDS:
        raise ArgumentError(name, value, f"must be at most {MAX_SECONDS} s")
    return seconds_to_ticks(v)


def _millis(name: str, value: object) -> int:
    """Whole 20 ms frames (rounded up) as ticks; 0 = off."""
    if not _is_int(value) or not 0 <= int(value) <= MAX_MS:  # type: ignore[call-overload]
        raise ArgumentError(name, value, f"must be an int number of ms in 0..{MAX_MS} (0 = off)")
    return -(-int(value) // 20) * FRAME  # type: ignore[call-overload]


@dataclass(frozen=True)
class _Params:
    filename: str
    fmt: str
    rate: int
    timeout: int | None  # ticks, None: no timer
    max_bytes: int
    max_silence: int  # ticks, 0 = off
    initial_silence: int  # ticks, 0 = off
    barge_in: bool
    cipher: Any
    name_ok: bool


def _params(rs: frozenset[str], filename: object, file_format: object, rate: object,
            seconds_timeout: object, max_bytes: object, max_silence: object,
            initial_silence: object, barge_in: object, cipher: object, *, record: bool) -> _Params:
    name_ok = True
    if not isinstance(filename, str):
        raise ArgumentError("filename", filename, "must be a str")
    try:
        validate_name(filename)
    except InvalidNameError as exc:
        if BAD_NAME_ERRORS_JOB not in rs:
            raise ArgumentError("filename", filename, str(exc)) from None
        name_ok = False
    if not isinstance(file_format, str) or file_format not in FORMATS:
        raise ArgumentError("file_format", file_format, f"must be one of {', '.join(FORMATS)}")
    if not _is_int(rate) or int(rate) not in RATES:  # type: ignore[call-overload]
        raise ArgumentError("rate", rate, "must be 8000, 6000, 11000 or 11025")
    timeout = None
    if record:
        zero_ok = TIMEOUT_ZERO_NO_TIMER in rs
        timeout = _seconds("seconds_timeout", seconds_timeout, zero_ok=zero_ok)
        if zero_ok and float(seconds_timeout) == 0:  # type: ignore[arg-type]
            timeout = None
    if not _is_int(max_bytes) or not 0 <= int(max_bytes) <= RIFF_MAX:  # type: ignore[call-overload]
        raise ArgumentError("max_bytes", max_bytes, f"must be an int in 0..{RIFF_MAX} (0 = no limit)")
    ms_max = _millis("milliseconds_max_silence", max_silence)
    ms_init = _millis("milliseconds_initial_silence", initial_silence)
    if not isinstance(barge_in, bool):
        raise ArgumentError("barge_in", barge_in, "must be True or False")
    if cipher is not None and not callable(getattr(cipher, "encryptor", None)):
        raise ArgumentError("cipher", type(cipher).__name__, "must be None or a Cipher")
    return _Params(filename, file_format, int(rate), timeout, int(max_bytes),  # type: ignore[call-overload]
                   ms_max, ms_init, barge_in, cipher, name_ok)


def sample_limit(rs: frozenset[str], fmt: str, rate: int, max_bytes: int) -> int | None:
    """The most samples (at the file's rate) a job may record; None: no limit."""
    ext = WAV_EXTENSIBLE in rs
    tag = 0x0010 if OKI_TAG_0X0010 in rs else 0x0017
    head = header_bytes(fmt, rate, oki_tag=tag, extensible=ext)
    if max_bytes == 0:
        if NO_LIMIT_NEVER_ENDS in rs:
            return None
        return max_samples(fmt, RIFF_MAX - head - 1)
    if MAX_BYTES_WHOLE_FILE in rs:
        n = max_samples(fmt, max_bytes - head)
        while n > 0 and head + data_bytes(fmt, n) + data_bytes(fmt, n) % 2 > max_bytes:
            n -= 1
    else:
        n = max_samples(fmt, max_bytes)
    if TINY_MAX_BYTES_EMPTY in rs and n < out_samples(FRAME, rate):
        return 0
    return n


# -- the job ------------------------------------------------------------------------------------

@dataclass
class _Plan:
    """What ``scan`` found in a block (kept so ``commit`` need not redo it)."""

    start: int
    n: int
    stop: int | None
    cause: Cause | None
    initial: bool  # the SILENCE is an initial-silence expiry
    active: np.ndarray
    rec: np.ndarray  # ticks recorded after each frame (cumulative, job-wide)
    counted: np.ndarray  # ticks counted toward the size limit after each frame
    run: np.ndarray  # silence run in ticks after each frame
    heard: np.ndarray
    conf: Confirmed | None
    onset: int | None
    dstate: DtmfState | None


class _Job:
    """One record job: a media sink deciding its limits block by block."""

    def __init__(self, rec: FairRecorder, p: _Params, t_call: int, t0: int) -> None:
        self.rec = rec
        self.rs = rec.readings
        self.p = p
        self.t_call = t_call
        self.t0 = t0  # tick of the first recorded sample
        self.first_tick = t0 - t0 % FRAME  # the first frame delivered to the sink
        self.skip = t0 - self.first_tick
        self.limit = sample_limit(self.rs, p.fmt, p.rate, p.max_bytes)
        self.done = 0  # frames committed
        self.rec_ticks = 0
        self.counted = 0
        self.run = 0
        self.heard = False
        self.blocks: list[np.ndarray] = []
        self.actives: list[np.ndarray] = []
        self.dstate: DtmfState | None = None
        self.ended = False
        self.cause: Cause | None = None
        self.initial_expired = False
        self.cut_tick: int | None = None
        self.extend_to: int | None = None
        self.writer: Any = None
        self.pending: Any = None
        self._plan: _Plan | None = None

    # -- media sink ----------------------------------------------------------------------
    def can_finish_alone(self) -> bool:
        p = self.p
        return bool(p.max_bytes or p.max_silence or p.initial_silence or p.barge_in)

    def _is_old(self, conf: Confirmed, start: int, samples: np.ndarray, tail: Any, out: list[int]) -> bool:
        hist = samples if tail is None else np.concatenate([tail, samples])
        a = start - (0 if tail is None else len(tail))
        fw = conf.first_w
        onset = estimate_onset(conf.digit, a, hist, ((fw + 1) * WINDOW, (fw + 3) * WINDOW),
                               ((fw - 3) * WINDOW, (fw + 1) * WINDOW))
        out.append(onset)
        if OLD_DIGIT_BARGES_IN in self.rs:
            return False
        return onset < self.t0 - ONSET_SLACK  # SD-DTMF-BUFFER

    def _analyse(self, start: int, frames: np.ndarray) -> _Plan:
        """Pure: the block's per-frame decisions and the first frame where the job stops."""
        p, rs = self.p, self.rs
        n = len(frames)
        lens = np.full(n, FRAME, dtype=np.int64)
        if self.done == 0 and n:
            lens[0] = FRAME - self.skip
        active = frame_active(frames, ten_ms=THRESHOLD_40_10MS in rs) if n else np.zeros(0, bool)
        c = np.cumsum(lens)
        idx = np.arange(n)
        la = np.where(active, idx, -1)
        np.maximum.accumulate(la, out=la)
        heard = self.heard | (la >= 0)
        c_at = c[np.maximum(la, 0)] if n else c
        run = np.where(la >= 0, c - c_at, self.run + c)
        rec = self.rec_ticks + c
        if LEADING_SILENCE_TRIMMED in rs and not self.heard:
            fa = int(np.argmax(active)) if active.any() else n
            base = int(c[fa] - lens[fa]) if fa < n else 0
            counted = np.where(idx >= fa, c - base, 0)
        else:
            counted = self.counted + c
        # candidates: (frame, rank, cause); rank orders limits reached in the same frame
        size_rank, sil_rank = (2, 0) if SILENCE_BEFORE_SIZE in rs else (0, 2)
        cands: list[tuple[int, int, Cause, bool]] = []
        if self.limit is not None:
            if self.limit == 0:
                cands.append((-1, size_rank, Cause.SIZE, False))
            elif n:
                hit = np.flatnonzero(out_samples(counted, p.rate) >= self.limit)
                if hit.size:
                    cands.append((int(hit[0]), size_rank, Cause.SIZE, False))
        if p.max_silence and n:
            need = p.max_silence + (np.where(heard, HANGOVER, 0) if SILENCE_HANGOVER_60MS in rs else 0)
            elig = run >= need
            if p.initial_silence:
                elig &= heard  # SD-INITIAL-SILENCE: the maximum silence waits for the first audio
            hit = np.flatnonzero(elig)
            if hit.size:
                cands.append((int(hit[0]), sil_rank, Cause.SILENCE, False))
        if p.initial_silence and not self.heard and n:
            hit = np.flatnonzero(~heard & (rec >= p.initial_silence))
            if hit.size:
                cands.append((int(hit[0]), sil_rank, Cause.SILENCE, True))
        conf, onset, dstate = None, None, None
        if p.barge_in and n and self.dstate is not None:
            found: list[int] = []
            conf, dstate = scan_dtmf(start, frames.reshape(-1), self.dstate, stop_at_new=True,
                                     is_old=lambda cf, s, x, t: self._is_old(cf, s, x, t, found))
            if conf is not None:
                onset = found[-1]
                cands.append((conf.window // 2, 1, Cause.BARGEIN, False))
        stop, cause, initial = None, None, False
        if cands:
            frame, _, cause, initial = min(cands, key=lambda t: (t[0], t[1]))
            stop = frame + 1
        return _Plan(start, n, stop, cause, initial, active, rec, counted, run, heard, conf, onset, dstate)

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        self._plan = self._analyse(start, frames)
        return self._plan.stop

    def commit(self, start: int, frames: np.ndarray, n: int) -> None:
        plan = self._plan
        if plan is None or plan.start != start or plan.n != len(frames):
            plan = self._analyse(start, frames)
        self._plan = None
        if n:
            i = n - 1
            self.blocks.append(np.array(frames[:n], dtype=np.int16))
            self.actives.append(plan.active[:n].copy())
            self.done += n
            self.rec_ticks = int(plan.rec[i])
            self.counted = int(plan.counted[i])
            self.run = int(plan.run[i])
            self.heard = bool(plan.heard[i])
            if self.p.barge_in and self.dstate is not None:
                if n == plan.n and plan.conf is None:
                    self.dstate = plan.dstate
                elif plan.stop is None or n < plan.stop or plan.cause is not Cause.BARGEIN:
                    _, self.dstate = scan_dtmf(start, frames[:n].reshape(-1), self.dstate, stop_at_new=False,
                                               is_old=lambda *a: True)
        if self.ended or plan.stop is None or n != plan.stop:
            return
        assert plan.cause is not None
        if plan.cause is Cause.BARGEIN and plan.onset is not None:
            onset = max(plan.onset, self.t0)
            if DIGIT_REMOVED_SAMPLE_EXACT in self.rs:
                self.cut_tick = onset
            elif BARGEIN_DIGIT_CUT in self.rs:
                self.cut_tick = onset - onset % FRAME
        self.initial_expired = plan.initial and plan.cause is Cause.SILENCE
        if EVENTS_BEFORE_FRAME in self.rs and n > 0:
            # the limit waits until hangups and digits of this same instant have been handled
            self.rec._channel.remove_media_sink(self)
            cause = plan.cause
            self.pending = self.rec._clock.schedule(
                self.rec._clock.now, _DEFERRED, lambda: self.rec._end(self, cause), "fair-frame-limit")
            return
        self.rec._end(self, plan.cause)

    # -- the file --------------------------------------------------------------------------
    def frame_end(self) -> int:
        return self.first_tick + self.done * FRAME

    def drop_last_frame(self) -> None:
        """Forget the last committed frame (an event at its end instant came first)."""
        if not self.done:
            return
        self.done -= 1
        last = self.blocks[-1]
        if len(last) <= 1:
            self.blocks.pop()
            self.actives.pop()
        else:
            self.blocks[-1] = last[:-1]
            self.actives[-1] = self.actives[-1][:-1]

    def audio(self) -> np.ndarray:
        """The 8 kHz audio of the file (readings applied), before resampling and capping."""
        rs, t0 = self.rs, self.t0
        frames = np.concatenate(self.blocks).reshape(-1) if self.blocks else np.zeros(0, np.int16)
        active = np.concatenate(self.actives) if self.actives else np.zeros(0, bool)
        x = frames[self.skip:] if len(frames) else frames
        end = t0 + len(x)
        if self.extend_to is not None and self.extend_to > end:
            x = np.concatenate([x, self.rec._channel.render(end, self.extend_to)])
        if self.cut_tick is not None and self.cause is Cause.BARGEIN:
            x = x[: max(0, self.cut_tick - t0)]
        origin = t0
        if LEADING_SILENCE_TRIMMED in rs:
            if active.any():
                s = max(t0, self.first_tick + FRAME * int(np.argmax(active)))
                x, origin = x[s - t0:], s
            else:
                x = x[:0]
        if self.cause is Cause.SILENCE:
            if EMPTY_FILE_ON_INITIAL_SILENCE in rs and self.initial_expired:
                x = x[:0]
            if TRAILING_SILENCE_TRIMMED in rs:
                last = np.flatnonzero(active)
                quiet_from = self.first_tick + FRAME * (int(last[-1]) + 1) if last.size else t0
                x = x[: max(0, max(quiet_from, origin) + TRAIL_KEEP - origin)]
        return np.asarray(x, dtype=np.int16)

    def wav(self) -> bytes:
        rs, p = self.rs, self.p
        y = resample(self.audio(), p.rate, long_filter=RESAMPLER_LONG in rs)
        if self.limit is not None:
            y = y[: self.limit]
        return encode_wav(y, p.fmt, p.rate, oki_tag=0x0010 if OKI_TAG_0X0010 in rs else 0x0017,
                          extensible=WAV_EXTENSIBLE in rs, ima_fact_padded=IMA_FACT_COUNTS_PADDING in rs,
                          nearest=CODEC_NEAREST in rs)


# -- the recorder ---------------------------------------------------------------------------------

class FairRecorder:
    """A FileRecorder following our decisions, or the given readings where they depart."""

    Cause = Cause
    State = State

    def __init__(self, channel: Any, readings: frozenset[str] = frozenset()) -> None:
        unknown = set(readings) - set(READINGS)
        if unknown:
            raise ValueError(f"unknown readings: {sorted(unknown)}")
        self.readings = frozenset(readings)
        self._channel = channel
        self._clock = channel.clock
        self._state = State.IDLE
        self._cause = Cause.NONE
        self._audio: bool | None = None
        self._job: _Job | None = None
        self._undo: list[Callable[[], Any]] = []

    def __repr__(self) -> str:
        return f"<FairRecorder {'+'.join(sorted(self.readings)) or 'ours'} {self._state.value} {self._cause.value}>"

    # -- checks --------------------------------------------------------------------------
    def _check_call(self) -> None:
        st = self._channel.state()
        if st is CallState.IDLE:
            raise Hangup("the call has been hung up")
        if st is not CallState.ANSWERED:
            raise Error(f"the call is {st.value}, not ANSWERED")

    def _check_free(self) -> None:
        self._check_call()
        if self._state is State.RECORDING:
            raise Error("a record job is already running")

    # -- job life cycle --------------------------------------------------------------------
    def _fail_at_once(self) -> None:
        self._job = None
        self._state, self._cause, self._audio = State.ERROR, Cause.ERROR, False

    def _launch(self, p: _Params) -> bool:
        rs = self.readings
        if not p.name_ok:  # bad-name-errors-job: the job fails instead of raising
            self._fail_at_once()
            return False
        now = self._clock.now
        t0 = now if START_AT_CALL_INSTANT in rs else now + (-now) % FRAME
        job = _Job(self, p, now, t0)
        try:
            job.writer = self._channel.store.open_write(p.filename)
        except Exception:  # the store refused the file: SD-START-FALSE, SD-FAULT-REPORT
            self._fail_at_once()
            return False
        if p.barge_in:
            pre = self._channel.render(job.first_tick - PREROLL, job.first_tick)
            if OLD_DIGIT_BARGES_IN in rs:
                # no priming: only the window history, so a digit already sounding is new
                _, st = scan_dtmf(job.first_tick - PREROLL, pre[-2 * WINDOW:], DtmfState(), stop_at_new=False,
                                  is_old=lambda *a: True)
                job.dstate = DtmfState(prev=st.prev, tail=pre[-TAIL:])
            else:
                _, job.dstate = scan_dtmf(job.first_tick - PREROLL, pre, DtmfState(tail=np.zeros(0, np.int16)),
                                          stop_at_new=False, is_old=lambda *a: True)
        self._job = job
        self._state, self._cause, self._audio = State.RECORDING, Cause.NONE, None
        self._channel.add_media_sink(job)
        self._undo = [
            self._channel.on_state_change(lambda old, new: self._on_state(job, new)),
            self._channel.on_dtmf(lambda digit, onset: self._on_dtmf(job, onset)),
        ]
        if p.timeout is not None:
            timer = self._clock.schedule(t0 + p.timeout, Priority.JOB,
                                         lambda: self._end(job, Cause.TIMEOUT), "fair-timeout")
            self._undo.append(timer.cancel)
        if START_AT_CALL_INSTANT in rs or START_NO_WAIT in rs:
            return True
        started = [False]
        self._clock.schedule(t0, Priority.APP, lambda: started.__setitem__(0, True), "fair-started")
        self._clock.run_until(lambda: job.ended or started[0], what="the recording to start")
        return not (job.ended and job.done == 0 and job.cause is not Cause.SIZE)

    def _on_state(self, job: _Job, new: CallState) -> None:
        if job.ended:
            return
        if new is CallState.IDLE or (HOLD_ENDS_JOB in self.readings and new is not CallState.ANSWERED):
            self._event_end(job, Cause.HANGUP)

    def _on_dtmf(self, job: _Job, onset: int) -> None:
        if job.ended or not job.p.barge_in:
            return
        first = job.t_call if OLD_DIGIT_BARGES_IN in self.readings else job.t0
        if onset < first:  # SD-DTMF-BUFFER: a digit from before the job does not barge in
            return
        if DIGIT_REMOVED_SAMPLE_EXACT in self.readings:
            job.cut_tick = job.extend_to = max(onset, job.t0)
        elif BARGEIN_DIGIT_CUT in self.readings:
            job.cut_tick = max(onset - onset % FRAME, job.t0)
        self._event_end(job, Cause.BARGEIN)

    def _event_end(self, job: _Job, cause: _Cause) -> None:
        """A call event ends the job; with events-before-frame a frame ending now is dropped."""
        if EVENTS_BEFORE_FRAME in self.readings and job.done and job.frame_end() == self._clock.now:
            job.drop_last_frame()
            job.extend_to = None  # the event came first: nothing of that frame is recorded
        self._end(job, cause)

    def _end(self, job: _Job, cause: _Cause) -> None:
        if job.ended:
            return
        job.ended = True
        job.cause = cause
        self._channel.remove_media_sink(job)
        if job.pending is not None:
            job.pending.cancel()
        for undo in self._undo:
            undo()
        self._undo = []
        active = np.concatenate(job.actives) if job.actives else np.zeros(0, bool)
        heard = bool(active.any())
        self._audio = heard
        rs = self.readings
        publish = not ((STOP_DISCARDS in rs and cause is Cause.ABORTED)
                       or (NO_FILE_WITHOUT_AUDIO in rs and not heard))
        try:
            if not publish:
                job.writer.abort()
            else:
                data = job.wav()
                if job.p.cipher is not None:
                    enc = job.p.cipher.encryptor()
                    data = enc.update(data) + enc.finalize()
                    job.writer.write(data)  # SD-CIPHER-WRITE: one write of the whole ciphertext
                else:
                    for i in range(0, len(data), 1 << 16):
                        job.writer.write(data[i: i + (1 << 16)])
                job.writer.commit()
        except Exception:  # a store fault: nothing is published (SD-FILES-LEFT, SD-ERROR)
            try:
                job.writer.abort()
            except Exception:  # noqa: S110 - the store already aborted it
                pass
            self._state, self._cause = State.ERROR, Cause.ERROR
            return
        self._state, self._cause = State.IDLE, cause

    def _hung_up(self, job: _Job) -> bool:
        return (HANGUP_RAISES in self.readings and job.cause is Cause.HANGUP
                and self._channel.state() is CallState.IDLE)

    # -- the spec's API --------------------------------------------------------------------
    def record(self, filename: str, file_format: str = "alaw", rate: int = 8000,
               seconds_timeout: float = 120, max_bytes: int = 1920000,
               milliseconds_max_silence: int = 10000, milliseconds_initial_silence: int = 0,
               barge_in: bool = False, cipher: Any = None) -> _Cause:
        self._check_free()
        p = _params(self.readings, filename, file_format, rate, seconds_timeout, max_bytes,
                    milliseconds_max_silence, milliseconds_initial_silence, barge_in, cipher, record=True)
        self._launch(p)
        job = self._job
        if job is not None:
            self._clock.run_until(lambda: job.ended, what="the record job to end")
            if self._hung_up(job):
                raise Hangup("the call hung up during the record job")
        return self._cause

    def start(self, filename: str, file_format: str = "alaw", rate: int = 8000,
              max_bytes: int = 1920000, milliseconds_max_silence: int = 10000,
              milliseconds_initial_silence: int = 0, barge_in: bool = False,
              cipher: Any = None) -> bool:
        self._check_free()
        p = _params(self.readings, filename, file_format, rate, None, max_bytes,
                    milliseconds_max_silence, milliseconds_initial_silence, barge_in, cipher, record=False)
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
        expired = [False]
        timer = None
        if ticks is not None:
            timer = self._clock.schedule(self._clock.now + ticks, Priority.APP,
                                         lambda: expired.__setitem__(0, True), "fair-wait")
        self._clock.run_until(lambda: job.ended or expired[0], what="the record job to end")
        if timer is not None:
            timer.cancel()
        if job.ended:
            if self._hung_up(job):
                raise Hangup("the call hung up during the record job")
            return self._cause
        return Cause.TIMEOUT  # SD-WAIT-TIMEOUT: the job goes on


def make_factory(*readings: str) -> Callable[[Any], FairRecorder]:
    """A recorder factory ``channel -> FairRecorder`` taking ``readings`` (names in READINGS)."""
    rs = frozenset(readings)
    unknown = rs - set(READINGS)
    if unknown:
        raise ValueError(f"unknown readings: {sorted(unknown)}; known: {', '.join(READINGS)}")
    for pair in CONFLICTS:
        if pair <= rs:
            raise ValueError(f"readings {' and '.join(sorted(pair))} cannot hold together")
    name = "Fair[" + ("+".join(r for r in READINGS if r in rs) or "ours") + "]"

    def factory(channel: Any) -> FairRecorder:
        return FairRecorder(channel, rs)

    factory.__name__ = factory.__qualname__ = name
    factory.readings = rs  # type: ignore[attr-defined]
    return factory
