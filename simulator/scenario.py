"""Scenario values, the TOML loader and a Python builder for the same.

A scenario is everything needed to replay a call exactly: the seed, the call's initial state and
scripted changes, the far-end audio, store settings and the application's action script. Loader
errors are ``ScenarioError`` and name the file, the key and the reason. ``Scenario.to_toml()``
writes a file that loads back to an equal scenario (used by replays and shrunk failures).

The file format is documented in ``docs/scenario-format.md``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from callsim.contract import CallState

__all__ = [
    "Scenario",
    "CallSpec",
    "ChangeSpec",
    "AudioSpec",
    "ActionSpec",
    "StoreSpec",
    "ScenarioError",
    "ScenarioBuilder",
    "load_scenario",
    "loads_scenario",
    "ACTION_CALLS",
    "AUDIO_KINDS",
]

ACTION_CALLS = (
    "record", "start", "stop", "wait_until_finished", "state", "cause",
    "audio_detected_in_recording", "sleep",
)
AUDIO_KINDS = ("silence", "noise", "tone", "dtmf", "speech", "file")
_CALL_STATES = tuple(s.value for s in CallState)

# Keys each [[audio]] kind accepts beyond at_ms/kind (and their types).
_AUDIO_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "silence": {"duration_ms": (int,)},
    "noise": {"duration_ms": (int,), "level_dbm0": (int, float), "color": (str,)},
    "tone": {"duration_ms": (int,), "level_dbm0": (int, float), "freqs": (list,)},
    "dtmf": {
        "digits": (str,), "tone_ms": (int,), "gap_ms": (int,), "level_dbm0": (int, float),
        "twist_db": (int, float), "freq_offset_pct": (int, float), "low_offset_pct": (int, float),
        "high_offset_pct": (int, float), "out_of_band": (bool,),
    },
    "speech": {"duration_ms": (int,), "level_dbm0": (int, float), "clips": (list,)},
    "file": {"path": (str,), "duration_ms": (int,), "level_db": (int, float)},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "silence": ("duration_ms",),
    "noise": ("duration_ms", "level_dbm0"),
    "tone": ("duration_ms", "level_dbm0", "freqs"),
    "dtmf": ("digits",),
    "speech": ("duration_ms",),
    "file": ("path",),
}
_DTMF_DIGITS = set("0123456789*#ABCD")


class ScenarioError(ValueError):
    """A scenario file or value is invalid; the message names the source, key and reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


@dataclass(frozen=True)
class ChangeSpec:
    at_ms: int
    state: str


@dataclass(frozen=True)
class CallSpec:
    state: str = "ANSWERED"
    hangup_ms: int | None = None
    changes: tuple[ChangeSpec, ...] = ()


@dataclass(frozen=True)
class AudioSpec:
    """One far-end audio item; ``params`` holds the kind-specific keys as given."""

    at_ms: int
    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class ActionSpec:
    """One step of the application's script: an API call with keyword args, or a sleep."""

    call: str
    args: tuple[tuple[str, Any], ...] = ()
    ms: int | None = None

    def kwargs(self) -> dict[str, Any]:
        out = {}
        for k, v in self.args:
            if isinstance(v, tuple) and v and isinstance(v[0], tuple):
                v = dict(v)
            out[k] = None if v == NONE_MARKER else v
        return out


@dataclass(frozen=True)
class StoreSpec:
    visibility_delay_ms: int = 0
    fail_write_n: int | None = None
    capacity_bytes: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A complete, replayable call scenario."""

    seed: int = 0
    call: CallSpec = field(default_factory=CallSpec)
    audio: tuple[AudioSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    store: StoreSpec = field(default_factory=StoreSpec)
    name: str = ""
    description: str = ""
    expect: tuple[tuple[str, Any], ...] = ()
    base_dir: str = "."

    def expected(self) -> dict[str, Any]:
        return dict(self.expect)

    def with_actions(self, *actions: ActionSpec) -> Scenario:
        return replace(self, actions=tuple(actions))

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"seed": self.seed}
        if self.name:
            d["name"] = self.name
        if self.description:
            d["description"] = self.description
        call: dict[str, Any] = {"state": self.call.state}
        if self.call.hangup_ms is not None:
            call["hangup_ms"] = self.call.hangup_ms
        if self.call.changes:
            call["changes"] = [{"at_ms": c.at_ms, "state": c.state} for c in self.call.changes]
        d["call"] = call
        store = {k: v for k, v in vars(self.store).items() if v not in (None, 0)}
        if store:
            d["store"] = store
        if self.audio:
            d["audio"] = [{"at_ms": a.at_ms, "kind": a.kind, **_untuple(dict(a.params))} for a in self.audio]
        acts = []
        for a in self.actions:
            item: dict[str, Any] = {"call": a.call}
            if a.ms is not None:
                item["ms"] = a.ms
            if a.args:
                item["args"] = _untuple(dict(a.args))
            acts.append(item)
        if acts:
            d["actions"] = acts
        if self.expect:
            d["expect"] = _untuple(dict(self.expect))
        return d

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


#: TOML has no null: in ``args`` the string "None" stands for Python's None
#: (``wait_until_finished`` with ``seconds_timeout = "None"`` waits forever).
NONE_MARKER = "None"


def _untuple(value: Any) -> Any:
    if value is None:
        return NONE_MARKER
    if isinstance(value, dict):
        return {k: _untuple(v) for k, v in value.items()}
    if isinstance(value, tuple):
        if value and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in value):
            return {k: _untuple(v) for k, v in value}
        return [_untuple(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    if value is None:
        return NONE_MARKER
    if isinstance(value, Mapping):
        return tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# -- loading ------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario TOML file (relative paths inside it resolve against its folder)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), "(file)", f"cannot read: {exc.strerror or exc}") from None
    return loads_scenario(text, source=str(p), base_dir=str(p.parent))


def loads_scenario(text: str, *, source: str = "<string>", base_dir: str = ".") -> Scenario:
    """Parse scenario TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "(syntax)", f"not valid TOML: {exc}") from None
    return from_dict(data, source=source, base_dir=base_dir)


def _int(source: str, key: str, value: Any, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(source, key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(source, key, f"must be >= {minimum}, got {value}")
    return value


def _num(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(source, key, f"must be a finite number, got {value!r}")
    return float(value)


def _state(source: str, key: str, value: Any) -> str:
    if value not in _CALL_STATES:
        raise ScenarioError(source, key, f"unknown call state {value!r}; one of {', '.join(_CALL_STATES)}")
    return str(value)


def _unknown(source: str, prefix: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for k in data:
        if k not in allowed:
            raise ScenarioError(source, f"{prefix}{k}", f"unknown key; allowed: {', '.join(sorted(allowed))}")


def from_dict(data: Mapping[str, Any], *, source: str = "<dict>", base_dir: str = ".") -> Scenario:
    """Validate a parsed scenario mapping and build a ``Scenario``."""
    _unknown(source, "", data, {"seed", "call", "audio", "actions", "store", "name", "description", "expect"})
    seed = _int(source, "seed", data.get("seed", 0))
    call_d = data.get("call", {})
    if not isinstance(call_d, Mapping):
        raise ScenarioError(source, "call", "must be a table")
    _unknown(source, "call.", call_d, {"state", "hangup_ms", "changes"})
    state = _state(source, "call.state", call_d.get("state", "ANSWERED"))
    hangup = call_d.get("hangup_ms")
    if hangup is not None:
        hangup = _int(source, "call.hangup_ms", hangup)
    changes = []
    for i, ch in enumerate(call_d.get("changes", [])):
        key = f"call.changes[{i}]"
        if not isinstance(ch, Mapping):
            raise ScenarioError(source, key, "must be a table")
        _unknown(source, key + ".", ch, {"at_ms", "state"})
        if "at_ms" not in ch or "state" not in ch:
            raise ScenarioError(source, key, "needs at_ms and state")
        changes.append(ChangeSpec(_int(source, key + ".at_ms", ch["at_ms"]), _state(source, key + ".state", ch["state"])))
    audio = tuple(_audio(source, i, a, base_dir) for i, a in enumerate(data.get("audio", [])))
    actions = tuple(_action(source, i, a) for i, a in enumerate(data.get("actions", [])))
    store_d = data.get("store", {})
    if not isinstance(store_d, Mapping):
        raise ScenarioError(source, "store", "must be a table")
    _unknown(source, "store.", store_d, {"visibility_delay_ms", "fail_write_n", "capacity_bytes"})
    store = StoreSpec(
        visibility_delay_ms=_int(source, "store.visibility_delay_ms", store_d.get("visibility_delay_ms", 0)),
        fail_write_n=None if store_d.get("fail_write_n") is None else _int(source, "store.fail_write_n", store_d["fail_write_n"], minimum=1),
        capacity_bytes=None if store_d.get("capacity_bytes") is None else _int(source, "store.capacity_bytes", store_d["capacity_bytes"]),
    )
    expect = data.get("expect", {})
    if not isinstance(expect, Mapping):
        raise ScenarioError(source, "expect", "must be a table")
    return Scenario(
        seed=seed,
        call=CallSpec(state=state, hangup_ms=hangup, changes=tuple(changes)),
        audio=audio,
        actions=actions,
        store=store,
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        expect=_freeze(dict(expect)),
        base_dir=base_dir,
    )


def _audio(source: str, i: int, a: Any, base_dir: str) -> AudioSpec:
    key = f"audio[{i}]"
    if not isinstance(a, Mapping):
        raise ScenarioError(source, key, "must be a table")
    kind = a.get("kind")
    if kind not in AUDIO_KINDS:
        raise ScenarioError(source, key + ".kind", f"must be one of {', '.join(AUDIO_KINDS)}, got {kind!r}")
    if "at_ms" not in a:
        raise ScenarioError(source, key + ".at_ms", "is required")
    at = _int(source, key + ".at_ms", a["at_ms"])
    allowed = _AUDIO_KEYS[kind]
    params: dict[str, Any] = {}
    for k, v in a.items():
        if k in ("kind", "at_ms"):
            continue
        if k not in allowed:
            raise ScenarioError(source, f"{key}.{k}", f"unknown key for kind {kind!r}; allowed: {', '.join(sorted(allowed))}")
        types = allowed[k]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            raise ScenarioError(source, f"{key}.{k}", f"must be {' or '.join(t.__name__ for t in types)}, got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _num(source, f"{key}.{k}", v)
        params[k] = v
    for req in _REQUIRED[kind]:
        if req not in params:
            raise ScenarioError(source, f"{key}.{req}", f"is required for kind {kind!r}")
    for k in ("duration_ms", "tone_ms", "gap_ms"):
        if k in params:
            _int(source, f"{key}.{k}", params[k], minimum=1 if k != "gap_ms" else 0)
    if kind == "dtmf":
        bad = set(params["digits"]) - _DTMF_DIGITS
        if not params["digits"] or bad:
            raise ScenarioError(source, key + ".digits", f"must be DTMF digits 0-9*#ABCD, got {params['digits']!r}")
    if kind == "tone":
        for j, f in enumerate(params["freqs"]):
            if _num(source, f"{key}.freqs[{j}]", f) <= 0 or f >= 4000:
                raise ScenarioError(source, f"{key}.freqs[{j}]", f"must be in (0, 4000) Hz, got {f!r}")
    if kind == "noise" and params.get("color", "white") not in ("white", "pink"):
        raise ScenarioError(source, key + ".color", f"must be 'white' or 'pink', got {params['color']!r}")
    if kind == "file":
        path = Path(params["path"])
        if not path.is_absolute():
            path = Path(base_dir) / path
        if not path.exists():
            raise ScenarioError(source, key + ".path", f"file not found: {path}")
        params["path"] = str(path)
    return AudioSpec(at, kind, _freeze(params))


def _action(source: str, i: int, a: Any) -> ActionSpec:
    key = f"actions[{i}]"
    if not isinstance(a, Mapping):
        raise ScenarioError(source, key, "must be a table")
    _unknown(source, key + ".", a, {"call", "args", "ms"})
    call = a.get("call")
    if call not in ACTION_CALLS:
        raise ScenarioError(source, key + ".call", f"must be one of {', '.join(ACTION_CALLS)}, got {call!r}")
    args = a.get("args", {})
    if not isinstance(args, Mapping):
        raise ScenarioError(source, key + ".args", "must be a table")
    ms = a.get("ms")
    if call == "sleep":
        if ms is None:
            raise ScenarioError(source, key + ".ms", "is required for sleep")
        ms = _int(source, key + ".ms", ms)
    elif ms is not None:
        raise ScenarioError(source, key + ".ms", f"only sleep takes ms, not {call}")
    return ActionSpec(call, _freeze(dict(args)), ms)


# -- the Python builder ---------------------------------------------------------------------
class ScenarioBuilder:
    """Build a ``Scenario`` in Python with the same vocabulary as the TOML file.

    >>> s = (ScenarioBuilder(seed=1).speech(0, 1500, level_dbm0=-20)
    ...      .dtmf(2000, "5#").record(filename="msg.wav", milliseconds_max_silence=2000)
    ...      .build())
    """

    def __init__(self, seed: int = 0, *, state: str = "ANSWERED") -> None:
        self._d: dict[str, Any] = {"seed": seed, "call": {"state": state}, "audio": [], "actions": []}

    def hangup(self, at_ms: int) -> ScenarioBuilder:
        self._d["call"]["hangup_ms"] = at_ms
        return self

    def change(self, at_ms: int, state: str) -> ScenarioBuilder:
        self._d["call"].setdefault("changes", []).append({"at_ms": at_ms, "state": state})
        return self

    def store(self, **settings: Any) -> ScenarioBuilder:
        self._d.setdefault("store", {}).update(settings)
        return self

    def audio(self, at_ms: int, kind: str, **params: Any) -> ScenarioBuilder:
        self._d["audio"].append({"at_ms": at_ms, "kind": kind, **params})
        return self

    def silence(self, at_ms: int, duration_ms: int) -> ScenarioBuilder:
        return self.audio(at_ms, "silence", duration_ms=duration_ms)

    def noise(self, at_ms: int, duration_ms: int, level_dbm0: float, color: str = "white") -> ScenarioBuilder:
        return self.audio(at_ms, "noise", duration_ms=duration_ms, level_dbm0=level_dbm0, color=color)

    def tone(self, at_ms: int, duration_ms: int, freqs: list[float], level_dbm0: float) -> ScenarioBuilder:
        return self.audio(at_ms, "tone", duration_ms=duration_ms, freqs=list(freqs), level_dbm0=level_dbm0)

    def speech(self, at_ms: int, duration_ms: int, level_dbm0: float = -20) -> ScenarioBuilder:
        return self.audio(at_ms, "speech", duration_ms=duration_ms, level_dbm0=level_dbm0)

    def dtmf(self, at_ms: int, digits: str, **params: Any) -> ScenarioBuilder:
        return self.audio(at_ms, "dtmf", digits=digits, **params)

    def action(self, call: str, **args: Any) -> ScenarioBuilder:
        self._d["actions"].append({"call": call, "args": args} if args else {"call": call})
        return self

    def record(self, **args: Any) -> ScenarioBuilder:
        return self.action("record", **args)

    def start(self, **args: Any) -> ScenarioBuilder:
        return self.action("start", **args)

    def stop(self) -> ScenarioBuilder:
        return self.action("stop")

    def wait_until_finished(self, **args: Any) -> ScenarioBuilder:
        return self.action("wait_until_finished", **args)

    def sleep(self, ms: int) -> ScenarioBuilder:
        self._d["actions"].append({"call": "sleep", "ms": ms})
        return self

    def expect(self, **values: Any) -> ScenarioBuilder:
        self._d.setdefault("expect", {}).update(values)
        return self

    def build(self, base_dir: str = ".") -> Scenario:
        return from_dict(self._d, source="<builder>", base_dir=base_dir)
