"""The oracle: expected outcomes from a scenario's ground truth, under every reasonable reading.

Nothing here runs the implementation under test or imports the reference recorder. The model
renders the far-end audio the scenario describes, classifies each 20 ms frame itself (LOUD at
or above -42 dBm0, QUIET below -48 dBm0, UNSURE in between: 3 dB either side of the -45 dBm0
threshold of SD-SILENCE), takes digits, hangups and call-state changes from the scenario, and
replays the action script with a plain per-frame loop.

Because the spec leaves points open, the model is run once per *reading*: combinations of
start alignment (next frame boundary, SD-START, or the exact call instant), UNSURE frames as
audio or silence, leading silence counting toward the maximum silence or not (SD-INITIAL-
SILENCE), the order of limits reached in the same instant (SD-TIES), the in-band digit detection
latency (earliest: one frame after onset; latest: two frames after the tone ends) and whether a
digit already sounding at the start barges in (SD-DTMF-BUFFER). The outcome under *our*
readings is the decision expectation (a difference grades NON-STRICT); the union of outcomes
under all readings, widened by one frame, is what the text allows (outside it grades FAIL).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from callsim.contract import DBM0_RMS, FRAME, SILENCE_THRESHOLD_DBM0
from simulator.build import build_audio
from simulator.scenario import Scenario

__all__ = ["Reading", "OURS", "JobOutcome", "StepOutcome", "ScriptOutcome", "predict", "DEFAULTS",
           "frame_classes", "LOUD", "QUIET", "UNSURE", "script_of"]

REF_RMS = DBM0_RMS  # 0 dBm0 in 16-bit linear, the contract's level reference
THRESHOLD_DBM0 = SILENCE_THRESHOLD_DBM0
MARGIN_DB = 3.0
QUIET, UNSURE, LOUD = 0, 1, 2

DEFAULTS: dict[str, Any] = {
    "file_format": "alaw", "rate": 8000, "seconds_timeout": 120, "max_bytes": 1920000,
    "milliseconds_max_silence": 10000, "milliseconds_initial_silence": 0, "barge_in": False,
    "cipher": None,
}


@dataclass(frozen=True)
class Reading:
    """One combination of interpretations of the open points."""

    aligned_start: bool = True  # SD-START
    unsure_is_audio: bool = True
    leading_silence_counts: bool = True  # SD-INITIAL-SILENCE
    # SD-INITIAL-SILENCE: with an initial-silence limit set, the maximum-silence timer waits for
    # the first audio (ours) or runs from the start as well
    max_silence_during_initial: bool = False
    frame_limits_first: bool = True  # SD-TIES: frame limits before same-instant events
    size_before_silence: bool = True  # SD-TIES within a frame
    early_dtmf: bool = True
    old_digit_bargein: bool = False  # SD-DTMF-BUFFER
    hold_ends_job: str = ""  # SD-HOLD: "" (ours: hold does not end a job) or the cause it ends with
    wait_timeout_ends_job: bool = False  # SD-WAIT-TIMEOUT
    # SD-DTMF-BUFFER: a detector knows a tone's onset only to within its analysis span, so a
    # digit beginning in the job's first frame may be taken as already sounding (old)
    onset_slack: bool = False
    # SD-TIES (3): a call-state change due at the instant of an API call is seen by the call
    # (ours) or only after it
    calls_see_old_state: bool = False


OURS = Reading()


def frame_classes(x: np.ndarray) -> np.ndarray:
    """QUIET / UNSURE / LOUD per whole 160-sample frame of ``x`` (the model's own rule)."""
    n = len(x) // FRAME
    f = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    power = (f * f).mean(axis=1)
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(np.maximum(power, 1e-12) / REF_RMS**2)
    out = np.full(n, UNSURE, dtype=np.int8)
    out[level >= THRESHOLD_DBM0 + MARGIN_DB] = LOUD
    out[level < THRESHOLD_DBM0 - MARGIN_DB] = QUIET
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


@dataclass(frozen=True)
class JobOutcome:
    cause: str
    start: int  # tick of the first recorded sample
    end: int  # tick the job ended
    frames: int
    audio: bool | None  # None: cannot tell (UNSURE frames only)
    samples: int  # samples in the file at the file's rate
    file: str
    fmt: str
    rate: int


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


class _World:
    """Ground truth of one scenario: audio, hangup and state changes, digits."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.timeline = build_audio(scenario)
        self.changes = sorted((c.at_ms * 8, c.state) for c in scenario.call.changes)
        self.hangup = None if scenario.call.hangup_ms is None else scenario.call.hangup_ms * 8
        ev = self.timeline.dtmf_events()
        self.oob = sorted(on for on, _e, _d, oob in ev if oob)
        self.inband = sorted((on, end) for on, end, _d, oob in ev if not oob)
        self._classes: dict[tuple[int, int], np.ndarray] = {}

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

    def classes(self, t0: int, n_frames: int) -> np.ndarray:
        key = (t0, n_frames)
        if key not in self._classes:
            lo = max(t0, 0)
            x = self.timeline.render(lo, t0 + n_frames * FRAME)
            if t0 < 0:
                x = np.concatenate([np.zeros(-t0, dtype=np.int16), x])
            self._classes[key] = frame_classes(np.asarray(x))
        return self._classes[key]


def _natural_end(world: _World, t_call: int, p: dict[str, Any], r: Reading, horizon: int,
                 record: bool) -> tuple[str, int, int, bool | None]:
    """(cause, end tick, frames recorded, audio detected) of a job left alone."""
    t0 = t_call + ((-t_call) % FRAME if r.aligned_start else 0)
    fmt, rate = p["file_format"], p["rate"]
    lim = sample_limit(fmt, p["max_bytes"])
    size_frames = None
    if lim is not None:
        size_frames = 0
        while out_samples(size_frames, rate) < lim:
            size_frames += max(1, (lim - out_samples(size_frames, rate)) * 8000 // (rate * FRAME))
        while size_frames > 0 and out_samples(size_frames - 1, rate) >= lim:
            size_frames -= 1
    timer = t0 + int(round(p["seconds_timeout"] * 8000)) if record else None
    max_sil = -(-p["milliseconds_max_silence"] // 20)
    init_sil = -(-p["milliseconds_initial_silence"] // 20)
    # events that end the job at their instant
    events: list[tuple[int, int, str]] = []  # (tick, order, cause)
    idle = world.idle_at(t_call)
    if idle is not None:
        events.append((idle, 0, "HANGUP"))
    if r.hold_ends_job:
        holds = [at for at, st in world.changes if at >= t_call and st not in ("ANSWERED", "IDLE")]
        if holds:
            events.append((min(holds), 0, r.hold_ends_job))
    if p["barge_in"]:
        for on in world.oob:
            # SD-TIES (3): a digit due at the very instant of the call is handled before it
            at_call = on == t_call and not r.calls_see_old_state
            if not at_call and (on >= t0 or (r.old_digit_bargein and on >= t_call)):
                events.append((on, 1, "BARGEIN"))
                break
    if timer is not None:
        events.append((timer, 2, "TIMEOUT"))
    # in-band digits: detection tick per reading
    detect: list[int] = []
    if p["barge_in"]:
        for on, end in world.inband:
            if end <= t0:
                continue
            if on < t0 and not r.old_digit_bargein:
                continue
            if r.onset_slack and not r.old_digit_bargein and on < t0 + FRAME:
                continue
            d = (max(on, t0) + FRAME) if r.early_dtmf else (end + 2 * FRAME)
            detect.append(d)
    detect.sort()
    first_event = min((e for e in events), default=None)
    if size_frames == 0 and (first_event is None or first_event[0] > t0):
        # SD-SIZE: max_bytes below the smallest unit (an IMA block) allows no sample at all
        return "SIZE", t0, 0, False
    stop_tick = min(horizon, first_event[0] if first_event else horizon)
    n_frames = max(0, (stop_tick - t0) // FRAME + 1)
    cls = world.classes(t0, n_frames) if n_frames else np.zeros(0, np.int8)
    active = cls >= (UNSURE if r.unsure_is_audio else LOUD)
    heard = False
    run = 0
    audio_any = False
    for f in range(n_frames):
        T = t0 + (f + 1) * FRAME
        # events strictly inside this frame (or at its end when events go first)
        if first_event is not None and (first_event[0] < T or (first_event[0] == T and not r.frame_limits_first)):
            return first_event[2], first_event[0], f, audio_any
        a = bool(active[f])
        if a:
            heard = True
            audio_any = True
            run = 0
        else:
            run += 1
        limits: list[tuple[int, str]] = []
        if size_frames is not None and f + 1 >= size_frames:
            limits.append((0 if r.size_before_silence else 2, "SIZE"))
        if detect and detect[0] <= T:
            limits.append((1, "BARGEIN"))
        sil = False
        if init_sil and not heard and f + 1 >= init_sil:
            sil = True
        if max_sil and run >= max_sil and (heard or (not init_sil and r.leading_silence_counts)
                                            or (init_sil and r.max_silence_during_initial)):
            sil = True
        if sil:
            limits.append((2 if r.size_before_silence else 0, "SILENCE"))
        if limits:
            return min(limits)[1], T, f + 1, audio_any
        if T >= horizon:
            break
    if first_event is not None:
        return first_event[2], first_event[0], max(0, (first_event[0] - t0) // FRAME), audio_any
    return "NONE", horizon, n_frames, audio_any


def _readings(world: _World, script: list[tuple[str, dict[str, Any]]]) -> list[Reading]:
    flags: dict[str, list[Any]] = {"aligned_start": [True, False], "unsure_is_audio": [True, False],
                                    "frame_limits_first": [True, False], "size_before_silence": [True, False]}
    any_bargein = any(a.get("barge_in") for c, a in script if c in ("record", "start"))
    if any_bargein and world.inband:
        flags["early_dtmf"] = [True, False]
    if any_bargein and (world.inband or world.oob):
        flags["old_digit_bargein"] = [False, True]
    if any_bargein and world.inband:
        flags["onset_slack"] = [False, True]
    if world.changes or world.hangup is not None or (any_bargein and world.oob):
        flags["calls_see_old_state"] = [False, True]
    if any(not a.get("milliseconds_initial_silence", 0) for c, a in script if c in ("record", "start")):
        flags["leading_silence_counts"] = [True, False]
    if any(st not in ("ANSWERED", "IDLE") for _, st in world.changes):
        flags["hold_ends_job"] = ["", "HANGUP", "ABORTED", "ERROR"]
    if any(c == "wait_until_finished" and a.get("seconds_timeout", 120) is not None for c, a in script):
        flags["wait_timeout_ends_job"] = [False, True]
    if any(a.get("milliseconds_initial_silence", 0) and a.get("milliseconds_max_silence", 10000)
           for c, a in script if c in ("record", "start")):
        flags["max_silence_during_initial"] = [False, True]
    names = list(flags)
    out = []
    for combo in itertools.product(*(flags[n] for n in names)):
        out.append(replace(OURS, **dict(zip(names, combo))))
    return out


def _run_script(world: _World, script: list[tuple[str, dict[str, Any]]], r: Reading, horizon: int) -> ScriptOutcome:
    out = ScriptOutcome()
    now = 0
    job: dict[str, Any] | None = None  # running job: cause, end, frames, audio, params, start
    last_state, last_cause, last_audio = "IDLE", "NONE", None

    def settle(t: int) -> None:
        nonlocal job, last_state, last_cause, last_audio
        if job is not None and job["end"] <= t:
            _finish(job["cause"], job["end"], job["frames"])

    def _finish(cause: str, end: int, frames: int) -> None:
        nonlocal job, last_state, last_cause, last_audio
        assert job is not None
        p = job["params"]
        lim = sample_limit(p["file_format"], p["max_bytes"])
        n = out_samples(frames, p["rate"])
        if lim is not None:
            n = min(n, lim)
        out.jobs.append(JobOutcome(cause, job["start"], end, frames, job["audio"] if frames else False, n,
                                   p["filename"], p["file_format"], p["rate"]))
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

    for call, args in script:
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
                cause, end, frames, audio = _natural_end(world, now, p, r, horizon, call == "record")
                t0 = now + ((-now) % FRAME if r.aligned_start else 0)
                job = {"cause": cause, "end": end, "frames": frames, "audio": audio, "params": p, "start": t0}
                if call == "record":
                    now = max(now, end)
                    settle(now)
                    returned = last_cause
                else:
                    # SD-TIES (3): under calls_see_old_state an event at the very instant of
                    # start() (already on a frame boundary) comes after start() has returned
                    late_event = r.calls_see_old_state and end == now == t0
                    # SD-START-FALSE: only a hangup (or a store refusal) before the first frame;
                    # a size limit that allows no sample ends the job once it has started
                    if end <= t0 and frames == 0 and not late_event and cause != "SIZE":
                        now = end
                        settle(now)
                        returned = False
                    else:
                        now = t0
                        returned = True
        elif call == "stop":
            raised = call_check()
            if raised is None:
                if job is not None and job["end"] > now:
                    frames = max(0, (now - job["start"]) // FRAME)
                    if frames < job["frames"]:
                        # SD-AUDIO: detected over the frames recorded before the stop
                        cls = world.classes(job["start"], frames) if frames else np.zeros(0, np.int8)
                        job["audio"] = bool((cls >= (UNSURE if r.unsure_is_audio else LOUD)).any())
                    _finish("ABORTED", now, frames)
                returned = True
        elif call == "wait_until_finished":
            raised = call_check()
            if raised is None:
                timeout = args.get("seconds_timeout", 120)
                if job is None:
                    returned = last_cause
                elif timeout is None or job["end"] <= now + int(round(timeout * 8000)):
                    now = max(now, job["end"])
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


def script_of(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    script = []
    for a in scenario.actions:
        args = a.kwargs()
        if a.call == "sleep":
            args = {"ms": a.ms}
        script.append((a.call, args))
    return script


def predict(scenario: Scenario, *, horizon_ms: int | None = None) -> tuple[ScriptOutcome, list[ScriptOutcome]]:
    """(outcome under our readings, outcomes under every reading) of the scenario's script."""
    world = _World(scenario)
    script = script_of(scenario)
    if horizon_ms is None:
        total_sleep = sum(a["ms"] for c, a in script if c == "sleep")
        longest = max([(a.get("seconds_timeout", 120) or 0) for c, a in script
                       if c in ("record", "wait_until_finished")] or [0])
        horizon_ms = int(total_sleep + 1000 * (longest or 120) * max(1, len(script)) + 1000)
    horizon = horizon_ms * 8
    ours = _run_script(world, script, OURS, horizon)
    alls = [_run_script(world, script, r, horizon) for r in _readings(world, script)]
    return ours, alls
