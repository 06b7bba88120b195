"""Run a scenario's action script against a recorder and describe what happened.

``run_scenario`` builds the clock, the channel (far-end audio, scripted call-state changes and
out-of-band digits, the media store from ``build_store``) and the recorder through the factory,
then performs the actions in order. Every action's return value or exception is recorded with
its virtual start and end time; exceptions are results here, not crashes, so a script goes on
after a ``Hangup``. The result serialises to the JSON of ``callsim run --json``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from callsim.contract import CallState, Cipher, Priority, ms_to_ticks, ticks_to_ms

from .channel import CallChannel
from .clock import DEFAULT_LIMIT, Clock
from .eventlog import EventLog
from .scenario import Scenario
from .store import FaultPlan, MediaStore, StoreWrite

__all__ = ["RecorderFailed", "RunResult", "StepResult", "run_scenario", "build_call", "build_store", "describe_file"]

#: Our WAV format tags and the spec's format names (for the run summary only: the conformance
#: suite has its own independent reader).
_TAGS = {6: "alaw", 7: "ulaw", 0x11: "ima", 0x17: "oki"}


class RecorderFailed(RuntimeError):
    """The implementation failed outside an action, so the run has no final state: its factory
    raised or returned None, or a final query (``state()``, ``cause()``,
    ``audio_detected_in_recording()``) raised. The message names it, with the exception's type
    and message."""


@dataclass
class StepResult:
    call: str
    at_ms: float
    returned: Any
    raised: str | None
    end_ms: float
    message: str | None = None
    #: The kind of the value returned, decided at call time against the recorder's own ``Cause``
    #: and ``State`` attributes (``returned`` is flattened to JSON): "Cause", "State",
    #: "other enum", "bool", "int", "float", "str", "None" or "other"; None when it raised.
    returned_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "at_ms": self.at_ms,
            "returned": self.returned,
            "raised": self.raised,
            "end_ms": self.end_ms,
            **({"message": self.message} if self.message else {}),
            **({"returned_type": self.returned_type} if self.returned_type else {}),
        }


@dataclass
class RunResult:
    steps: list[StepResult]
    final: dict[str, Any]
    files: list[dict[str, Any]]
    log: list[dict[str, Any]]
    contents: dict[str, bytes] = field(repr=False, default_factory=dict)
    open_writers: int = 0

    def to_json(self, *, with_log: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "steps": [s.to_json() for s in self.steps],
            "final": self.final,
            "files": self.files,
        }
        if with_log:
            d["log"] = self.log
        return d


def build_store(
    scenario: Scenario,
    clock: Clock,
    log: EventLog,
    *,
    name: str = "call",
    on_write: Callable[[StoreWrite], None] | None = None,
) -> MediaStore:
    """The media store ``scenario`` describes: in memory, on ``clock``'s time, with the
    scenario's visibility delay and fault plan, its events in ``log`` as ``store`` entries of
    call ``name``; ``on_write`` observes every write (see ``MediaStore``).

    The one place a scenario's store is made: ``callsim run``, ``callsim run --check``, the
    conformance suite and ``callsim plot`` all run through ``run_scenario``, so a graded run
    has the same store (delay, faults, event times) as the run a user replays.
    """

    def log_event(tick: int, op: str, file: str) -> None:
        log.add("store", call=name, op=op, file=file)

    store = MediaStore(
        clock=lambda: clock.now,
        visibility_delay=ms_to_ticks(scenario.store.visibility_delay_ms),
        on_event=log_event,
        on_write=on_write,
    )
    if scenario.store.fail_write_n is not None or scenario.store.capacity_bytes is not None:
        store.faults = FaultPlan(
            fail_write_n=scenario.store.fail_write_n, capacity_bytes=scenario.store.capacity_bytes
        )
    return store


#: What a script may need beyond the sum of its own instants and waits (start-up, frame edges).
_LIMIT_MARGIN_MS = 60_000
#: The fewest bytes a second of recording can cost (4-bit ADPCM at 6000 Hz): a size limit of
#: ``max_bytes`` ends a job within ``max_bytes / 3000`` s of audio.
_MIN_BYTES_PER_SECOND = 3000


def script_limit(scenario: Scenario, audio_end: int = 0) -> int:
    """The clock's limit for ``scenario``: the most virtual time one blocking call of its script
    can need while the implementation follows the spec, so a job that never ends (a recorder
    ignoring its limits) stops there, not at ``DEFAULT_LIMIT``'s 8 days of recorded audio.

    It is the latest instant the scenario names (the far end's audio, ``audio_end`` in ticks,
    call changes, the hangup) plus every sleep and every timeout the script passes or defaults
    (record's and wait_until_finished's ``seconds_timeout``, 120 s when not given), plus the time
    a started job's size limit allows at the cheapest encoding, plus a minute; never more than
    ``DEFAULT_LIMIT``, which covers every legal argument on its own."""
    last_ms = max([ticks_to_ms(audio_end), scenario.call.hangup_ms or 0]
                  + [c.at_ms for c in scenario.call.changes] + [a.at_ms for a in scenario.audio])
    total_ms = float(last_ms) + _LIMIT_MARGIN_MS
    for action in scenario.actions:
        kw = action.kwargs()
        if action.call == "sleep":
            total_ms += action.ms or 0
        elif action.call in ("record", "wait_until_finished"):
            timeout = kw.get("seconds_timeout", 120)
            total_ms += 1000 * float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else 0
        if action.call in ("record", "start"):
            max_bytes = kw.get("max_bytes", 1_920_000)
            if isinstance(max_bytes, (int, float)) and max_bytes > 0:
                total_ms += 1000 * float(max_bytes) / _MIN_BYTES_PER_SECOND
    return min(DEFAULT_LIMIT, ms_to_ticks(int(min(total_ms, ticks_to_ms(DEFAULT_LIMIT)))))


def build_call(
    scenario: Scenario,
    factory: Callable[[CallChannel], Any] | None = None,
    *,
    clock: Clock | None = None,
    name: str = "call",
    on_write: Callable[[StoreWrite], None] | None = None,
) -> CallChannel:
    """Build the channel of a scenario on ``clock`` (a new one unless given), with the store
    from ``build_store`` (``on_write`` observes its writes)."""
    from .build import build_audio

    timeline = build_audio(scenario)
    clock = clock or Clock(limit=script_limit(scenario, timeline.end))
    log = EventLog(lambda: clock.now)
    store = build_store(scenario, clock, log, name=name, on_write=on_write)
    channel = CallChannel(
        clock,
        audio=timeline,
        store=store,
        log=log,
        state=CallState(scenario.call.state),
        recorder_factory=factory,
        name=name,
    )
    for change in scenario.call.changes:
        channel.schedule_state(ms_to_ticks(change.at_ms), CallState(change.state))
    if scenario.call.hangup_ms is not None:
        channel.schedule_state(ms_to_ticks(scenario.call.hangup_ms), CallState.IDLE, reason="hangup")
    for onset, _end, digit, oob in timeline.dtmf_events():
        if oob:
            channel.schedule_dtmf(onset, digit)
        else:
            _log_at(channel, onset, "dtmf-inband", digit=digit, end_t=_end)
    for spec, seg in zip(scenario.audio, timeline.segments):
        if spec.kind not in ("silence", "dtmf"):
            _log_at(channel, seg.start, "audio-start", audio=spec.kind, end_t=seg.end)
    return channel


def _log_at(channel: CallChannel, at: int, kind: str, **fields: Any) -> None:
    """Put a scripted instant in the event log at its own time, as a note, not an event.

    It changes nothing a recorder sees, so it must not cut media delivery into blocks (a long
    call with an audio item every few seconds would run several times slower) nor keep a wait
    alive; ``Clock.note`` keeps its place in the log where a ``CALL`` event would have put it.
    """

    def log() -> None:
        channel.log.add(kind, call=channel.name, **fields)

    channel.clock.note(at, Priority.CALL, log, kind)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def returned_kind(value: Any, rec: Any) -> str:
    """The kind of ``value`` a recorder returned, by identity with members of ``rec.Cause``
    and ``rec.State`` (the vendor's examples compare ``cause == channel.FileRecorder.Cause.X``)."""
    for attr in ("Cause", "State"):
        try:
            members = list(getattr(rec, attr))
        except Exception:  # noqa: BLE001 - a recorder without a usable enum has no members
            members = []
        if any(value is m for m in members):
            return attr
    if value is None:
        return "None"
    if isinstance(value, Enum):
        return "other enum"
    for t in (bool, int, float, str):
        if isinstance(value, t):
            return t.__name__
    return "other"


def _make_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Scenario args to API args: a ``cipher`` table becomes a ``callsim.contract.Cipher``."""
    args = dict(kwargs)
    c = args.get("cipher")
    if isinstance(c, dict):
        args["cipher"] = Cipher(c.get("key", ""), c.get("iv", ""))
    return args


def _redacted(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in kwargs.items():
        out[k] = "<cipher>" if k == "cipher" and v is not None else _jsonable(v)
    return out


def describe_file(name: str, data: bytes) -> dict[str, Any]:
    """Summarise a stored file for the run report (format, rate, sizes, sha256)."""
    info: dict[str, Any] = {
        "name": name,
        "format": None,
        "rate": None,
        "data_bytes": None,
        "duration_ms": None,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        info["format"] = "unknown (encrypted?)"
        return info
    pos, fmt_tag, bits, rate, samples, data_bytes = 12, None, None, None, None, None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if cid == b"fmt " and size >= 16:
            fmt_tag, _ch, rate, _abps, _align, bits = struct.unpack_from("<HHIIHH", data, body)
        elif cid == b"fact" and size >= 4:
            (samples,) = struct.unpack_from("<I", data, body)
        elif cid == b"data":
            data_bytes = min(size, len(data) - body)
        pos = body + size + (size & 1)
    name_ = _TAGS.get(fmt_tag or 0) if fmt_tag != 1 else ("s16bit" if bits == 16 else "u8bit" if bits == 8 else None)
    if samples is None and data_bytes is not None and bits:
        samples = data_bytes * 8 // bits
    info.update(format=name_, rate=rate, data_bytes=data_bytes)
    if samples is not None and rate:
        info["duration_ms"] = round(samples * 1000 / rate, 3)
    return info


def _query(rec: Any, method: str) -> Any:
    """``rec.method()`` for the final state; ``RecorderFailed`` when it raises."""
    try:
        return getattr(rec, method)()
    except Exception as exc:  # noqa: BLE001 - the implementation's error, reported as such
        raise RecorderFailed(f"the recorder's {method}() raised {type(exc).__name__}: {exc}") from exc


def run_scenario(
    scenario: Scenario,
    factory: Callable[[CallChannel], Any] | None = None,
    *,
    out_dir: str | Path | None = None,
    clock: Clock | None = None,
    on_write: Callable[[StoreWrite], None] | None = None,
) -> RunResult:
    """Perform the scenario's action script and return what happened.

    ``on_write`` observes every write to the store (a ``StoreWrite``: file, offset, bytes); the
    store itself is always the scenario's own (``build_store``), never one passed in, so every
    caller runs the same store as ``callsim run``. ``out_dir``, if given, receives the stored
    files through a directory ``MediaStore`` (atomic, symlinks refused; ``StoreError`` if not).
    """
    from .clock import Deadlock, SimulationLimit

    channel = build_call(scenario, factory, clock=clock, on_write=on_write)
    clock, log = channel.clock, channel.log
    steps: list[StepResult] = []
    rec: Any = None
    for action in scenario.actions:
        returned: Any = None
        raised: str | None = None
        message: str | None = None
        kwargs = action.kwargs()
        # SD-TIES rule 3: the application acts after every event due at the same instant
        clock.sleep(0)
        start = clock.now
        log.add("api-call", call=action.call, args=_redacted(kwargs) if action.call != "sleep" else {"ms": action.ms})
        try:
            if action.call == "sleep":
                assert action.ms is not None
                clock.sleep(ms_to_ticks(action.ms))
            else:
                if rec is None:
                    rec = channel.FileRecorder
                returned = getattr(rec, action.call)(**_make_args(kwargs))
        except (Deadlock, SimulationLimit) as exc:
            raised, message = type(exc).__name__, str(exc)
        except Exception as exc:  # the spec's exceptions and argument errors are results
            raised, message = type(exc).__name__, str(exc)
        log.add("api-return", call=action.call, returned=_jsonable(returned), raised=raised)
        kind = None if raised or action.call == "sleep" else returned_kind(returned, rec)
        steps.append(StepResult(action.call, ticks_to_ms(start), _jsonable(returned), raised, ticks_to_ms(clock.now),
                                message, kind))
    if rec is None:
        try:
            rec = channel.FileRecorder
        except Exception as exc:  # a factory that cannot build a recorder
            raise RecorderFailed(f"the recorder factory failed: {type(exc).__name__}: {exc}") from exc
    if rec is None:
        raise RecorderFailed("the recorder factory returned None (NoneType), not a recorder")
    final = {
        "state": _jsonable(_query(rec, "state")),
        "cause": _jsonable(_query(rec, "cause")),
        "audio_detected": _jsonable(_query(rec, "audio_detected_in_recording")),
        "call_state": channel.state().value,
        "end_ms": ticks_to_ms(clock.now),
    }
    files, contents = [], {}
    # ``out_dir`` is written as a directory store: a temporary file published by rename, never
    # through a symlink in the folder, never outside it (``MediaStore``'s own rules)
    disk = MediaStore(out_dir) if out_dir is not None else None
    for name in channel.store.list():
        data = channel.store.read(name)
        contents[name] = data
        files.append(describe_file(name, data))
        if disk is not None:
            with disk.open_write(name) as w:
                w.write(data)
    open_writers = channel.store.open_writers()
    return RunResult(steps, final, files, log.to_list(), contents, open_writers)


