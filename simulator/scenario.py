"""Scenario values, the TOML loader and a Python builder for the same.

A scenario is everything needed to replay a call exactly: the seed, the call's initial state and
scripted changes, the far-end audio, store settings and the application's action script. Loader
errors are ``ScenarioError`` and name the file, the key and the reason. ``Scenario.to_toml()``
writes a file that loads back to an equal scenario (used by replays and shrunk failures).

The file format is documented in ``docs/scenario-format.md``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from inspect import Parameter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from callsim.contract import API_METHODS, API_RETURNS, CallState, Cause, State

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
    "CIPHER_KEYS",
    "EXPECT_KEYS",
    "ExpectKey",
    "SCENARIO_ACTIONS",
]

#: Actions the script performs itself, without calling the recorder: ``sleep`` (``ms = N``).
SCENARIO_ACTIONS = ("sleep",)
#: Every action name: the recorder API's methods (``callsim.contract.API_METHODS``, whose
#: parameters an action's ``args`` must use) and the scenario's own actions.
ACTION_CALLS = (*API_METHODS, *SCENARIO_ACTIONS)
#: The keys of a ``cipher`` table in ``args`` (the runner builds a ``callsim.contract.Cipher``).
CIPHER_KEYS = ("key", "iv")
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
        # one line, whatever the reason holds (the command line prints exactly this)
        super().__init__(" ".join(f"{source}: {key}: {reason}".splitlines()))


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
            if isinstance(v, _Table):
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


class _Table(tuple[tuple[str, Any], ...]):
    """A frozen table: its (key, value) pairs, told apart from a frozen array of 2-arrays (an
    ``[expect]`` entry such as ``raised = [["Hangup", "Error"]]`` must not come back a table)."""

    __slots__ = ()


def _untuple(value: Any) -> Any:
    if value is None:
        return NONE_MARKER
    if isinstance(value, dict):
        return {k: _untuple(v) for k, v in value.items()}
    if isinstance(value, _Table):
        return {k: _untuple(v) for k, v in value}
    if isinstance(value, tuple):
        return [_untuple(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    if value is None:
        return NONE_MARKER
    if isinstance(value, Mapping):
        return _Table((k, _freeze(v)) for k, v in value.items())
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


def _str(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ScenarioError(source, key, f"must be a string, got {value!r}")
    return value


def _array(source: str, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(source, key, f"must be an array of tables ([[{key}]]), got {value!r}")
    return value


def _state(source: str, key: str, value: Any) -> str:
    if value not in _CALL_STATES:
        raise ScenarioError(source, key, f"unknown call state {value!r}; one of {', '.join(_CALL_STATES)}")
    return str(value)


def _did_you_mean(word: object, options: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the option closest to ``word`` (difflib), or "" if none is close."""
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(source: str, prefix: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = sorted(allowed)
    for k in data:
        if k not in allowed:
            raise ScenarioError(
                source, f"{prefix}{k}", f"unknown key{_did_you_mean(k, allowed)}; allowed: {', '.join(allowed)}"
            )


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
    for i, ch in enumerate(_array(source, "call.changes", call_d.get("changes", []))):
        key = f"call.changes[{i}]"
        if not isinstance(ch, Mapping):
            raise ScenarioError(source, key, "must be a table")
        _unknown(source, key + ".", ch, {"at_ms", "state"})
        if "at_ms" not in ch or "state" not in ch:
            raise ScenarioError(source, key, "needs at_ms and state")
        changes.append(ChangeSpec(_int(source, key + ".at_ms", ch["at_ms"]), _state(source, key + ".state", ch["state"])))
    audio = tuple(_audio(source, i, a, base_dir) for i, a in enumerate(_array(source, "audio", data.get("audio", []))))
    actions = tuple(_action(source, i, a) for i, a in enumerate(_array(source, "actions", data.get("actions", []))))
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
    return Scenario(
        seed=seed,
        call=CallSpec(state=state, hangup_ms=hangup, changes=tuple(changes)),
        audio=audio,
        actions=actions,
        store=store,
        name=_str(source, "name", data.get("name", "")),
        description=_str(source, "description", data.get("description", "")),
        expect=_freeze(_expect(source, expect, actions)),
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
        raise ScenarioError(source, key + ".call", f"unknown action {call!r}{_did_you_mean(call, ACTION_CALLS)}; "
                                                   f"it must be one of {', '.join(ACTION_CALLS)}")
    ms = a.get("ms")
    if call in SCENARIO_ACTIONS:
        if a.get("args"):
            raise ScenarioError(source, key + ".args", f"{call} takes no args: give ms = N on the action itself")
        if ms is None:
            raise ScenarioError(source, key + ".ms", "is required for sleep")
        return ActionSpec(call, (), _int(source, key + ".ms", ms))
    if ms is not None:
        raise ScenarioError(source, key + ".ms", f"only sleep takes ms, not {call}")
    return ActionSpec(call, _freeze(_call_args(source, key + ".args", call, a.get("args", {}))))


def _call_args(source: str, key: str, call: str, args: Any) -> dict[str, Any]:
    """An action's ``args`` as keyword arguments of ``call``, checked against the API's
    parameters (``callsim.contract.API_METHODS``): a table names them, an array gives them in
    order; unknown names, too many values and missing required ones are errors."""
    params = API_METHODS[call]
    names = [p.name for p in params]
    listed = ", ".join(names) or "none"
    if isinstance(args, list):
        if len(args) > len(params):
            most = f"at most {len(names)} argument{'s' if len(names) > 1 else ''} ({listed})" if names else "no arguments"
            raise ScenarioError(source, key, f"{call}() takes {most}, got {len(args)}")
        given = dict(zip(names, args))
    elif isinstance(args, Mapping):
        for k in args:
            if k not in names:
                raise ScenarioError(source, f"{key}.{k}",
                                    f"{call}() has no parameter {k!r}{_did_you_mean(k, names)}; its parameters: {listed}")
        given = dict(args)
    else:
        raise ScenarioError(source, key,
                            f"must be a table (keyword arguments) or an array (positional ones), {_got(args)}")
    for p in params:
        if p.default is Parameter.empty and p.name not in given:
            raise ScenarioError(source, f"{key}.{p.name}", f"is required: {call}() has no default for it")
    if isinstance(given.get("cipher"), Mapping):
        _cipher(source, f"{key}.cipher", given["cipher"])
    return given


def _cipher(source: str, key: str, table: Mapping[str, Any]) -> None:
    """A ``cipher`` table's keys are ``CIPHER_KEYS``. Its values are not checked: the runner
    builds the ``Cipher`` before the call, so a malformed key is a scripted ``CipherError``."""
    _unknown(source, key + ".", table, CIPHER_KEYS)


# -- the [expect] table ---------------------------------------------------------------------
#: Validates one [expect] value: (source, key, value, the scenario's actions) -> None or raise.
ExpectValidator = Callable[[str, str, Any, Sequence[ActionSpec]], None]


@dataclass(frozen=True)
class ExpectKey:
    """One key of the ``[expect]`` table.

    ``value`` says what the value must be (the ``[expect]`` table of ``docs/scenario-format.md``
    shows exactly this; a test compares them), ``validate`` checks it at load time, ``checks`` names what ``conformance.expect`` compares it with: ``"final"`` (the run's
    final value of the same name), ``"end_ms"``, ``"stored"`` / ``"not_stored"`` (file names),
    ``"steps"`` (one entry per action, the step attribute of the same name) or ``"clauses"``
    (nothing: it labels the findings).
    """

    value: str
    checks: str
    validate: ExpectValidator


def _toml_type(value: Any) -> str:
    for types, name in (((bool,), "a boolean"), ((int, float), "a number"), ((str,), "a string"),
                        ((list, tuple), "an array"), ((Mapping,), "a table")):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _got(value: Any) -> str:
    return f"got {_toml_type(value)} {value!r}"


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _alternatives(key: str, value: Any) -> list[tuple[str, Any]]:
    """(key, item) of each allowed value: the items of a non-empty array, else the value itself."""
    if _is_array(value) and value:
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]
    return [(key, value)]


def _one_of(names: Sequence[str], what: str) -> ExpectValidator:
    """A name of ``names``, ``"*"``, or a non-empty array of names."""
    def validate(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
        for where, item in _alternatives(key, value):
            if item == "*" and where == key or isinstance(item, str) and item in names:
                continue
            hint = _did_you_mean(item, names) if isinstance(item, str) else ""
            raise ScenarioError(source, where, f"must be {what} ({', '.join(names)}), \"*\" or an array of them; "
                                               f"{_got(item)}{hint}")
    return validate


def _audio_detected(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    for where, item in _alternatives(key, value):
        if not (isinstance(item, bool) or item == "*" and where == key):
            raise ScenarioError(source, where, f"must be true, false, \"*\" or an array of booleans; {_got(item)}")


def _end_ms(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    if not (_is_array(value) and len(value) == 2
            and all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
        raise ScenarioError(source, key, f"must be an array of two numbers [lo, hi] (ms); {_got(value)}")
    if not 0 <= value[0] <= value[1]:
        raise ScenarioError(source, key, f"must have 0 <= lo <= hi, got {list(value)}")


def _names(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    if not _is_array(value):
        raise ScenarioError(source, key, f"must be an array of file names (strings), {_got(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ScenarioError(source, f"{key}[{i}]", f"must be a file name (a string), {_got(item)}")


def _per_action(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> list[tuple[str, int, Any]]:
    """(action name, index, entry) of a per-action list; an error when it is longer than the script."""
    if not _is_array(value):
        raise ScenarioError(source, key, f"must be an array with one entry per action, {_got(value)}")
    if len(value) > len(actions):
        n = len(actions)
        raise ScenarioError(source, key, f"has {len(value)} entries but the script has {n} action{'s' if n != 1 else ''}")
    return [(actions[i].call, i, item) for i, item in enumerate(value)]


_RETURN_NAMES = {Cause: "a cause name", State: "a record state name"}


def _returned(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    """Each entry is what that action returns (``callsim.contract.API_RETURNS``), ``"*"``, or an
    array of such values."""
    for call, i, item in _per_action(source, key, value, actions):
        if item == "*":
            continue
        types = API_RETURNS.get(call, ())
        enums = [t for t in types if t in _RETURN_NAMES]
        names = [m.name for t in enums for m in t]
        kinds = [f"{_RETURN_NAMES[t]} ({', '.join(m.name for m in t)})" for t in enums]
        kinds += ["true or false"] if bool in types else []
        for where, want in _alternatives(f"{key}[{i}]", item):
            if isinstance(want, bool) and bool in types or isinstance(want, str) and want in names:
                continue
            does = f"returns {' or '.join(kinds)}" if kinds else 'returns nothing (use "*")'
            hint = _did_you_mean(want, names) if isinstance(want, str) else ""
            raise ScenarioError(source, where, f"action {i} is {call}, which {does}; {_got(want)}{hint}")


_EXCEPTION_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _raised(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    for _call, i, item in _per_action(source, key, value, actions):
        if item == "*":
            continue
        for where, want in _alternatives(f"{key}[{i}]", item):
            if isinstance(want, str) and (want == "" or _EXCEPTION_NAME.fullmatch(want)):
                continue
            raise ScenarioError(source, where, 'must be an exception class name, "" for none, "*" or an array of names; '
                                               f"{_got(want)}")


_CLAUSE_ID = re.compile(r"[A-Z]+(-[A-Z0-9]+)+")


def _clauses(source: str, key: str, value: Any, actions: Sequence[ActionSpec]) -> None:
    if not _is_array(value) or not value:
        raise ScenarioError(source, key, f"must be a non-empty array of clause IDs; {_got(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _CLAUSE_ID.fullmatch(item):
            raise ScenarioError(source, f"{key}[{i}]", f"must be a clause ID such as \"SPEC-RECORD\"; {_got(item)}")


_CAUSES = tuple(c.name for c in Cause)
_STATES = tuple(s.name for s in State)

#: The ``[expect]`` keys, in the order their findings are reported. The one definition of which
#: keys exist: the loader validates with it and ``conformance.expect`` checks with it.
EXPECT_KEYS: Mapping[str, ExpectKey] = MappingProxyType({
    "cause": ExpectKey(f'a cause name ({", ".join(_CAUSES)}), "*", or an array of them', "final",
                       _one_of(_CAUSES, "a cause name")),
    "state": ExpectKey(f'a record state name ({", ".join(_STATES)}), "*", or an array of them', "final",
                       _one_of(_STATES, "a record state name")),
    "call_state": ExpectKey('a call state name, "*", or an array of them', "final",
                            _one_of(_CALL_STATES, "a call state name")),
    "audio_detected": ExpectKey('true, false, "*", or an array of booleans', "final", _audio_detected),
    "end_ms": ExpectKey("an array of two numbers [lo, hi], 0 <= lo <= hi", "end_ms", _end_ms),
    "files": ExpectKey("an array of file names (strings)", "stored", _names),
    "absent": ExpectKey("an array of file names (strings)", "not_stored", _names),
    "returned": ExpectKey("an array, at most one entry per action", "steps", _returned),
    "raised": ExpectKey("an array, at most one entry per action", "steps", _raised),
    "clauses": ExpectKey("a non-empty array of clause IDs", "clauses", _clauses),
})


def _expect(source: str, expect: Any, actions: Sequence[ActionSpec]) -> dict[str, Any]:
    if not isinstance(expect, Mapping):
        raise ScenarioError(source, "expect", "must be a table")
    _unknown(source, "expect.", expect, EXPECT_KEYS)
    for k, v in expect.items():
        EXPECT_KEYS[k].validate(source, f"expect.{k}", v, actions)
    return dict(expect)


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
