"""Hypothesis strategies that generate conformance scenarios (the generated counterpart of the
deterministic catalogue in ``conformance.cases``).

This module owns *what* the generated properties try: far-end audio built from tone, noise,
silence, speech and DTMF segments, call events (hangups at any millisecond, hold/retrieve and
other call-state changes), ``record``/``start`` parameters and short action scripts. Every
strategy returns ``simulator.Scenario`` values built with ``ScenarioBuilder``, so a shrunk
failure is a scenario file that ``callsim run`` replays. It also owns the action-script form
``(call, kwargs)`` (``Action``) and its one translation into builder calls (``apply_actions``),
which the properties and the state machine use for the scenarios they export.

Design rules (they keep the oracle's verdict certain and the ``ci`` profile fast):

* loud audio sits at least 6 dB above the -45 dBm0 silence threshold (SD-SILENCE) and quiet
  audio at least 6 dB below it; only ``boundary_levels`` crosses that line on purpose;
* in-band DTMF is only generated where detection is certain (tone and gap >= 60 ms, -20..-10
  dBm0 per tone, no twist, no frequency offset), and tones never use DTMF row or column
  frequencies, so a detector that hears a digit where none was sent is wrong;
* total audio stays within 30 s and scripts within 8 actions; a blocking call is only generated
  where something is certain to end it (a limit, an event or its own timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from simulator.scenario import Scenario, ScenarioBuilder

from .capabilities import ALL_FORMATS, ALL_RATES, Capabilities

__all__ = [
    "MAX_AUDIO_MS", "MAX_ACTIONS", "SAFE_FREQS", "CALL_STATES", "HOLD_STATES", "METHODS",
    "Seg", "loud_levels", "quiet_levels", "boundary_levels", "loud_segments", "quiet_segments",
    "dtmf_segments", "far_end_audio", "layout", "seconds_timeouts", "max_bytes_values",
    "silence_ms", "supported_formats", "supported_rates", "record_args", "Action", "apply_actions", "data_bytes_for", "seconds_for_bytes",
    "silence_scenarios", "size_scenarios", "timeout_scenarios", "bargein_inband_scenarios",
    "bargein_oob_scenarios", "hangup_scenarios", "aborted_scenarios", "none_scenarios",
    "fault_base_scenarios", "defaults_scenarios", "formats_rates_scenarios",
    "exception_scenarios", "api_scenarios", "boundary_scenarios",
]

#: Longest far-end audio a generated scenario describes (keeps the ci profile fast).
MAX_AUDIO_MS = 30_000
#: Most actions in a generated script.
MAX_ACTIONS = 8
#: Tone frequencies at least 5 % away from every DTMF row/column frequency (697..1633 Hz), so a
#: sum of two of them is never a digit.
SAFE_FREQS = (300.0, 440.0, 520.0, 600.0, 1000.0, 1100.0, 1800.0, 2200.0, 2600.0, 3000.0)
DTMF_DIGITS = "0123456789*#ABCD"
CALL_STATES = ("WAITING", "CALL_INCOMING", "RING_INCOMING", "ANSWERING", "ANSWERED", "CALL_OUTGOING",
               "RING_OUTGOING", "HOLDING", "ON_HOLD", "TRANSFERRING", "TRANSFERRED", "RECONNECTING",
               "ERROR", "IDLE")
#: States a live call passes through and returns from (SD-HOLD: a job keeps recording).
HOLD_STATES = ("HOLDING", "ON_HOLD", "TRANSFERRING", "RECONNECTING")
METHODS = ("record", "start", "stop", "wait_until_finished")
FILENAMES = ("rec.wav", "recfile", "calls/msg-1.wav", "a_b@c.wav")

Action = tuple[str, dict[str, Any]]  # ("sleep", {"ms": n}) or (call, kwargs)


# -- far-end audio ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seg:
    """One far-end audio item before placement: its kind, the span it occupies and its keys.

    ``loud`` says whether every 20 ms frame of it is far above the silence threshold (tone and
    noise), ``quiet`` whether every frame is far below (silence, quiet noise/tone); speech and
    DTMF are neither (pauses, gaps).
    """

    kind: str
    duration_ms: int
    params: tuple[tuple[str, Any], ...] = ()
    loud: bool = False
    quiet: bool = False

    def add_to(self, b: ScenarioBuilder, at_ms: int) -> None:
        p = dict(self.params)
        if self.kind == "dtmf":
            b.dtmf(at_ms, **p)
        elif self.kind == "silence":
            b.silence(at_ms, self.duration_ms)
        else:
            b.audio(at_ms, self.kind, duration_ms=self.duration_ms, **p)


def loud_levels() -> st.SearchStrategy[float]:
    """-36..-10 dBm0 in 0.5 dB steps: at least 9 dB above the silence threshold."""
    return st.integers(-72, -20).map(lambda h: h / 2)


def quiet_levels() -> st.SearchStrategy[float]:
    """-75..-51 dBm0: at least 6 dB below the silence threshold."""
    return st.integers(-150, -102).map(lambda h: h / 2)


def boundary_levels() -> st.SearchStrategy[float]:
    """-48..-42 dBm0: within 3 dB of the threshold (the oracle accepts either class there)."""
    return st.integers(-96, -84).map(lambda h: h / 2)


def _tone(duration: st.SearchStrategy[int], level: st.SearchStrategy[float], *, loud: bool) -> st.SearchStrategy[Seg]:
    freqs = st.lists(st.sampled_from(SAFE_FREQS), min_size=1, max_size=2, unique=True)
    return st.builds(lambda d, f, lv: Seg("tone", d, (("freqs", list(f)), ("level_dbm0", lv)), loud=loud, quiet=not loud),
                     duration, freqs, level)


def _noise(duration: st.SearchStrategy[int], level: st.SearchStrategy[float], *, loud: bool) -> st.SearchStrategy[Seg]:
    return st.builds(lambda d, lv, c: Seg("noise", d, (("level_dbm0", lv), ("color", c)), loud=loud, quiet=not loud),
                     duration, level, st.sampled_from(("white", "pink")))


def loud_segments(min_ms: int = 20, max_ms: int = 3000, *, speech: bool = True,
                  continuous: bool = False) -> st.SearchStrategy[Seg]:
    """Tone, white/pink noise or (unless ``continuous``) speech well above the threshold."""
    d = st.integers(min_ms, max_ms)
    options = [_tone(d, loud_levels(), loud=True), _noise(d, loud_levels(), loud=True)]
    if speech and not continuous:
        options.append(st.builds(lambda dd, lv: Seg("speech", dd, (("level_dbm0", lv),)), d, st.integers(-30, -15).map(float)))
    return st.one_of(options)


def quiet_segments(min_ms: int = 20, max_ms: int = 3000) -> st.SearchStrategy[Seg]:
    """Digital silence, or noise/tone well below the threshold."""
    d = st.integers(min_ms, max_ms)
    return st.one_of(st.builds(lambda dd: Seg("silence", dd, quiet=True), d),
                     _noise(d, quiet_levels(), loud=False), _tone(d, quiet_levels(), loud=False))


def dtmf_segments(*, out_of_band: bool = False, max_digits: int = 3) -> st.SearchStrategy[Seg]:
    """A digit string; in-band only with parameters whose detection is certain."""
    digits = st.text(alphabet=DTMF_DIGITS, min_size=1, max_size=max_digits)
    tone = st.integers(60, 120)
    gap = st.integers(60, 120)

    def make(dg: str, t: int, g: int, lv: float) -> Seg:
        span = len(dg) * (t + g) - g
        params: tuple[tuple[str, Any], ...] = (("digits", dg), ("tone_ms", t), ("gap_ms", g))
        if out_of_band:
            params += (("out_of_band", True),)
        else:
            params += (("level_dbm0", lv), ("twist_db", 0.0))
        return Seg("dtmf", span, params)

    return st.builds(make, digits, tone, gap, st.integers(-20, -10).map(float))


def layout(b: ScenarioBuilder, segs: list[Seg], start_ms: int = 0) -> int:
    """Place ``segs`` one after another from ``start_ms``; returns the end (ms)."""
    at = start_ms
    for s in segs:
        s.add_to(b, at)
        at += s.duration_ms
    return at


@st.composite
def far_end_audio(draw: st.DrawFn, *, max_ms: int = 10_000, max_segments: int = 5,
                  kinds: tuple[str, ...] = ("loud", "quiet", "dtmf")) -> list[Seg]:
    """A sequence of segments whose total span is at most ``max_ms``."""
    pool = []
    if "loud" in kinds:
        pool.append(loud_segments(max_ms=min(3000, max_ms)))
    if "quiet" in kinds:
        pool.append(quiet_segments(max_ms=min(2000, max_ms)))
    if "dtmf" in kinds:
        pool.append(dtmf_segments())
    segs = draw(st.lists(st.one_of(pool), min_size=0, max_size=max_segments))
    out, total = [], 0
    for s in segs:
        if total + s.duration_ms > max_ms:
            break
        out.append(s)
        total += s.duration_ms
    return out


# -- parameters ---------------------------------------------------------------------------------
def seconds_timeouts(lo_ms: int = 1000, hi_ms: int = 30_000) -> st.SearchStrategy[float]:
    """``seconds_timeout`` of ``record``: whole seconds or whole milliseconds, small ones often
    (a long recording costs time in every example)."""
    lo_s, hi_s = -(-lo_ms // 1000), hi_ms // 1000
    small_hi = min(hi_ms, max(lo_ms, 4000))
    options: list[st.SearchStrategy[float]] = [st.integers(lo_ms, small_hi).map(lambda ms: ms / 1000)]
    if lo_s <= hi_s:
        options.append(st.integers(lo_s, hi_s).map(float))
    options.append(st.integers(lo_ms, hi_ms).map(lambda ms: ms / 1000))
    return st.one_of(options)


def max_bytes_values() -> st.SearchStrategy[int]:
    """0 (no limit) or a few hundred bytes up to 100 kB."""
    return st.one_of(st.just(0), st.integers(200, 100_000))


def silence_ms(lo: int = 100, hi: int = 5000) -> st.SearchStrategy[int]:
    """0 (off) or ``lo``..``hi`` ms (not only frame multiples: SD-SILENCE rounds up)."""
    return st.one_of(st.just(0), st.integers(lo, hi))


_BYTES_PER_SAMPLE = {"s16bit": 2.0, "alaw": 1.0, "ulaw": 1.0, "u8bit": 1.0, "oki": 0.5, "ima": 256 / 505}


def data_bytes_for(fmt: str, rate: int, ms: int) -> int:
    """Approximate data bytes of ``ms`` of audio (for sizing only; the oracle is exact)."""
    return int(ms * rate / 1000 * _BYTES_PER_SAMPLE[fmt])


def seconds_for_bytes(fmt: str, rate: int, max_bytes: int) -> float:
    """Approximate seconds of audio until ``max_bytes`` of data (0: unlimited -> inf)."""
    if max_bytes == 0:
        return float("inf")
    return max_bytes / (rate * _BYTES_PER_SAMPLE[fmt]) + 0.3  # + one IMA block


def supported_formats(caps: Capabilities) -> st.SearchStrategy[str]:
    """The file formats ``caps`` declares (all of them if it declares none)."""
    return st.sampled_from(tuple(f for f in ALL_FORMATS if f in caps.formats) or ALL_FORMATS)


def supported_rates(caps: Capabilities) -> st.SearchStrategy[int]:
    """The sample rates ``caps`` declares (all of them if it declares none)."""
    return st.sampled_from(tuple(r for r in ALL_RATES if r in caps.rates) or ALL_RATES)


@st.composite
def record_args(draw: st.DrawFn, caps: Capabilities, *, call: str = "record", **fixed: Any) -> dict[str, Any]:
    """Keyword arguments of ``record``/``start``; keys in ``fixed`` are taken as given (a value
    of ``...`` leaves the key out, so the implementation's default applies)."""
    gen: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
        "filename": lambda: st.sampled_from(FILENAMES),
        "file_format": lambda: supported_formats(caps),
        "rate": lambda: supported_rates(caps),
        "seconds_timeout": seconds_timeouts,
        "max_bytes": max_bytes_values,
        "milliseconds_max_silence": silence_ms,
        "milliseconds_initial_silence": silence_ms,
        "barge_in": st.booleans,
    }
    out: dict[str, Any] = {}
    for key, make in gen.items():
        if key == "seconds_timeout" and call != "record":
            continue
        if key in fixed:
            if fixed[key] is not ...:
                out[key] = fixed[key]
        else:
            out[key] = draw(make())
    return out


def apply_actions(b: ScenarioBuilder, actions: Iterable[Action]) -> ScenarioBuilder:
    """Append an action script to ``b``: ``("sleep", {"ms": n})`` becomes ``b.sleep(n)``, any
    other ``(call, kwargs)`` becomes ``b.action(call, **kwargs)``. Returns ``b``."""
    for call, args in actions:
        if call == "sleep":
            b.sleep(int(args["ms"]))
        else:
            b.action(call, **args)
    return b


def _build(seed: int, segs: list[Seg], actions: list[Action], *, start_ms: int = 0, hangup: int | None = None,
           changes: tuple[tuple[int, str], ...] = (), floor: Seg | None = None, state: str = "ANSWERED",
           store: dict[str, Any] | None = None) -> Scenario:
    b = ScenarioBuilder(seed=seed, state=state)
    layout(b, segs, start_ms)
    if floor is not None:
        floor.add_to(b, 0)
    if hangup is not None:
        b.hangup(hangup)
    for at, s in changes:
        b.change(at, s)
    if store:
        b.store(**store)
    apply_actions(b, actions[:MAX_ACTIONS])
    return b.build()


_seeds = st.integers(0, 2**16)
_getters = st.sampled_from(("state", "cause", "audio_detected_in_recording"))


def _floors(max_ms: int) -> st.SearchStrategy[Seg | None]:
    """An optional quiet line-noise floor under everything (never above -51 dBm0)."""
    return st.one_of(st.none(), _noise(st.just(max_ms), st.integers(-150, -120).map(lambda h: h / 2), loud=False))


@st.composite
def _job(draw: st.DrawFn, args: dict[str, Any], *, blocking_ok: bool = True) -> list[Action]:
    """``record(**args)``, or ``start`` + optional sleep + ``wait_until_finished(None)`` (only
    when the job surely ends: ``blocking_ok``), followed by getters."""
    acts: list[Action] = []
    if "seconds_timeout" in args and draw(st.booleans()) is False and blocking_ok:
        start_args = {k: v for k, v in args.items() if k != "seconds_timeout"}
        acts.append(("start", start_args))
        if draw(st.booleans()):
            acts.append(("sleep", {"ms": draw(st.integers(0, 500))}))
        acts.append(("wait_until_finished", {"seconds_timeout": None}))
    else:
        acts.append(("record", args))
    acts.extend((g, {}) for g in draw(st.lists(_getters, max_size=3)))
    return acts


# -- scenarios per termination cause -------------------------------------------------------------
@st.composite
def silence_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Audio that ends (or pauses) for longer than the maximum silence, or starts later than the
    initial silence: the job ends with SILENCE (SPEC-SILENCE, SPEC-INITIAL-SILENCE)."""
    lead = draw(st.lists(quiet_segments(max_ms=1500), max_size=1))
    loud = draw(st.lists(st.one_of(loud_segments(max_ms=2500), quiet_segments(max_ms=800)), min_size=1, max_size=4))
    max_sil = draw(st.integers(100, 5000))
    if draw(st.booleans()):
        # a pause within two frames of the limit between two steady tones: one frame early or
        # late decides between SILENCE in the pause and the job going on (SPEC-SILENCE)
        n = -(-max_sil // 20)
        tone = _tone(st.integers(200, 1500), loud_levels(), loud=True)
        loud = [draw(tone), Seg("silence", n * 20 + draw(st.integers(-30, 10)), quiet=True), draw(tone)]
    args = draw(record_args(caps, filename="s.wav", seconds_timeout=30, max_bytes=0,
                            milliseconds_max_silence=max_sil, barge_in=False,
                            milliseconds_initial_silence=draw(silence_ms(100, 5000))))
    pre = draw(st.integers(0, 300))
    acts: list[Action] = ([("sleep", {"ms": pre})] if pre else []) + draw(_job(args))
    return _build(draw(_seeds), lead + loud, acts, floor=draw(_floors(20_000)))


@st.composite
def size_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Continuous loud audio and a ``max_bytes`` reached within 10 s: SIZE (SPEC-SIZE, SD-SIZE)."""
    fmt, rate = draw(supported_formats(caps)), draw(supported_rates(caps))
    target_ms = draw(st.one_of(st.integers(40, 2000), st.integers(40, 10_000)))
    max_bytes = min(100_000, max(200, data_bytes_for(fmt, rate, target_ms) + draw(st.integers(0, 300))))
    need_ms = int(seconds_for_bytes(fmt, rate, max_bytes) * 1000) + 1000
    segs = draw(st.lists(loud_segments(500, 4000, continuous=True), min_size=1, max_size=3))
    while sum(s.duration_ms for s in segs) < need_ms:
        segs.append(draw(loud_segments(2000, 6000, continuous=True)))
    args = draw(record_args(caps, filename="z.wav", file_format=fmt, rate=rate, max_bytes=max_bytes, barge_in=False,
                            seconds_timeout=min(30, need_ms // 1000 + 2)))
    pre = draw(st.integers(0, 300))
    acts = ([("sleep", {"ms": pre})] if pre else []) + draw(_job(args))
    return _build(draw(_seeds), segs, acts)


@st.composite
def timeout_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Continuous loud audio outlasting ``seconds_timeout``: TIMEOUT (SPEC-RECORD-TIMEOUT, SD-TIMER)."""
    timeout = draw(seconds_timeouts(1000, 28_000))
    fmt, rate = draw(supported_formats(caps)), draw(supported_rates(caps))
    need_ms = int(timeout * 1000) + 1000
    segs = draw(st.lists(loud_segments(500, 4000, continuous=True), min_size=1, max_size=3))
    while sum(s.duration_ms for s in segs) < need_ms:
        segs.append(draw(loud_segments(3000, 8000, continuous=True)))
    big_enough = data_bytes_for(fmt, rate, need_ms + 1000) + 1024
    mb = draw(st.one_of(st.just(0), st.integers(big_enough, 100_000))) if big_enough < 100_000 else 0
    args = draw(record_args(caps, filename="t.wav", file_format=fmt, rate=rate, seconds_timeout=timeout,
                            max_bytes=mb, barge_in=False))
    pre = draw(st.integers(0, 300))
    acts: list[Action] = ([("sleep", {"ms": pre})] if pre else []) + [("record", args)]
    acts += [(g, {}) for g in draw(st.lists(_getters, max_size=3))]
    return _build(draw(_seeds), segs, acts)


@st.composite
def bargein_inband_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """An in-band digit during a ``barge_in=True`` job: BARGEIN (SPEC-BARGEIN); sometimes the
    digit is already sounding when the job starts (SD-DTMF-BUFFER)."""
    lead = draw(st.lists(st.one_of(loud_segments(100, 2000, speech=False), quiet_segments(20, 800)), max_size=3))
    digit = draw(dtmf_segments())
    tail = draw(st.lists(st.one_of(loud_segments(100, 2000, speech=False), quiet_segments(20, 800)), max_size=2))
    dtmf_at = sum(s.duration_ms for s in lead)
    end_ms = dtmf_at + digit.duration_ms + sum(s.duration_ms for s in tail)
    # usually start before the digit; now and then during it (an old digit must not barge in)
    pre = draw(st.one_of(st.integers(0, max(0, dtmf_at - 100)), st.integers(0, dtmf_at + digit.duration_ms)))
    args = draw(record_args(caps, filename="b.wav", barge_in=True, max_bytes=0,
                            milliseconds_max_silence=draw(st.one_of(st.just(0), st.integers(2000, 5000))),
                            milliseconds_initial_silence=0,
                            seconds_timeout=min(30.0, max(1.0, (end_ms - pre) / 1000 + 1))))
    acts = ([("sleep", {"ms": pre})] if pre else []) + draw(_job(args, blocking_ok=bool(args["milliseconds_max_silence"])))
    return _build(draw(_seeds), lead + [digit] + tail, acts, floor=draw(_floors(end_ms + 2000)))


@st.composite
def bargein_oob_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """An out-of-band (RFC 4733) digit during a ``barge_in=True`` job: BARGEIN; sometimes a
    hangup at the same instant (SD-TIES) or a digit before the job (SD-DTMF-BUFFER)."""
    segs = draw(st.lists(loud_segments(500, 3000), min_size=1, max_size=3))
    audio_ms = sum(s.duration_ms for s in segs)
    digit_at = draw(st.integers(1, max(1, audio_ms - 1)))
    digit = draw(dtmf_segments(out_of_band=True))
    pre = draw(st.one_of(st.integers(0, max(0, digit_at - 20)), st.integers(0, digit_at + 40)))
    hangup = draw(st.one_of(st.none(), st.just(max(1, digit_at)), st.integers(max(1, digit_at), digit_at + 200)))
    args = draw(record_args(caps, filename="o.wav", barge_in=True, max_bytes=0, milliseconds_initial_silence=0,
                            milliseconds_max_silence=draw(st.one_of(st.just(0), st.integers(2000, 5000))),
                            seconds_timeout=min(30.0, max(1.0, (digit_at + digit.duration_ms - pre) / 1000 + 1))))
    ends = hangup is not None or bool(args["milliseconds_max_silence"])
    acts = ([("sleep", {"ms": pre})] if pre else []) + draw(_job(args, blocking_ok=ends))
    b = ScenarioBuilder(seed=draw(_seeds))
    layout(b, segs)
    digit.add_to(b, digit_at)
    if hangup is not None:
        b.hangup(hangup)
    apply_actions(b, acts[:MAX_ACTIONS])
    return b.build()


@st.composite
def hangup_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """A far-end hangup at any millisecond (frame boundaries and sub-frame offsets) before,
    during or after a job: HANGUP, or ``Hangup`` raised by calls made on the idle call."""
    segs = draw(st.lists(loud_segments(200, 3000), min_size=1, max_size=4))
    # not at 0 ms: the runner performs the first action before events due at 0 (reported)
    hang = draw(st.one_of(st.integers(1, 8000), st.integers(1, 400).map(lambda k: k * 20),
                          st.integers(0, 400).map(lambda k: k * 20 + 1)))
    pre = draw(st.one_of(st.integers(0, max(0, hang - 20)), st.integers(0, hang + 100)))
    changes: tuple[tuple[int, str], ...] = ()
    if draw(st.booleans()) and hang > 200:
        at = draw(st.integers(1, hang - 100))
        back = draw(st.integers(at + 20, hang - 1))
        changes = ((at, draw(st.sampled_from(HOLD_STATES))), (back, "ANSWERED"))
    args = draw(record_args(caps, filename="h.wav", max_bytes=0, barge_in=False, milliseconds_initial_silence=0,
                            milliseconds_max_silence=0, seconds_timeout=min(30.0, max(1.0, (hang - pre) / 1000 + 1))))
    if draw(st.booleans()):
        acts = draw(_job(args))
    else:
        start_args = {k: v for k, v in args.items() if k != "seconds_timeout"}
        until = max(0, hang - pre)
        acts = [("start", start_args), ("sleep", {"ms": draw(st.one_of(st.integers(until, until + 2000), st.integers(0, 9000)))}),
                draw(st.sampled_from([("stop", {}), ("wait_until_finished", {"seconds_timeout": 2})]))]
    acts = ([("sleep", {"ms": pre})] if pre else []) + acts
    acts += [(g, {}) for g in draw(st.lists(_getters, max_size=2))]
    if draw(st.booleans()):
        acts.append(("record", {"filename": "after.wav", "seconds_timeout": 1}))
    return _build(draw(_seeds), segs, acts, hangup=hang, changes=changes)


@st.composite
def _long_job_args(draw: st.DrawFn, caps: Capabilities, filename: str) -> dict[str, Any]:
    """``start`` arguments of a job that outlasts a short script but surely ends by itself
    (a size limit about 12 s away, or a silence limit after the audio), so the oracle's
    horizon stays short."""
    fmt, rate = draw(supported_formats(caps)), draw(supported_rates(caps))
    if draw(st.booleans()):
        mb, sil = data_bytes_for(fmt, rate, 12_000), draw(silence_ms(4000, 5000))
    else:
        mb, sil = draw(st.one_of(st.just(0), st.integers(data_bytes_for(fmt, rate, 12_000), 300_000))), draw(st.integers(4000, 5000))
    return draw(record_args(caps, call="start", filename=filename, file_format=fmt, rate=rate, barge_in=False,
                            max_bytes=mb, milliseconds_max_silence=sil, milliseconds_initial_silence=0))


@st.composite
def aborted_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """``start`` then ``stop`` after any delay (0, sub-frame, whole frames): ABORTED (SPEC-STOP,
    SD-STOP), with getters and a second ``stop`` (returns True at once)."""
    segs = draw(st.lists(st.one_of(loud_segments(200, 3000), quiet_segments(20, 300)), min_size=1, max_size=4))
    args = draw(_long_job_args(caps, "a.wav"))
    pre = draw(st.integers(0, 100))
    acts: list[Action] = ([("sleep", {"ms": pre})] if pre else []) + [("start", args)]
    for _ in range(draw(st.integers(0, 2))):
        acts.append(draw(st.one_of(st.integers(0, 1500).map(lambda ms: ("sleep", {"ms": ms})),
                                   _getters.map(lambda g: (g, {})))))
    acts.append(("stop", {}))
    acts += [(g, {}) for g in draw(st.lists(_getters, max_size=3))]
    if draw(st.booleans()):
        acts.append(("stop", {}))
    return _build(draw(_seeds), segs, acts)


@st.composite
def none_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Getters while a job runs (state RECORDING, cause NONE, audio None: SPEC-CAUSE-FN,
    SPEC-AUDIO), and a wait that times out and leaves the job running (SD-WAIT-TIMEOUT)."""
    segs = draw(st.lists(loud_segments(500, 3000, continuous=True), min_size=1, max_size=3))
    segs.append(Seg("tone", 12_000, (("freqs", [600.0]), ("level_dbm0", -20.0)), loud=True))
    args = draw(_long_job_args(caps, "n.wav"))
    acts: list[Action] = [("start", args), ("cause", {})]
    body: st.SearchStrategy[Action] = st.one_of(st.integers(0, 1000).map(lambda ms: ("sleep", {"ms": ms})), _getters.map(lambda g: (g, {})),
                     st.integers(0, 1500).map(lambda ms: ("wait_until_finished", {"seconds_timeout": ms / 1000})))
    acts += draw(st.lists(body, min_size=1, max_size=4))
    acts += [("cause", {}), ("stop", {}), ("cause", {})]
    return _build(draw(_seeds), segs, acts)


@st.composite
def fault_base_scenarios(draw: st.DrawFn, caps: Capabilities) -> tuple[Scenario, dict[str, Any]]:
    """A clean job that surely ends by itself (its fault is placed later, per implementation):
    ``(scenario, record args)``."""
    segs = draw(st.lists(loud_segments(300, 2000), min_size=1, max_size=3))
    args = draw(record_args(caps, filename="f.wav", max_bytes=0, barge_in=False, milliseconds_initial_silence=0,
                            milliseconds_max_silence=draw(st.integers(300, 1500)),
                            seconds_timeout=draw(seconds_timeouts(500, 4000))))
    b = ScenarioBuilder(seed=draw(_seeds))
    layout(b, segs)
    return b.build(), args


# -- defaults, 0 = off, formats x rates ----------------------------------------------------------
@st.composite
def defaults_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """``record``/``start`` with some arguments left out (SPEC-RECORD-DEFAULTS: alaw, 8000,
    120 s, 1 920 000 bytes, 10 000 ms, 0, False, None) or switched off with 0 (SPEC-ZERO-OFF)."""
    segs = draw(st.lists(st.one_of(loud_segments(200, 2500), quiet_segments(20, 1500)), min_size=1, max_size=4))
    omit = draw(st.sets(st.sampled_from(("file_format", "rate", "seconds_timeout", "max_bytes",
                                         "milliseconds_max_silence", "milliseconds_initial_silence", "barge_in"))))
    fixed: dict[str, Any] = {k: ... for k in omit}
    fixed["filename"] = draw(st.sampled_from(FILENAMES))
    # 0 = off, on purpose and often
    for key in ("max_bytes", "milliseconds_max_silence", "milliseconds_initial_silence"):
        if key not in omit and draw(st.booleans()):
            fixed[key] = 0
    if "max_bytes" not in fixed:
        fixed["max_bytes"] = draw(st.integers(20_000, 100_000))
    if "seconds_timeout" not in fixed:
        fixed["seconds_timeout"] = draw(seconds_timeouts(1000, 8000))
    # the job must end by itself within ~20 s: the default silence limit (10 s) after at most
    # 10 s of audio does; with silence switched off a timeout is needed
    if fixed.get("milliseconds_max_silence") == 0 and fixed.get("seconds_timeout") is ...:
        fixed["seconds_timeout"] = draw(seconds_timeouts(1000, 8000))
    args = draw(record_args(caps, **fixed))
    if draw(st.booleans()) or args.get("seconds_timeout", ...) is ...:
        acts = [("record", args)]
    else:
        start_args = {k: v for k, v in args.items() if k != "seconds_timeout"}
        acts = [("start", start_args), ("sleep", {"ms": draw(st.integers(0, 3000))}), ("stop", {})]
    acts += [(g, {}) for g in draw(st.lists(_getters, max_size=3))]
    segs_ms = 0
    kept = []
    for s in segs:
        if segs_ms + s.duration_ms > 10_000:
            break
        kept.append(s)
        segs_ms += s.duration_ms
    return _build(draw(_seeds), kept, acts)


@st.composite
def formats_rates_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """One to three jobs, each in a different format x rate (SPEC-FORMATS, SPEC-RATES, SPEC-WAV):
    the oracle checks every header, the data size against the duration, ``max_bytes`` and the
    decoded audio against the far-end audio."""
    fmts = [f for f in ALL_FORMATS if f in caps.formats] or list(ALL_FORMATS)
    rates = [r for r in ALL_RATES if r in caps.rates] or list(ALL_RATES)
    combos = draw(st.permutations([(f, r) for f in fmts for r in rates]))
    n = draw(st.integers(1, 3))
    segs = draw(st.lists(st.one_of(loud_segments(300, 3000), quiet_segments(20, 500)), min_size=1, max_size=4))
    segs.append(Seg("tone", 8000, (("freqs", [440.0, 1800.0]), ("level_dbm0", -22.0)), loud=True))
    acts: list[Action] = []
    for i, (fmt, rate) in enumerate(combos[:n]):
        args = draw(record_args(caps, filename=f"f{i}.wav", file_format=fmt, rate=rate, barge_in=False,
                                milliseconds_initial_silence=0, seconds_timeout=draw(seconds_timeouts(300, 2500)),
                                max_bytes=draw(st.one_of(st.just(0), st.integers(200, 20_000)))))
        acts.append(("record", args))
        if draw(st.booleans()):
            acts.append(("sleep", {"ms": draw(st.integers(0, 300))}))
    return _build(draw(_seeds), segs, acts)


# -- exceptions ----------------------------------------------------------------------------------
@st.composite
def exception_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """One of the 4 blocking methods x 14 call states x record state IDLE/RECORDING
    (SPEC-EXC-HANGUP, SPEC-EXC-NOTANSWERED, SPEC-EXC-BUSY, SPEC-EXC-ORDER)."""
    method = draw(st.sampled_from(METHODS))
    state = draw(st.sampled_from(CALL_STATES))
    busy = draw(st.booleans())
    tone = Seg("tone", 20_000, (("freqs", [600.0]), ("level_dbm0", -20.0)), loud=True)
    changes: tuple[tuple[int, str], ...] = ()
    acts: list[Action] = []
    initial = "ANSWERED"
    if busy:
        # a size limit far beyond the script keeps the job running and the oracle's horizon short
        acts.append(("start", {"filename": "busy.wav", "milliseconds_max_silence": 0, "max_bytes": 80_000}))
        at = draw(st.integers(1, 1500))
        if state != "ANSWERED":
            changes = ((at, state),)
        acts.append(("sleep", {"ms": at + draw(st.integers(0, 200))}))
    elif state != "ANSWERED":
        initial = state
    if method == "record":
        args: dict[str, Any] = {"filename": "x.wav", "seconds_timeout": draw(seconds_timeouts(500, 2000))}
    elif method == "start":
        args = {"filename": "x.wav", "max_bytes": 80_000, "milliseconds_max_silence": 0}
    elif method == "wait_until_finished":
        args = {"seconds_timeout": draw(st.integers(0, 1000)) / 1000}
    else:
        args = {}
    acts += [(method, args), ("state", {}), ("cause", {})]
    if state not in ("ANSWERED", "IDLE") and draw(st.booleans()):
        # the call comes back: the same call now succeeds (and a running job is still there)
        base = 1700 if busy else 0
        back = base + draw(st.integers(1, 500))
        changes = changes + ((back, "ANSWERED"),)
        acts += [("sleep", {"ms": back + 20}), ("stop", {}), ("state", {})]
    elif busy:
        acts.append(("stop", {}))
    return _build(draw(_seeds), [tone], acts, changes=changes, state=initial)


# -- free-form API scripts -----------------------------------------------------------------------
@st.composite
def api_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Any audio, any call events, any short script of the API (every cause can occur). Digits
    come only in the ways ``caps`` declares: an implementation without in-band detection gets
    no in-band digits (a barge-in job would be expected to stop on them), one without
    out-of-band digits no RFC 4733 events; the default capabilities draw exactly as before."""
    segs = draw(far_end_audio(max_ms=12_000, kinds=("loud", "quiet", "dtmf") if caps.inband_dtmf else ("loud", "quiet")))
    audio_ms = sum(s.duration_ms for s in segs)
    hangup = draw(st.one_of(st.none(), st.integers(1, max(100, audio_ms + 2000))))
    changes: tuple[tuple[int, str], ...] = ()
    if draw(st.booleans()):
        at = draw(st.integers(1, 6000))
        changes = ((at, draw(st.sampled_from(HOLD_STATES))), (at + draw(st.integers(20, 2000)), "ANSWERED"))
        if hangup is not None:
            # a hung-up call stays IDLE: no scripted change after the hangup
            changes = tuple(c for c in changes if c[0] < hangup)
    oob = (draw(st.one_of(st.none(), st.tuples(st.integers(1, 8000), dtmf_segments(out_of_band=True))))
           if caps.out_of_band_dtmf else None)
    acts: list[Action] = []
    running_unbounded = False  # a started job that only stop() or an event can end
    n = draw(st.integers(1, MAX_ACTIONS))
    while len(acts) < n:
        kind = draw(st.sampled_from(("record", "start", "sleep", "stop", "wait", "get", "get")))
        if kind == "record":
            args = draw(record_args(caps, filename=draw(st.sampled_from(FILENAMES)),
                                    seconds_timeout=draw(seconds_timeouts(500, 6000))))
            acts.append(("record", args))
        elif kind == "start":
            args = draw(record_args(caps, call="start", filename=draw(st.sampled_from(FILENAMES))))
            acts.append(("start", args))
            # an initial-silence limit alone does not end a job once audio was heard
            running_unbounded = not (args["max_bytes"] or args["milliseconds_max_silence"])
        elif kind == "sleep":
            acts.append(("sleep", {"ms": draw(st.integers(0, 3000))}))
        elif kind == "stop":
            acts.append(("stop", {}))
            running_unbounded = False
        elif kind == "wait":
            if running_unbounded:
                acts.append(("wait_until_finished", {"seconds_timeout": draw(st.integers(0, 3000)) / 1000}))
            else:
                t = draw(st.one_of(st.none(), st.integers(0, 5000).map(lambda ms: ms / 1000)))
                acts.append(("wait_until_finished", {"seconds_timeout": t}))
        else:
            acts.append((draw(_getters), {}))
    b = ScenarioBuilder(seed=draw(_seeds))
    layout(b, segs)
    if oob is not None:
        oob[1].add_to(b, oob[0])
    if hangup is not None:
        b.hangup(hangup)
    for at, s in changes:
        b.change(at, s)
    apply_actions(b, acts)
    return b.build()


@st.composite
def boundary_scenarios(draw: st.DrawFn, caps: Capabilities) -> Scenario:
    """Audio within 3 dB of the -45 dBm0 threshold (SD-SILENCE): the oracle accepts either class
    for such frames, so only what holds under both readings can FAIL."""
    segs = draw(st.lists(st.one_of(
        _noise(st.integers(100, 2000), boundary_levels(), loud=False), _tone(st.integers(100, 2000), boundary_levels(), loud=False),
        loud_segments(100, 1500, speech=False), quiet_segments(20, 1500)), min_size=1, max_size=5))
    args = draw(record_args(caps, filename="q.wav", max_bytes=0, barge_in=False,
                            milliseconds_max_silence=draw(st.integers(100, 3000)),
                            seconds_timeout=draw(seconds_timeouts(1000, 8000))))
    acts = draw(_job(args))
    return _build(draw(_seeds), segs, acts)
