"""The oracle's ground truth and its "ours" engine: what our decisions predict for a scenario.

Nothing here runs the implementation under test or imports the reference recorder. ``World``
renders the far-end audio the scenario describes once, classifies every 20 ms frame of the
call's frame grid itself, and takes digits, hangups and call-state changes from the scenario.

Two classifications of the frames, both computed once per scenario with numpy:

* ``World.ours``: our decision SD-SILENCE (-45 dBm0 on 20 ms frames) with a 3 dB measurement
  margin: LOUD at or above -42 dBm0, QUIET below -48 dBm0, UNSURE in between;
* ``World.certain``: what the text's silence makes certain whatever level a sane detector uses
  (the text gives none): CERT_AUDIO when the 20 ms frame is at or above -30 dBm0, CERT_SILENCE
  when each 10 ms half is at or below -60 dBm0, UNCERTAIN otherwise. The allowed engine
  (``conformance.allowed``) uses these.

The "ours" engine (``predict``) replays the action script under our decisions only, once for each
of the two measurement uncertainties that are not decisions (UNSURE frames as audio or as
silence; in-band digit detection at its earliest or latest instant), and where in-band digits
our decisions leave either way (GRAY) are played, with them heard or not: at most 16 concrete runs.
Each run finds a job's end with array operations over the frame classes (no per-frame loop).
Its outcomes are the NON-STRICT baseline: the reference recorder must match them exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from callsim.contract import DBM0_RMS, FRAME, SILENCE_THRESHOLD_DBM0, dbm0_to_energy, ms_to_ticks
from simulator.audio import Dtmf, Noise, Silence, Tone
from simulator.build import build_audio
from simulator.scenario import Scenario

__all__ = ["Reading", "OURS", "JobOutcome", "StepOutcome", "ScriptOutcome", "predict", "DEFAULTS",
           "frame_classes", "certain_classes", "LOUD", "QUIET", "UNSURE", "CERT_SILENCE", "UNCERTAIN",
           "CERT_AUDIO", "script_of", "sample_limit", "out_samples", "World", "FRAME", "ours_readings"]

MARGIN_DB = 3.0
QUIET, UNSURE, LOUD = 0, 1, 2
#: The certain classes: levels away from any sane threshold (the text fixes none).
CERT_SILENCE, UNCERTAIN, CERT_AUDIO = 0, 1, 2
CERTAIN_AUDIO_DBM0 = -30.0  # a 20 ms frame at or above this is audio for any sane detector
CERTAIN_SILENCE_DBM0 = -60.0  # a frame whose 10 ms halves are all at or below this is silence

DEFAULTS: dict[str, Any] = {
    "file_format": "alaw", "rate": 8000, "seconds_timeout": 120, "max_bytes": 1920000,
    "milliseconds_max_silence": 10000, "milliseconds_initial_silence": 0, "barge_in": False,
    "cipher": None,
}

_LOUD_E = DBM0_RMS**2 * FRAME * 10 ** ((SILENCE_THRESHOLD_DBM0 + MARGIN_DB) / 10)
_QUIET_E = DBM0_RMS**2 * FRAME * 10 ** ((SILENCE_THRESHOLD_DBM0 - MARGIN_DB) / 10)
_CERT_AUDIO_E = dbm0_to_energy(CERTAIN_AUDIO_DBM0, FRAME)
_CERT_SIL_HALF_E = dbm0_to_energy(CERTAIN_SILENCE_DBM0, FRAME // 2)


@dataclass(frozen=True)
class Reading:
    """One combination of interpretations. The ours engine varies only the two measurement
    uncertainties (``unsure_is_audio``, ``early_dtmf``); the other fields stay at our
    decisions (kept so callers that name them still work)."""

    aligned_start: bool = True  # SD-START
    unsure_is_audio: bool = True
    leading_silence_counts: bool = True  # SD-INITIAL-SILENCE
    max_silence_during_initial: bool = False
    frame_limits_first: bool = True  # SD-TIES: frame limits before same-instant events
    size_before_silence: bool = True  # SD-TIES within a frame
    early_dtmf: bool = True
    old_digit_bargein: bool = False  # SD-DTMF-BUFFER
    hold_ends_job: str = ""  # SD-HOLD
    wait_timeout_ends_job: bool = False  # SD-WAIT-TIMEOUT
    onset_slack: bool = False
    calls_see_old_state: bool = False
    gray_from: int = 0  # digits our decisions leave either way (GRAY) below this rank are not heard


OURS = Reading()


def frame_classes(x: np.ndarray) -> np.ndarray:
    """QUIET / UNSURE / LOUD per whole 160-sample frame of ``x`` (our decision, +-3 dB)."""
    n = len(x) // FRAME
    f = np.asarray(x[: n * FRAME], dtype=np.float64).reshape(n, FRAME)
    energy = np.einsum("ij,ij->i", f, f)
    out = np.full(n, UNSURE, dtype=np.int8)
    out[energy >= _LOUD_E] = LOUD
    out[energy < _QUIET_E] = QUIET
    return out


def certain_classes(x: np.ndarray) -> np.ndarray:
    """CERT_SILENCE / UNCERTAIN / CERT_AUDIO per whole 160-sample frame of ``x``."""
    n = len(x) // FRAME
    f = np.asarray(x[: n * FRAME], dtype=np.float64).reshape(n, 2, FRAME // 2)
    half = np.einsum("ijk,ijk->ij", f, f)
    out = np.full(n, UNCERTAIN, dtype=np.int8)
    out[half.sum(axis=1) >= _CERT_AUDIO_E] = CERT_AUDIO
    out[(half <= _CERT_SIL_HALF_E).all(axis=1)] = CERT_SILENCE
    return out


def sample_limit(fmt: str, max_bytes: int) -> int | None:
    """Largest sample count whose data fits ``max_bytes`` (None: no limit)."""
    if max_bytes == 0:
        return None
    if fmt == "s16bit":
        return max_bytes // 2
    if fmt in ("alaw", "ulaw", "u8bit"):
        return max_bytes
    if fmt == "oki":
        return max_bytes * 2
    if fmt == "ima":
        return (max_bytes // 256) * 505
    raise ValueError(fmt)


def out_samples(frames: int, rate: int) -> int:
    return -(-frames * FRAME * rate // 8000)


def ceil_frame(t: int) -> int:
    return t + (-t) % FRAME


@dataclass(frozen=True)
class JobOutcome:
    cause: str
    start: int  # tick of the first recorded sample
    end: int  # tick the job ended
    frames: int
    audio: bool | None
    samples: int  # samples in the file at the file's rate
    file: str
    fmt: str
    rate: int
    index: int = -1  # action index of the record()/start() that began the job


@dataclass(frozen=True)
class StepOutcome:
    call: str
    returned: Any
    raised: str | None
    at: int
    end: int


@dataclass
class ScriptOutcome:
    steps: list[StepOutcome] = field(default_factory=list)
    jobs: list[JobOutcome] = field(default_factory=list)
    state: str = "IDLE"
    cause: str = "NONE"
    audio: bool | None = None
    end: int = 0


@dataclass(frozen=True, order=True)
class InbandDigit:
    on: int
    end: int
    certain: bool  # a clean standard digit: every detector must hear it (the FAIL line)
    reject: bool = False  # ours does not barge in (Q.24 rejects it, or our gray-zone decision)
    decision: str = "SD-DTMF-Q24"  # the decision that grades a detector departing from ours
    either: int = -1  # a GRAY digit (neither heard nor dropped by our decisions): its rank among them


class World:
    """Ground truth of one scenario: the rendered far-end audio, frame classes, call events and
    digits. Everything is computed once and shared by the ours engine, the allowed engine and the
    file checks."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.timeline = build_audio(scenario)
        self.changes = sorted((c.at_ms * 8, c.state) for c in scenario.call.changes)
        self.hangup = None if scenario.call.hangup_ms is None else scenario.call.hangup_ms * 8
        ev = self.timeline.dtmf_events()
        self.oob = sorted(on for on, _e, _d, oob in ev if oob)
        grade = _inband_certainty(self.timeline)
        self.inband = sorted((on, end) for on, end, _d, oob in ev if not oob)
        digits = sorted((on, end) for on, end, _d, oob in ev if not oob)
        rank = {on: k for k, on in enumerate(on for on, _end in digits if grade[on][0] == GRAY)}
        self.inband_digits = [InbandDigit(on, end, grade[on][0] == CLEAN, grade[on][0] in (REJECT, DROPPED),
                                          grade[on][1], rank.get(on, -1))
                              for on, end in digits]
        self.audio_end = ceil_frame(self.timeline.end)
        # rendered and classified lazily, in growing chunks, only as far as someone asks
        self._done = 0
        self._pcm: list[np.ndarray] = []
        self.pcm = np.zeros(0, np.int16)
        self.ours = np.zeros(0, np.int8)
        self.certain = np.zeros(0, np.int8)
        self._classes: dict[tuple[int, int, int], np.ndarray] = {}

    def _ensure(self, t: int) -> None:
        """Render and classify the far-end audio up to tick ``t`` (at most its end)."""
        t = min(ceil_frame(max(t, 0)), self.audio_end)
        if t <= self._done:
            return
        new = min(self.audio_end, max(t, 2 * self._done, self._done + 2 * 8000))
        x = np.asarray(self.timeline.render(self._done, new), dtype=np.int16)
        self.pcm = np.concatenate([self.pcm, x])
        self.ours = np.concatenate([self.ours, frame_classes(x)])
        self.certain = np.concatenate([self.certain, certain_classes(x)])
        self._done = new

    # -- audio -------------------------------------------------------------------------------
    def render(self, a: int, b: int) -> np.ndarray:
        """Far-end samples of ticks [a, b) as int16 (zero before the call and after the audio)."""
        out = np.zeros(max(0, b - a), dtype=np.int16)
        lo, hi = max(a, 0), min(b, self.audio_end)
        if lo < hi:
            self._ensure(hi)
            out[lo - a: hi - a] = self.pcm[lo:hi]
        return out

    def classes(self, t0: int, n_frames: int) -> np.ndarray:
        """Our classes of ``n_frames`` frames from tick ``t0``."""
        self._ensure(t0 + n_frames * FRAME)
        return self._grid(self.ours, QUIET, t0, n_frames, frame_classes)

    def cert(self, t0: int, n_frames: int) -> np.ndarray:
        """Certain classes of ``n_frames`` frames from tick ``t0``."""
        self._ensure(t0 + n_frames * FRAME)
        return self._grid(self.certain, CERT_SILENCE, t0, n_frames, certain_classes)

    def _grid(self, arr: np.ndarray, fill: int, t0: int, n: int, fn: Any) -> np.ndarray:
        if n <= 0:
            return np.zeros(0, np.int8)
        if t0 % FRAME == 0 and t0 >= 0:
            i = t0 // FRAME
            if i + n <= len(arr):
                return arr[i: i + n]
            out = np.full(n, fill, dtype=np.int8)
            if i < len(arr):
                out[: len(arr) - i] = arr[i:]
            return out
        key = (fill if fn is frame_classes else 3, t0, n)
        if key not in self._classes:
            self._classes[key] = fn(self.render(t0, t0 + n * FRAME))
        return self._classes[key]

    # -- call events ---------------------------------------------------------------------------
    def call_state(self, t: int, *, inclusive: bool = True) -> str:
        """Call state at tick t (changes at t have happened, unless not ``inclusive``)."""
        state = self.scenario.call.state
        for at, s in self.changes:
            if at < t or (inclusive and at == t):
                state = s
        if self.hangup is not None and (self.hangup < t or (inclusive and self.hangup == t)):
            state = "IDLE"
        return state

    def idle_at(self, after: int) -> int | None:
        """First tick >= after at which the call becomes IDLE, if any."""
        times = [at for at, s in self.changes if s == "IDLE" and at >= after]
        if self.hangup is not None and self.hangup >= after:
            times.append(self.hangup)
        return min(times) if times else None

    def hold_at(self, after: int) -> int | None:
        """First tick >= after at which the call leaves ANSWERED for a live state (hold, ...)."""
        times = [at for at, s in self.changes if at >= after and s not in ("ANSWERED", "IDLE")]
        return min(times) if times else None

    def call_events(self) -> list[int]:
        out = [at for at, _s in self.changes]
        if self.hangup is not None:
            out.append(self.hangup)
        return out


#: How a digit's parameters stand against ITU-T Q.24 (AT&T column, docs/dsp.md):
#: CLEAN, a standard digit every detector hears (tones of at least 40 ms after a pause of at least
#: 40 ms, each tone within 0..-25 dBm0, twist within -6..+3 dB, frequencies within 1.0 %): missing
#: it is a FAIL; ACCEPT, within Q.24's acceptance range but not clean (offsets up to 1.5 %, twist
#: -8..+4 dB): ours hears it, a detector that does not is graded NON-STRICT (a DSP-quality
#: finding); REJECT, a digit Q.24 says a detector must not hear (an offset of 3.5 % or more, a
#: tone of 23 ms or less, a tone at -55 dBm0 or below, the resumed tone after an interruption of
#: 10 ms or less): ours does not barge in, one that does is graded NON-STRICT; GRAY, between the
#: two: either way, no finding.
CLEAN, ACCEPT, GRAY, REJECT = "clean", "accept", "gray", "reject"
#: SD-DTMF-GRAY: inside Q.24's gray zone our detector decides too, and at points clear of its own
#: edges the suite expects what it decides: HEARD, a digit ours hears (a detector that misses it
#: is graded INFO); DROPPED, one ours does not (INFO when it barges in). Only a digit that departs
#: from a clean standard digit on one axis alone is placed there; the rest of the gray zone stays
#: GRAY, either way (docs/spec-decisions.md).
HEARD, DROPPED = "heard", "dropped"
#: Our detector's gray-zone decisions, each axis as (heard up to, dropped from): twist (dB, each
#: side), frequency offset (%), the weaker tone's level (dBm0), the tone's length (ms), and the
#: interruption of a tone resumed (ms: bridged up to, a new digit from). Between the two, either
#: way. The edges ours shows lie between each pair (measured over the keypad and five onsets).
#: A digit replaced by another with no pause at all (which Q.24 does not define) is a new digit.
GRAY_TWIST_HI_DB, GRAY_TWIST_LO_DB = (5.5, 6.5), (-9.5, -10.5)
GRAY_OFFSET_PCT = (2.0, 3.0)
GRAY_LEVEL_DBM0 = (-35.0, -37.0)
GRAY_TONE_MS = (33, 24)
GRAY_PAUSE_MS = (17, 28)
#: SD-DTMF-TALKOFF: digit-like material a clean two-tone sender cannot make (docs/spec-decisions.md).
#: An impurity (second harmonic of a tone, relative to it; third-order product, relative to the
#: weaker tone) at or above TALKOFF_IMPURITY_DB makes the tones talk-off material (REJECT); one
#: above CLEAN_IMPURITY_DB (Q.23 senders keep them 20 dB down) leaves the digit GRAY.
TALKOFF_IMPURITY_DB, CLEAN_IMPURITY_DB = -10.0, -20.0
#: Other far-end sound under a digit, as the tones' power over that sound's (dB): at or above
#: NEGLIGIBLE_SNR_DB nothing changes; down to ACCEPT_SNR_DB a clean digit is only ACCEPT (a noise
#: margin is DSP quality, Q.24 names none); below it GRAY. A tone pair holding at most
#: TALKOFF_FRACTION of the power under sound covering it is talk-off material (REJECT).
NEGLIGIBLE_SNR_DB, ACCEPT_SNR_DB, TALKOFF_FRACTION = 30.0, 15.0, 2.0 / 3.0
#: Q.24: an interruption of at most this long (ticks) is bridged (the tone is one digit).
BRIDGED_TICKS = ms_to_ticks(10)


def _power(level_dbm0: float) -> float:
    return float(10.0 ** (level_dbm0 / 10.0))


def _other_sound(timeline: Any, seg: Any, on: int, end: int) -> tuple[float, float, bool]:
    """(power of other sound overlapping [on, end), of the part covering all of it, whether any
    of it has no stationary level) in dBm0 power units."""
    any_p = cover_p = 0.0
    unknown = False
    for other in timeline.segments:
        if other is seg or isinstance(other, Silence) or other.start >= end or other.end <= on:
            continue
        if isinstance(other, Dtmf) and other.out_of_band:
            continue
        if isinstance(other, Tone):
            p = len(other.freqs) * _power(other.level_dbm0)
        elif isinstance(other, Noise):
            p = _power(other.level_dbm0)
        else:  # speech, a file, another digit: no level a detector sees over 15 ms
            unknown = True
            continue
        any_p += p
        if other.start <= on and other.end >= end:
            cover_p += p
    return any_p, cover_p, unknown


def _snr_db(signal: float, other: float) -> float:
    return float("inf") if other <= 0.0 else 10.0 * float(np.log10(signal / other))


def _gray_axes(low: float, high: float, twist: float, offset: float, tone_ms: float) -> list[str]:
    """Each axis of a digit (twist, offset, levels, length) as CLEAN, HEARD or DROPPED by our
    gray-zone decisions (SD-DTMF-GRAY), or GRAY (Q.24's acceptance range, or between the two)."""
    def axis(clean: bool, heard: bool, dropped: bool) -> str:
        return CLEAN if clean else HEARD if heard else DROPPED if dropped else GRAY
    return [
        axis(-6.0 <= twist <= 3.0, GRAY_TWIST_LO_DB[0] <= twist < -8.0 or 4.0 < twist <= GRAY_TWIST_HI_DB[0],
             twist <= GRAY_TWIST_LO_DB[1] or twist >= GRAY_TWIST_HI_DB[1]),
        axis(offset <= 1.0, 1.5 < offset <= GRAY_OFFSET_PCT[0], offset >= GRAY_OFFSET_PCT[1]),
        axis(min(low, high) >= -25.0 and max(low, high) <= 0.0,
             GRAY_LEVEL_DBM0[0] <= min(low, high) and max(low, high) <= 0.0, min(low, high) <= GRAY_LEVEL_DBM0[1]),
        axis(tone_ms >= 40, tone_ms >= GRAY_TONE_MS[0], tone_ms <= GRAY_TONE_MS[1]),
    ]


def _gray_zone(axes: list[str]) -> str:
    """HEARD or DROPPED for a digit departing from a clean one on one axis alone, else GRAY."""
    away = [a for a in axes if a != CLEAN]
    return away[0] if len(away) == 1 and away[0] in (HEARD, DROPPED) else GRAY


def _inband_certainty(timeline: Any) -> dict[int, tuple[str, str]]:
    """Digit onset -> (CLEAN, ACCEPT, HEARD, GRAY, DROPPED or REJECT (see above), the decision
    that grades it)."""
    out: dict[int, tuple[str, str]] = {}
    for seg in timeline.segments:
        if not isinstance(seg, Dtmf) or seg.out_of_band:
            continue
        lo_pct = seg.freq_offset_pct if seg.low_offset_pct is None else seg.low_offset_pct
        hi_pct = seg.freq_offset_pct if seg.high_offset_pct is None else seg.high_offset_pct
        low, high, twist = seg.level_dbm0, seg.level_dbm0 + seg.twist_db, seg.twist_db
        paused = len(seg.digits) == 1 or seg.gap_ticks >= 40 * 8
        timing = seg.tone_ticks >= 40 * 8 and paused
        levels = -25.0 <= low <= 0.0 and -25.0 <= high <= 0.0
        offset = max(abs(lo_pct), abs(hi_pct))
        axes = _gray_axes(low, high, twist, offset, seg.tone_ticks / 8)
        if timing and levels and -6.0 <= twist <= 3.0 and offset <= 1.0:
            grade = CLEAN
        elif timing and levels and -8.0 <= twist <= 4.0 and offset <= 1.5:
            grade = ACCEPT
        elif offset >= 3.5 or seg.tone_ticks <= 23 * 8 or min(low, high) <= -55.0:
            grade = REJECT
        else:
            grade = _gray_zone(axes + [CLEAN if paused else GRAY])
        signal = _power(low) + _power(high)
        prev = ""
        for on, end, d in seg.dtmf_schedule():
            g, decision = grade, "SD-DTMF-Q24"
            impurity = max((rel for _f, _lvl, rel in seg.impurities(d)), default=-math.inf)
            any_p, cover_p, unknown = _other_sound(timeline, seg, on, end)
            if d == prev and seg.gap_ticks <= BRIDGED_TICKS:
                g = REJECT  # Q.24: the same tone resumed after a bridged interruption is no new digit
            elif prev and d != prev and seg.gap_ticks == 0 and _gray_zone(axes + [HEARD]) == HEARD:
                g = HEARD  # a sounding digit replaced by another with no pause: ours hears a new digit
            elif d == prev and not paused and g != REJECT:
                # the same tone resumed after an interruption Q.24 leaves open: ours bridges a
                # short one (no new digit) and hears a new digit after a longer one
                pause = DROPPED if seg.gap_ticks <= ms_to_ticks(GRAY_PAUSE_MS[0]) else \
                    HEARD if seg.gap_ticks >= ms_to_ticks(GRAY_PAUSE_MS[1]) else GRAY
                g = _gray_zone(axes + [pause])
            if g in (HEARD, DROPPED):
                decision = "SD-DTMF-GRAY"
            if g != REJECT and (impurity >= TALKOFF_IMPURITY_DB
                                or signal <= TALKOFF_FRACTION * (signal + cover_p) * (1.0 + 1e-9)):
                g, decision = REJECT, "SD-DTMF-TALKOFF"
            elif g != REJECT:
                before = g
                snr = _snr_db(signal, any_p)
                if unknown or impurity > CLEAN_IMPURITY_DB or snr < ACCEPT_SNR_DB:
                    g = GRAY
                elif snr < NEGLIGIBLE_SNR_DB and g in (HEARD, DROPPED):
                    g = GRAY  # our gray-zone edges are measured on clean tones only
                elif snr < NEGLIGIBLE_SNR_DB and g == CLEAN:
                    g = ACCEPT
                if g != before:
                    decision = "SD-DTMF-TALKOFF"
            out[on] = (g, decision)
            prev = d
    return out


# -- the ours engine ---------------------------------------------------------------------------------
def _size_frames(fmt: str, rate: int, max_bytes: int) -> int | None:
    """Frames after which the data reaches its largest size <= max_bytes (SD-SIZE)."""
    lim = sample_limit(fmt, max_bytes)
    if lim is None:
        return None
    f = (lim * 8000) // (rate * FRAME)
    while out_samples(f, rate) < lim:
        f += 1
    while f > 0 and out_samples(f - 1, rate) >= lim:
        f -= 1
    return f


def _first_true(mask: np.ndarray) -> int | None:
    if not len(mask):
        return None
    i = int(np.argmax(mask))
    return i if mask[i] else None


def _natural_end(world: World, t_call: int, p: dict[str, Any], r: Reading, horizon: int,
                 record: bool) -> tuple[str, int, int, bool | None]:
    """(cause, end tick, frames recorded, audio detected) of a job left alone, under our
    decisions (and the reading's two measurement uncertainties)."""
    t0 = ceil_frame(t_call) if r.aligned_start else t_call
    fmt, rate = p["file_format"], p["rate"]
    size_frames = _size_frames(fmt, rate, p["max_bytes"])
    timer = t0 + int(round(p["seconds_timeout"] * 8000)) if record else None
    max_sil = -(-p["milliseconds_max_silence"] // 20)
    init_sil = -(-p["milliseconds_initial_silence"] // 20)
    events: list[tuple[int, int, str]] = []  # (tick, order, cause)
    idle = world.idle_at(t_call)
    if idle is not None:
        events.append((idle, 0, "HANGUP"))
    if r.hold_ends_job:
        hold = world.hold_at(t_call)
        if hold is not None:
            events.append((hold, 0, r.hold_ends_job))
    if p["barge_in"]:
        for on in world.oob:
            at_call = on == t_call and not r.calls_see_old_state
            if not at_call and (on >= t0 or (r.old_digit_bargein and on >= t_call)):
                events.append((on, 1, "BARGEIN"))
                break
    if timer is not None:
        events.append((timer, 2, "TIMEOUT"))
    detect: list[int] = []
    if p["barge_in"]:
        for digit in world.inband_digits:
            on, end = digit.on, digit.end
            if digit.reject or 0 <= digit.either < r.gray_from or end <= t0 or (on < t0 and not r.old_digit_bargein):
                continue
            if r.onset_slack and not r.old_digit_bargein and on < t0 + FRAME:
                continue
            detect.append((max(on, t0) + FRAME) if r.early_dtmf else (end + 2 * FRAME))
    first_event = min(events) if events else None
    if size_frames == 0 and (first_event is None or first_event[0] > t0):
        return "SIZE", t0, 0, False  # SD-SIZE: max_bytes below the smallest unit: no sample at all
    stop_tick = min(horizon, first_event[0] if first_event else horizon)
    n = max(0, (stop_tick - t0) // FRAME + 1)
    cls = world.classes(t0, n) if n else np.zeros(0, np.int8)
    active = cls >= (UNSURE if r.unsure_is_audio else LOUD)
    # the last frame the loop of the definition would process (it stops once T >= horizon)
    f_h = min(n - 1, max(0, -(-(horizon - t0) // FRAME) - 1))
    lims: list[tuple[int, int, str]] = []  # (frame, rank, cause)
    if size_frames is not None and size_frames - 1 <= f_h:
        lims.append((size_frames - 1, 0 if r.size_before_silence else 2, "SIZE"))
    if detect:
        d = min(detect)
        fb = max(0, -(-(d - t0) // FRAME) - 1)
        if fb <= f_h:
            lims.append((fb, 1, "BARGEIN"))
    if n and (init_sil or max_sil):
        act = active[: f_h + 1]
        heard = np.logical_or.accumulate(act)
        sil_f: list[int] = []
        if init_sil and init_sil <= len(act) and not heard[init_sil - 1]:
            sil_f.append(init_sil - 1)
        if max_sil:
            idx = np.arange(len(act))
            last = np.maximum.accumulate(np.where(act, idx, -1))
            run = idx - last
            elig = run >= max_sil
            if init_sil:
                if not r.max_silence_during_initial:
                    elig &= heard
            elif not r.leading_silence_counts:
                elig &= heard
            k = _first_true(elig)
            if k is not None:
                sil_f.append(k)
        if sil_f:
            lims.append((min(sil_f), 2 if r.size_before_silence else 0, "SILENCE"))
    f_event = None
    if first_event is not None:
        e = first_event[0]
        if e < t0:
            f_event = 0
        elif (e - t0) % FRAME == 0 and not r.frame_limits_first:
            f_event = max(0, (e - t0) // FRAME - 1)
        else:
            f_event = (e - t0) // FRAME
    lim = min(lims) if lims else None
    if lim is not None and (f_event is None or lim[0] < f_event):
        f = lim[0]
        return lim[2], t0 + (f + 1) * FRAME, f + 1, bool(active[: f + 1].any())
    if first_event is not None:
        assert f_event is not None
        if f_event < n:
            return first_event[2], first_event[0], f_event, bool(active[:f_event].any())
        return first_event[2], first_event[0], max(0, (first_event[0] - t0) // FRAME), bool(active[: f_h + 1].any())
    return "NONE", horizon, n, bool(active[: f_h + 1].any())


def ours_readings(world: World, script: list[tuple[str, dict[str, Any]]]) -> list[Reading]:
    """Our decisions with the measurement uncertainties either way (at most 4 readings), each
    with the GRAY digits heard from the first, second or third on, or none (at most 16)."""
    out = [OURS, replace(OURS, unsure_is_audio=False)]
    barge = any(a.get("barge_in") for c, a in script if c in ("record", "start"))
    if barge and world.inband:
        out += [replace(r, early_dtmf=False) for r in out]
        # a GRAY digit is heard or not (no finding either way): from each of the first ones on,
        # or none of them
        n = 1 + max((d.either for d in world.inband_digits), default=-1)
        if n:
            out = [replace(r, gray_from=k) for k in sorted({*range(min(n, 3)), n}) for r in out]
    return out


def _run_script(world: World, script: list[tuple[str, dict[str, Any]]], r: Reading, horizon: int) -> ScriptOutcome:
    out = ScriptOutcome()
    now = 0
    job: dict[str, Any] | None = None
    last_state, last_cause, last_audio = "IDLE", "NONE", None

    def end_by(t: int) -> tuple[str, int, int, bool | None] | None:
        """The running job's natural end if it comes at or before ``t`` (searched only that far)."""
        assert job is not None
        res = job.get("res")
        if res is None:
            if t <= job.get("searched", -1):
                return None  # already searched this far: no end
            got = _natural_end(world, job["call"], job["params"], r, min(horizon, t), job["record"])
            if got[0] != "NONE" and got[1] <= t:
                job["res"] = res = got
            elif t >= horizon:
                job["res"] = res = got
            else:
                job["searched"] = t
                return None
        return res if res[1] <= t else None

    def settle(t: int) -> None:
        if job is not None:
            res = end_by(t)
            if res is not None:
                job["audio"] = res[3]
                _finish(res[0], res[1], res[2])

    def _finish(cause: str, end: int, frames: int) -> None:
        nonlocal job, last_state, last_cause, last_audio
        assert job is not None
        p = job["params"]
        lim = sample_limit(p["file_format"], p["max_bytes"])
        n = out_samples(frames, p["rate"])
        if lim is not None:
            n = min(n, lim)
        out.jobs.append(JobOutcome(cause, job["start"], end, frames, job["audio"] if frames else False, n,
                                   p["filename"], p["file_format"], p["rate"], job["index"]))
        last_state, last_cause = ("ERROR" if cause == "ERROR" else "IDLE"), cause
        last_audio = job["audio"] if frames else False
        job = None

    def call_check() -> str | None:
        st = world.call_state(now, inclusive=not r.calls_see_old_state)
        if st == "IDLE":
            return "Hangup"
        if st != "ANSWERED":
            return "Error"
        return None

    for index, (call, args) in enumerate(script):
        at = now
        settle(now)
        returned: Any = None
        raised: str | None = None
        if call == "sleep":
            now += args["ms"] * 8
            settle(now)
        elif call in ("record", "start"):
            raised = call_check()
            if raised is None and job is not None:
                raised = "Error"
            if raised is None:
                p = {**DEFAULTS, **args}
                t0 = ceil_frame(now) if r.aligned_start else now
                job = {"params": p, "start": t0, "index": index, "call": now, "record": call == "record",
                       "audio": None}
                if call == "record":
                    res = end_by(horizon)
                    assert res is not None
                    now = max(now, res[1])
                    settle(now)
                    returned = last_cause
                else:
                    res = end_by(t0)
                    late_event = res is not None and r.calls_see_old_state and res[1] == now == t0
                    if res is not None and res[2] == 0 and not late_event and res[0] != "SIZE":
                        now = res[1]
                        settle(now)
                        returned = False
                    else:
                        now = t0
                        returned = True
        elif call == "stop":
            raised = call_check()
            if raised is None:
                if job is not None and end_by(now - 1) is None:
                    frames = max(0, (now - job["start"]) // FRAME)
                    cls = world.classes(job["start"], frames)
                    job["audio"] = bool((cls >= (UNSURE if r.unsure_is_audio else LOUD)).any())
                    _finish("ABORTED", now, frames)
                returned = True
        elif call == "wait_until_finished":
            raised = call_check()
            if raised is None:
                timeout = args.get("seconds_timeout", 120)
                res = None if job is None else end_by(horizon if timeout is None else now + int(round(timeout * 8000)))
                if job is None:
                    returned = last_cause
                elif timeout is None and res is not None and res[0] == "NONE" and _stuck(world, job["params"], now):
                    raised = "Deadlock"  # the simulated call: nothing scheduled can end the wait
                elif res is not None:
                    now = max(now, res[1])
                    settle(now)
                    returned = last_cause
                else:
                    now += int(round(timeout * 8000))
                    returned = "TIMEOUT"
                    if r.wait_timeout_ends_job:
                        _finish("TIMEOUT", now, max(0, (now - job["start"]) // FRAME))
        elif call == "state":
            returned = "RECORDING" if job is not None else last_state
        elif call == "cause":
            returned = "NONE" if job is not None else last_cause
        elif call == "audio_detected_in_recording":
            returned = None if job is not None else last_audio
        out.steps.append(StepOutcome(call, returned, raised, at, now))
    out.state = "RECORDING" if job is not None else last_state
    out.cause = "NONE" if job is not None else last_cause
    out.audio = None if job is not None else last_audio
    out.end = now
    return out


def _stuck(world: World, p: dict[str, Any], now: int) -> bool:
    """A job that no audio can end (no size, silence or barge-in limit) with nothing scheduled
    after ``now`` (hangup, call-state change, out-of-band digit): an endless wait, which the
    simulator reports at once as ``Deadlock``."""
    if p["max_bytes"] or p["milliseconds_max_silence"] or p["milliseconds_initial_silence"] or p["barge_in"]:
        return False
    return not ((world.hangup is not None and world.hangup >= now) or any(t >= now for t, _s in world.changes)
                or any(o >= now for o in world.oob))


def script_of(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    script = []
    for a in scenario.actions:
        args = a.kwargs()
        if a.call == "sleep":
            args = {"ms": a.ms}
        script.append((a.call, args))
    return script


def default_horizon(script: list[tuple[str, dict[str, Any]]]) -> int:
    """A tick beyond which nothing the script does can happen (for jobs no limit ends)."""
    total_sleep = sum(a["ms"] for c, a in script if c == "sleep")
    longest = max([(a.get("seconds_timeout", 120) or 0) for c, a in script
                   if c in ("record", "wait_until_finished")] or [0])
    return int(total_sleep + 1000 * (longest or 120) * max(1, len(script)) + 1000) * 8


def predict(scenario: Scenario, *, horizon_ms: int | None = None,
            world: World | None = None) -> tuple[ScriptOutcome, list[ScriptOutcome]]:
    """(outcome under our decisions, outcomes under our decisions with each measurement
    uncertainty either way) of the scenario's script."""
    world = world or World(scenario)
    script = script_of(scenario)
    horizon = horizon_ms * 8 if horizon_ms is not None else default_horizon(script)
    runs = [_run_script(world, script, r, horizon) for r in ours_readings(world, script)]
    return runs[0], runs
