"""The allowed engine: what any reading of the vendor's text permits, given what was observed.

The ours engine (``conformance.model``) says what *our decisions* predict; this module says what
the *text* allows, so that a FAIL always means "a sentence of the spec is broken". It never
replays the script once per combination of readings. Instead each job's possible ends are
computed directly, one limit at a time, as end windows over every reading (see
docs/conformance.md, "The allowed engine"):

* HANGUP at the instant the call goes IDLE (certain);
* hold or transfer: an optional end (HANGUP, ABORTED or ERROR) at that instant (SD-HOLD);
* an out-of-band digit with ``barge_in``: certain after the first frame boundary, optional at
  the call instant or inside the first frame (SD-DTMF-BUFFER, SD-TIES);
* an in-band digit: certain when it begins after the first frame and any Q.24 detector must
  hear it, within [onset + 20 ms, end of tone + 40 ms]; optional when already sounding;
* TIMEOUT of ``record()``: ``seconds_timeout`` from the call instant or the first frame,
  rounded to frames either way (SD-TIMER); ``seconds_timeout=0``: optional (no timer, or at once);
* SIZE: data-only or whole-file counting, sample, block or frame granularity, and later when
  leading silence is not recorded (SD-SIZE); a ``max_bytes`` below one unit may end the job at
  once with an empty file;
* SILENCE and the initial silence, from the certain frame classes (``World.cert``): possible
  wherever a run of frames that are not certainly audio is long enough (leading silence counted,
  maximum silence running during the initial wait), certain once a run of certainly silent
  frames after certain audio covers the limit plus a detector hangover of 3 frames (SD-SILENCE,
  SD-INITIAL-SILENCE); an initial-silence expiry may be reported as SILENCE or TIMEOUT.

A limit L may end the job at [L.earliest, min(L.latest, D)] where D is the earliest ``latest``
of every *certain* limit (the job must have ended by D); with no certain limit the job may run
for ever.

The application's script is then walked along the *observed* run (``Tracker``): the clock of
the simulation is exact, so the instant of every call is known; what is uncertain is whether
and how a job has ended. Every observation (a return value, an exception, a getter's value, the
instant a blocking call returned) is first checked against the set the model allows (outside
it is a FAIL, reported once), then used to narrow the model (a job seen RECORDING at t ends
after t; a cause seen at t means the job ended by t with that cause). A job whose observations
contradict the text is marked *lost* afterwards, so one mistake is reported once, not at every
later step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callsim.contract import (
    FORMATS,
    RATES,
    TICKS_PER_MS,
    dbm0_to_energy,
    is_valid_name,
    ticks_to_ms,
)

from .model import (
    CERT_AUDIO,
    CERT_SILENCE,
    DEFAULTS,
    FRAME,
    World,
    ceil_frame,
    sample_limit,
)

__all__ = ["Cand", "JobModel", "job_limits", "HANGOVER_FRAMES", "HEADER_MAX", "TOL",
           "args_valid", "FileSpan", "file_span"]

#: One frame late for anything the text fixes (frame granularity, event dispatch). Nothing is
#: allowed early: each limit's earliest instant already covers every reading (a silence run may
#: start inside the last audio frame when the job's grid is shifted or the detector uses 10 ms).
TOL = FRAME
#: Frames a silence detector may hold "audio" after the last audio frame (a hangover).
HANGOVER_FRAMES = 3
#: The largest WAV header a writer may count in max_bytes (RIFF, a 40-byte extensible fmt
#: chunk, fact, LIST room): whole-file counting leaves at least max_bytes - HEADER_MAX of data.
HEADER_MAX = 128
INF = 1 << 62
#: A 10 ms half at or above -27 dBm0 is audio for any detector whatever its grid (3 dB above the
#: certain-audio level).
_LOUD_HALF_E = dbm0_to_energy(-27.0, FRAME // 2)
JOB_CAUSES = ("ERROR", "BARGEIN", "SILENCE", "SIZE", "ABORTED", "HANGUP", "TIMEOUT")


@dataclass
class Cand:
    """One way the job may end: ``cause`` at an instant in [lo, hi] (ticks)."""

    cause: str
    lo: int
    hi: int
    why: str  # the limit, in words
    decision: str  # the SD-* decision that governs this limit (for NON-STRICT findings)

    def show(self) -> str:
        return f"{self.cause} at {_ms_range(self.lo, self.hi)}"


def _ms(t: int) -> str:
    return "never" if t >= INF else f"{ticks_to_ms(t):g} ms"


def _ms_range(lo: int, hi: int) -> str:
    if hi >= INF:
        return f"{_ms(lo)} or later"
    return _ms(lo) if lo == hi else f"{ticks_to_ms(lo):g}..{ticks_to_ms(hi):g} ms"


@dataclass
class JobModel:
    """What the text allows for one job, narrowed by what was observed."""

    index: int  # action index of the record()/start() that began it
    call: str
    c: int  # the call instant
    b: int  # the first frame boundary at or after it
    params: dict[str, Any]
    cands: list[Cand]
    deadline: int  # the job has ended by then (INF: may run for ever)
    lost: bool = False  # observations contradicted the text: anything goes from then on
    ended_seen: bool = False  # an observation showed the job ended
    ended_by: int = INF  # an observation showed the job had ended by this instant

    # -- questions ------------------------------------------------------------------------
    def may_run(self, t: int, tol: int = 0) -> bool:
        if self.ended_by <= t:
            return False
        return self.lost or self.deadline + tol >= t

    def may_have_ended(self, t: int) -> bool:
        return self.lost or any(c.lo <= t for c in self.cands)

    def causes_by(self, t: int) -> set[str]:
        if self.lost:
            return set(JOB_CAUSES)
        return {c.cause for c in self.cands if c.lo <= t}

    def end_window(self) -> tuple[int, int]:
        if not self.cands:
            return self.c, self.deadline
        return min(c.lo for c in self.cands), min(self.deadline, max(c.hi for c in self.cands))

    def windows(self, cause: str) -> list[tuple[int, int]]:
        return _merge([(c.lo, min(c.hi, self.deadline)) for c in self.cands if c.cause == cause])

    # -- narrowing ----------------------------------------------------------------------------
    def seen_running(self, t: int, tol: int = TOL) -> bool:
        """The job was seen running at ``t``: it ends at or after ``t``. False: contradiction."""
        if self.lost:
            return True
        if self.deadline + tol < t:
            self.lost = True
            return False
        kept = [c for c in self.cands if c.hi + tol >= t]
        for c in kept:
            c.lo = max(c.lo, min(t, c.hi))
        self.cands = kept
        return True

    def seen_ended(self, t: int, causes: set[str] | None = None, tol: int = TOL) -> bool:
        """The job was seen ended by ``t`` (with one of ``causes``). False: contradiction."""
        self.ended_seen = True
        self.ended_by = min(self.ended_by, t)
        if self.lost:
            return True
        kept = [c for c in self.cands if c.lo <= t and (causes is None or c.cause in causes)]
        if not kept:
            self.lost = True
            self.deadline = min(self.deadline, t)
            return False
        for c in kept:
            c.hi = max(c.lo, min(c.hi, t))
        self.cands = kept
        self.deadline = min(self.deadline, max(c.hi for c in kept))
        return True

    def seen_end_at(self, t: int, cause: str, tol: int = TOL) -> bool:
        """The job was seen to end at ``t`` with ``cause`` (a blocking call returned it)."""
        self.ended_seen = True
        self.ended_by = min(self.ended_by, t)
        if self.lost:
            self.cands = [Cand(cause, t, t, "observed", "")]
            self.deadline = t
            return True
        kept = [c for c in self.cands if c.cause == cause and c.lo <= t <= min(c.hi, self.deadline) + tol]
        if not kept:
            self.lost = True
            self.cands = [Cand(cause, t, t, "observed", "")]
            self.deadline = t
            return False
        self.cands = [Cand(cause, t, t, kept[0].why, kept[0].decision)]
        self.deadline = t
        return True

    def stopped(self, t: int, t_ret: int) -> None:
        """stop() at ``t`` returned True at ``t_ret``: the job ends by then, ABORTED if it ran."""
        if not self.lost and self.may_run(t):
            self.cands = [c for c in self.cands if c.lo <= t_ret]
            for c in self.cands:
                c.hi = min(c.hi, t_ret)
            self.cands.append(Cand("ABORTED", t, t_ret, "stop()", "SD-STOP"))
        self.deadline = min(self.deadline, t_ret)
        self.ended_seen = True
        self.ended_by = min(self.ended_by, t_ret)

    # -- values --------------------------------------------------------------------------
    def audio_values(self, world: World, until: int = INF) -> set[bool]:
        """What audio_detected_in_recording() may say once the job has ended (by ``until``)."""
        if self.lost:
            return {True, False}
        lo, hi = self.end_window()
        hi = min(hi, self.deadline, until)
        lo = min(lo, hi)
        out: set[bool] = set()
        g0 = self.c - self.c % FRAME
        if hi > g0:
            n = -(-(min(hi, self.c + (1 << 40)) - g0) // FRAME)
            cls = world.cert(g0, n)
            if (cls != CERT_SILENCE).any():
                out.add(True)
        n_sure = max(0, (lo - self.b) // FRAME)
        cls = world.cert(self.b, n_sure)
        if not (cls == CERT_AUDIO).any():
            out.add(False)
        return out or {True, False}


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if hi < lo:
            continue
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# -- arguments --------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def args_valid(call: str, args: dict[str, Any]) -> bool:
    """Whether every argument is one the text allows (anything else may raise or fail the job)."""
    if call in ("record", "start"):
        p = {**DEFAULTS, **args}
        name = p.get("filename")
        if not isinstance(name, str) or not is_valid_name(name):
            return False
        if p["file_format"] not in FORMATS or not _is_int(p["rate"]) or p["rate"] not in RATES:
            return False
        if call == "record":
            t = p["seconds_timeout"]
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 < t < 1e9):
                return False
        for k in ("max_bytes", "milliseconds_max_silence", "milliseconds_initial_silence"):
            if not _is_int(p[k]) or p[k] < 0:
                return False
        if not _is_int(p["max_bytes"]) or p["max_bytes"] >= 2**32:
            return False
        return isinstance(p["barge_in"], bool) and (p["cipher"] is None or isinstance(p["cipher"], dict))
    if call == "wait_until_finished":
        t = args.get("seconds_timeout", 120)
        return t is None or (not isinstance(t, bool) and isinstance(t, (int, float)) and 0 <= t < 1e9)
    return True


# -- the limits of one job --------------------------------------------------------------------------
def _ticks(seconds: float) -> int:
    return int(round(seconds * 8000))


def _first_cert_audio(world: World, start: int, until: int) -> int | None:
    """Start tick of the first certainly-audio frame of the grid starting at or after ``start``
    (a frame boundary) and before ``until``."""
    if until <= start:
        return None
    n = -(-(until - start) // FRAME)
    cls = world.cert(start, n)
    hit = np.flatnonzero(cls == CERT_AUDIO)
    return start + int(hit[0]) * FRAME if len(hit) else None


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs of True in ``mask``."""
    if not len(mask):
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist()))


def job_limits(world: World, c: int, p: dict[str, Any], record: bool, *, index: int = -1,
               call: str = "record", until: int = INF) -> JobModel:
    """Every way a job started at ``c`` may end, over every reading of the text. Ends after
    ``until`` (the end of the observed run) are not worked out: nothing can observe them."""
    b = ceil_frame(c)
    fmt, rate = p["file_format"], p["rate"]
    cands: list[Cand] = []
    certain: list[int] = []

    def add(cause: str, lo: int, hi: int, why: str, decision: str, sure: bool) -> None:
        cands.append(Cand(cause, lo, hi, why, decision))
        if sure:
            certain.append(hi)

    h = world.idle_at(c)
    if h is not None:
        add("HANGUP", h, h, "the call hung up", "SD-TIES", True)
    g = world.hold_at(c)
    if g is not None and (h is None or g < h):
        for cause in ("HANGUP", "ABORTED", "ERROR"):
            add(cause, g, g, "the call was put on hold or transferred (another reading)", "SD-HOLD", False)
    if p["barge_in"]:
        for o in world.oob:
            if o < c:
                continue
            sure = o > c and o >= b
            add("BARGEIN", o, o, "an out-of-band digit", "SD-DTMF-BUFFER" if not sure else "SD-TIES", sure)
            if sure:
                break
        for d in world.inband_digits:
            if d.end <= c:
                continue
            sure = d.certain and d.on >= b + FRAME
            lo = max(d.on, c) + FRAME
            hi = ceil_frame(d.end) + 2 * FRAME
            add("BARGEIN", lo, hi, "an in-band digit", "SD-DTMF-FILE" if sure else
                "SD-DTMF-BUFFER" if d.certain else d.decision, sure)
            if sure:
                break
    if record:
        t = _ticks(p["seconds_timeout"])
        if t > 0:
            lo = c + t - t % FRAME
            hi = b + t + (-t) % FRAME
            add("TIMEOUT", lo, hi, "seconds_timeout expired", "SD-TIMER", True)
        else:
            add("TIMEOUT", c, b, "seconds_timeout=0 (at once, another reading)", "SD-ARGS", False)
    # SIZE
    mb = p["max_bytes"]
    if mb:
        n_data = sample_limit(fmt, mb) or 0
        n_min = sample_limit(fmt, max(0, mb - HEADER_MAX)) or 0
        spf = FRAME * rate / 8000
        n_min = int(np.floor(n_min / spf) * spf)  # whole frames only
        lo = c + int(np.floor(n_min * 8000 / rate / FRAME)) * FRAME
        first_audio = _first_cert_audio(world, b, min(max(b, world.audio_end), until) + FRAME)
        if first_audio is None:
            add("SIZE", lo, INF, "max_bytes reached", "SD-SIZE", False)
        else:
            need = ceil_frame(-(-n_data * 8000 // rate))
            add("SIZE", lo, first_audio + need + FRAME, "max_bytes reached", "SD-SIZE", True)
    deadline_others = min(certain) if certain else INF
    _silence_limits(world, c, b, p, min(deadline_others, until + 2 * FRAME), add)
    deadline = min(certain) if certain else INF
    kept = []
    for cd in cands:
        if cd.lo <= deadline:
            cd.hi = min(cd.hi, deadline)
            kept.append(cd)
    return JobModel(index, call, c, b, p, kept, deadline)


def _silence_limits(world: World, c: int, b: int, p: dict[str, Any], until: int, add: Any) -> None:
    ms_sil = p["milliseconds_max_silence"]
    ms_init = p["milliseconds_initial_silence"]
    if not ms_sil and not ms_init:
        return
    k_sil = -(-ms_sil // 20)
    k_init = -(-ms_init // 20)
    g0 = c - c % FRAME
    horizon = min(until, max(world.audio_end, b) + (k_sil + k_init + HANGOVER_FRAMES + 4) * FRAME)
    n = max(1, -(-(horizon - g0) // FRAME) + 1)
    cls = world.cert(g0, n)
    if ms_init:
        it = ms_init * TICKS_PER_MS
        lo = c + it
        hi = b + k_init * FRAME
        # no certainly-audio frame lies wholly inside [c, c + it)
        first = max(0, -(-(c - g0) // FRAME))
        last = (c + it - g0) // FRAME  # frames [first, last) end at or before c + it
        heard = bool((cls[first:last] == CERT_AUDIO).any()) if last > first else False
        if not heard:
            j = -(-(hi - g0) // FRAME)
            sure = bool((cls[:j] == CERT_SILENCE).all()) and j <= len(cls)
            add("SILENCE", lo, hi, "milliseconds_initial_silence elapsed without audio", "SD-INITIAL-SILENCE", sure)
            add("TIMEOUT", lo, hi, "milliseconds_initial_silence elapsed (reported as TIMEOUT, another reading)",
                "SD-INITIAL-SILENCE", False)
    if ms_sil:
        ms_t = ms_sil * TICKS_PER_MS
        not_audio = cls != CERT_AUDIO
        for r0, r1 in _runs(not_audio):
            t0 = max(c, g0 + r0 * FRAME)
            t1 = g0 + r1 * FRAME if r1 < len(cls) else INF
            if t0 > c:
                # the run may begin inside the last audio frame: a frame grid from the call instant
                # (b - c ticks earlier), or a 10 ms detector when that frame ends quietly
                tail = world.render(t0 - FRAME // 2, t0).astype(np.float64)
                slack = (b - c) + (0 if float(np.einsum("i,i->", tail, tail)) >= _LOUD_HALF_E else FRAME // 2)
                t0 = max(c, t0 - min(slack, FRAME - 1))
            if t0 + ms_t <= t1:
                # a run from the start: leading silence counted (another reading of SD-INITIAL-SILENCE)
                lead = t0 == c and bool(ms_init)
                add("SILENCE", t0 + ms_t, t1, "milliseconds_max_silence of silence",
                    "SD-INITIAL-SILENCE" if lead else "SD-SILENCE", False)
        # certain: a run of certainly silent frames after certain audio, long enough for the limit
        # plus a detector hangover
        ia = np.flatnonzero((cls == CERT_AUDIO) & (np.arange(len(cls)) * FRAME + g0 >= b))
        if len(ia):
            need = k_sil + HANGOVER_FRAMES
            sil = cls == CERT_SILENCE
            sil[: ia[0] + 1] = False
            for r0, r1 in _runs(sil):
                if r1 - r0 >= need:
                    add("SILENCE", g0 + (r0 + need) * FRAME, g0 + (r0 + need) * FRAME,
                        "milliseconds_max_silence of silence (certain)", "SD-SILENCE", True)
                    break


# -- the file a job may leave --------------------------------------------------------------------
@dataclass
class FileSpan:
    """The far-end audio a job's file may hold, in ticks of the call."""

    start_lo: int  # earliest start (the call instant)
    start_ours: int  # our decision (the first frame boundary)
    start_hi: int  # latest start (leading silence not recorded)
    must_end: int  # the file must hold the caller's audio up to here (what may be cut is not loud)
    end_lo: int
    end_hi: int  # latest end of the job
    causes: set[str]
    audio: set[bool]
    cut_from: int | None = None  # a barge-in tone that may be cut from here on
    may_be_absent: bool = True
    notes: list[str] = field(default_factory=list)


def file_span(world: World, job: JobModel, until: int = INF) -> FileSpan:
    """What the file of ``job`` may hold, the job having ended by ``until``."""
    lo, hi = job.end_window()
    hi = min(hi, job.deadline, until)
    lo = min(lo, hi)
    causes = job.causes_by(hi if hi < INF else lo) if not job.lost else set(JOB_CAUSES)
    audio = job.audio_values(world, until)
    first_audio = _first_cert_audio(world, job.b, max(job.b, lo)) if lo < INF else None
    start_hi = first_audio if first_audio is not None else max(job.b, lo)
    cut_from = None
    if "BARGEIN" in causes and job.params.get("barge_in"):
        for d in world.inband_digits:
            if d.end > job.c and d.on <= hi:
                cut_from = max(d.on, job.c)
                break
    must_end = lo if cut_from is None else min(lo, cut_from)
    if causes & {"HANGUP", "ABORTED", "ERROR", "BARGEIN"}:
        # an event (hangup, digit, stop()) at a frame's end may come before that frame, or find it
        # still in a buffer (SD-TIES): the frame may be missing
        must_end -= FRAME
    must_publish = bool(causes) and causes <= {"SILENCE", "SIZE", "TIMEOUT"} and audio == {True} and not job.lost
    return FileSpan(job.c, job.b, start_hi, must_end, lo, hi, causes, audio, cut_from, not must_publish)
