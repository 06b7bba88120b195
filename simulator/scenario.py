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
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from inspect import Parameter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from callsim.contract import API_METHODS, API_RETURNS, CallState, Cause, State
from callsim.contract.api import safe_repr

__all__ = [
    "Scenario",
    "CallSpec",
    "ChangeSpec",
    "AudioSpec",
    "DTMF_IMPURITY_KEYS",
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
#: A dtmf item's impurities (dB relative to its tones; simulator.audio.Dtmf.impurities).
DTMF_IMPURITY_KEYS = ("low_harmonic_db", "high_harmonic_db", "im3_below_db", "im3_above_db")
#: Their range (dB): an impurity is never louder than its tone.
IMPURITY_DB_RANGE = (-80.0, 0.0)
_CALL_STATES = tuple(s.value for s in CallState)

# Keys each [[audio]] kind accepts beyond at_ms/kind (and their types).
_AUDIO_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "silence": {"duration_ms": (int,)},
    "noise": {"duration_ms": (int,), "level_dbm0": (int, float), "color": (str,)},
    "tone": {"duration_ms": (int,), "level_dbm0": (int, float), "freqs": (list,), "phases_deg": (list,)},
    "dtmf": {
        "digits": (str,), "tone_ms": (int,), "gap_ms": (int,), "level_dbm0": (int, float),
        "twist_db": (int, float), "freq_offset_pct": (int, float), "low_offset_pct": (int, float),
        "high_offset_pct": (int, float), "out_of_band": (bool,),
        **{k: (int, float) for k in DTMF_IMPURITY_KEYS},
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

#: The longest time a scenario may name, in ms (7 days, the longest timeout the API accepts,
#: SD-ARGS): every instant (``at_ms``, ``hangup_ms``, a change's ``at_ms``, an audio item's end)
#: and every duration (``duration_ms``, ``tone_ms``, ``gap_ms``, a sleep's ``ms``,
#: ``visibility_delay_ms``). Tick counts (8 per ms) then stay far inside int64.
MAX_SCENARIO_MS = 7 * 86400 * 1000
#: Levels in dBm0 (``level_dbm0``, and a DTMF high tone's ``level_dbm0 + twist_db``): from far
#: below any codec's floor to well past digital clipping (+3.14 dBm0 for a sine).
LEVEL_DBM0_RANGE = (-200.0, 30.0)
#: A file's ``level_db`` gain.
FILE_GAIN_DB_RANGE = (-200.0, 60.0)
#: Most sine frequencies of one tone item, and most clips of one speech item.
MAX_TONE_FREQS = 32
MAX_SPEECH_CLIPS = 16
#: Most ``[[audio]]`` items, and most DTMF digits in all items together (each digit is an
#: event of the run, each item a note in its log).
MAX_AUDIO_ITEMS = 10_000
MAX_DTMF_DIGITS = 100_000
#: Largest scenario file read (bytes); larger files are refused before reading.
MAX_SCENARIO_BYTES = 16 * 1024 * 1024
_INT64_MAX = (1 << 63) - 1


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
    """Load a scenario TOML file. Relative paths inside it (a file item's ``path``, a speech
    item's ``clips``) resolve against the scenario file's own folder, never the current one.

    Only a regular file of at most ``MAX_SCENARIO_BYTES`` is read (a FIFO or a device is refused
    before it is opened, so nothing can block); every problem is a ``ScenarioError``."""
    p = Path(path)
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise ScenarioError(str(p), "(file)", "is a folder, not a scenario file")
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(str(p), "(file)", "is not a regular file (a FIFO, device or socket)")
        if st.st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(str(p), "(file)", f"is {st.st_size} bytes; a scenario file has at most "
                                                  f"{MAX_SCENARIO_BYTES} bytes")
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ScenarioError(str(p), "(file)", "is not a regular file (a FIFO, device or socket)")
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(str(p), "(file)", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(str(p), "(file)", f"has more than {MAX_SCENARIO_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(p), "(file)", f"is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    return loads_scenario(text, source=str(p), base_dir=str(p.absolute().parent))


def loads_scenario(text: str, *, source: str = "<string>", base_dir: str = ".") -> Scenario:
    """Parse scenario TOML text; relative paths inside it resolve against ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "(syntax)", f"not valid TOML: {exc}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise ScenarioError(source, "(syntax)", "arrays or tables are nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits (Python's conversion limit)
        raise ScenarioError(source, "(syntax)", f"not valid TOML: {str(exc).split(';')[0]}") from None
    return from_dict(data, source=source, base_dir=base_dir)


def _int(source: str, key: str, value: Any, *, minimum: int | None = 0, maximum: int = _INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(source, key, f"must be an integer, {_got(value)}")
    if minimum is not None and value < minimum:
        raise ScenarioError(source, key, f"must be >= {minimum}, got {safe_repr(value)}")
    if value > maximum:
        raise ScenarioError(source, key, f"must be <= {maximum}{_what_max(maximum)}, got {safe_repr(value)}")
    return value


def _what_max(maximum: int) -> str:
    return " (7 days, the longest time a scenario may name)" if maximum == MAX_SCENARIO_MS else ""


def _ms(source: str, key: str, value: Any, *, minimum: int = 0) -> int:
    """A time in ms: an integer from ``minimum`` to ``MAX_SCENARIO_MS``."""
    return _int(source, key, value, minimum=minimum, maximum=MAX_SCENARIO_MS)


def _ranged(source: str, key: str, value: Any, bounds: tuple[float, float], unit: str) -> float:
    """A finite number within ``bounds`` (inclusive)."""
    v = _num(source, key, value)
    if not bounds[0] <= v <= bounds[1]:
        raise ScenarioError(source, key, f"must be from {bounds[0]:g} to {bounds[1]:g} {unit}, got {value!r}")
    return v


def _num(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(source, key, f"must be a finite number, {_got(value)}")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float range
        v = math.inf
    if not math.isfinite(v):
        raise ScenarioError(source, key, f"must be a finite number, got {value!r}")
    return v


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
    seed = _int(source, "seed", data.get("seed", 0), maximum=(1 << 64) - 1)
    call_d = data.get("call", {})
    if not isinstance(call_d, Mapping):
        raise ScenarioError(source, "call", "must be a table")
    _unknown(source, "call.", call_d, {"state", "hangup_ms", "changes"})
    state = _state(source, "call.state", call_d.get("state", "ANSWERED"))
    hangup = call_d.get("hangup_ms")
    if hangup is not None:
        hangup = _ms(source, "call.hangup_ms", hangup)
    changes = []
    for i, ch in enumerate(_array(source, "call.changes", call_d.get("changes", []))):
        key = f"call.changes[{i}]"
        if not isinstance(ch, Mapping):
            raise ScenarioError(source, key, "must be a table")
        _unknown(source, key + ".", ch, {"at_ms", "state"})
        if "at_ms" not in ch or "state" not in ch:
            raise ScenarioError(source, key, "needs at_ms and state")
        changes.append(ChangeSpec(_ms(source, key + ".at_ms", ch["at_ms"]), _state(source, key + ".state", ch["state"])))
    items = _array(source, "audio", data.get("audio", []))
    if len(items) > MAX_AUDIO_ITEMS:
        raise ScenarioError(source, "audio", f"has {len(items)} items; at most {MAX_AUDIO_ITEMS}")
    audio = tuple(_audio(source, i, a, base_dir) for i, a in enumerate(items))
    digits = sum(len(a.get("digits", "")) for a in audio if a.kind == "dtmf")
    if digits > MAX_DTMF_DIGITS:
        raise ScenarioError(source, "audio", f"has {digits} DTMF digits in all; at most {MAX_DTMF_DIGITS}")
    actions = tuple(_action(source, i, a) for i, a in enumerate(_array(source, "actions", data.get("actions", []))))
    store_d = data.get("store", {})
    if not isinstance(store_d, Mapping):
        raise ScenarioError(source, "store", "must be a table")
    _unknown(source, "store.", store_d, {"visibility_delay_ms", "fail_write_n", "capacity_bytes"})
    store = StoreSpec(
        visibility_delay_ms=_ms(source, "store.visibility_delay_ms", store_d.get("visibility_delay_ms", 0)),
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
    at = _ms(source, key + ".at_ms", a["at_ms"])
    allowed = _AUDIO_KEYS[kind]
    params: dict[str, Any] = {}
    for k, v in a.items():
        if k in ("kind", "at_ms"):
            continue
        if k not in allowed:
            raise ScenarioError(source, f"{key}.{k}", f"unknown key for kind {kind!r}{_did_you_mean(k, allowed)}; "
                                                      f"allowed: {', '.join(sorted(allowed))}")
        types = allowed[k]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            raise ScenarioError(source, f"{key}.{k}", f"must be {' or '.join(t.__name__ for t in types)}, {_got(v)}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _num(source, f"{key}.{k}", v)
        params[k] = v
    for req in _REQUIRED[kind]:
        if req not in params:
            raise ScenarioError(source, f"{key}.{req}", f"is required for kind {kind!r}")
    for k in ("duration_ms", "tone_ms", "gap_ms"):
        if k in params:
            _ms(source, f"{key}.{k}", params[k], minimum=1 if k != "gap_ms" else 0)
    if "level_dbm0" in params:
        _ranged(source, key + ".level_dbm0", params["level_dbm0"], LEVEL_DBM0_RANGE, "dBm0")
    if "level_db" in params:
        _ranged(source, key + ".level_db", params["level_db"], FILE_GAIN_DB_RANGE, "dB")
    length = params.get("duration_ms", 0)
    if kind == "dtmf":
        length = _dtmf(source, key, params)
    if kind == "tone":
        if len(params["freqs"]) > MAX_TONE_FREQS:
            raise ScenarioError(source, key + ".freqs", f"has {len(params['freqs'])} frequencies; at most {MAX_TONE_FREQS}")
        for j, f in enumerate(params["freqs"]):
            if not 0 < _num(source, f"{key}.freqs[{j}]", f) < 4000:
                raise ScenarioError(source, f"{key}.freqs[{j}]", f"must be in (0, 4000) Hz, got {f!r}")
        if "phases_deg" in params:
            if len(params["phases_deg"]) != len(params["freqs"]):
                raise ScenarioError(source, key + ".phases_deg", f"has {len(params['phases_deg'])} phases for "
                                    f"{len(params['freqs'])} frequencies; give one per frequency")
            for j, d in enumerate(params["phases_deg"]):
                if not 0 <= _num(source, f"{key}.phases_deg[{j}]", d) < 360:
                    raise ScenarioError(source, f"{key}.phases_deg[{j}]", f"must be in [0, 360) degrees, got {d!r}")
    if kind == "noise" and params.get("color", "white") not in ("white", "pink"):
        raise ScenarioError(source, key + ".color", f"must be 'white' or 'pink', got {params['color']!r}")
    if kind == "speech" and "clips" in params:
        params["clips"] = _clips(source, key + ".clips", params["clips"], base_dir)
    if kind == "file":
        path = _local_path(base_dir, params["path"])
        info = _check_file(source, key + ".path", path)
        params["path"] = str(path)
        if "duration_ms" not in params and at + -(-info.length // 8) > MAX_SCENARIO_MS:
            raise ScenarioError(source, key + ".path", f"the file lasts {info.length / 8000:.0f} s at 8 kHz, so the "
                                                       "item would end after 7 days; give duration_ms")
    end = at + length
    if end > MAX_SCENARIO_MS:
        raise ScenarioError(source, key, f"ends at {end} ms, after 7 days ({MAX_SCENARIO_MS} ms, the longest time a "
                                         "scenario may name)")
    return AudioSpec(at, kind, _freeze(params))


def _dtmf(source: str, key: str, params: dict[str, Any]) -> int:
    """Check the digits, the high tone's level (``level_dbm0 + twist_db``) and every tone's
    frequency after its offset (in (0, 4000) Hz); return the item's length in ms."""
    digits = params["digits"]
    bad = set(digits) - _DTMF_DIGITS
    if not digits or bad:
        raise ScenarioError(source, key + ".digits", f"must be DTMF digits 0-9*#ABCD, got {digits!r}")
    high_level = float(params.get("level_dbm0", -10.0)) + _num(source, key + ".twist_db", params.get("twist_db", 0.0))
    if not LEVEL_DBM0_RANGE[0] <= high_level <= LEVEL_DBM0_RANGE[1]:
        raise ScenarioError(source, key + ".twist_db", f"puts the high tone at {high_level:g} dBm0; level_dbm0 + "
                                                       f"twist_db must be from {LEVEL_DBM0_RANGE[0]:g} to "
                                                       f"{LEVEL_DBM0_RANGE[1]:g} dBm0")
    for group, col in (("low", 0), ("high", 1)):
        k = f"{group}_offset_pct" if f"{group}_offset_pct" in params else "freq_offset_pct"
        pct = params.get(k, 0.0)
        for f in sorted({_DTMF_FREQS[d][col] for d in digits}):
            actual = f * (1.0 + pct / 100.0)
            if not 0.0 < actual < 4000.0:
                raise ScenarioError(source, f"{key}.{k}", f"shifts the {f:g} Hz tone to {actual:g} Hz, outside "
                                                          "(0, 4000) Hz")
    for k in DTMF_IMPURITY_KEYS:
        if k in params and not IMPURITY_DB_RANGE[0] <= _num(source, f"{key}.{k}", params[k]) <= IMPURITY_DB_RANGE[1]:
            raise ScenarioError(source, f"{key}.{k}", f"must be from {IMPURITY_DB_RANGE[0]:g} to "
                                                      f"{IMPURITY_DB_RANGE[1]:g} dB (relative to its tone)")
    pct = {g: params.get(f"{g}_offset_pct", params.get("freq_offset_pct", 0.0)) for g in ("low", "high")}
    for d in digits:
        lo, hi = (f * (1.0 + pct[g] / 100.0) for f, g in zip(_DTMF_FREQS[d], ("low", "high"), strict=True))
        for k, f in zip(DTMF_IMPURITY_KEYS, (2.0 * lo, 2.0 * hi, abs(2.0 * lo - hi), 2.0 * hi - lo), strict=True):
            if k in params and not 0.0 < f < 4000.0:
                raise ScenarioError(source, f"{key}.{k}", f"puts digit {d}'s product at {f:g} Hz, outside (0, 4000) Hz")
    gap = params.get("gap_ms", 50)
    return len(digits) * (params.get("tone_ms", 50) + gap) - gap


#: (low, high) Hz of each DTMF digit (ITU-T Q.23; simulator.audio.dtmf_freqs has the same table).
_DTMF_FREQS = {d: (lo, hi) for keys, lo in zip(("123A", "456B", "789C", "*0#D"), (697.0, 770.0, 852.0, 941.0))
               for d, hi in zip(keys, (1209.0, 1336.0, 1477.0, 1633.0))}


def _local_path(base_dir: str, given: str) -> Path:
    """``given`` as an absolute path: relative to ``base_dir`` (the scenario file's folder)."""
    path = Path(given)
    return path if path.is_absolute() else Path(base_dir).absolute() / path


def _check_file(source: str, key: str, path: Path) -> Any:
    """``simulator.wavsource.check_wav`` of ``path`` as a ``ScenarioError``; returns its info."""
    from .wavsource import WavInputError, check_wav

    try:
        return check_wav(path)
    except WavInputError as exc:
        raise ScenarioError(source, key, str(exc)) from None


def _clips(source: str, key: str, clips: list[Any], base_dir: str) -> list[str]:
    """A speech item's clips (without them it plays the bundled set): a non-empty array of
    paths or bundled clip names. A relative path is looked up beside the scenario file, then among the bundled
    clips (``callsim.fixtures.audio``); a found local file is kept as an absolute path, a bundled
    clip by its name. Each clip must be a readable WAV of at most 60 s holding sound."""
    from .audio import SPEECH_CLIPS, _resolve_clip, active_level_dbm0, load_wav
    from .wavsource import WavInputError

    if not clips:
        raise ScenarioError(source, key, "must not be empty (leave clips out for the bundled speech)")
    if len(clips) > MAX_SPEECH_CLIPS:
        raise ScenarioError(source, key, f"has {len(clips)} clips; at most {MAX_SPEECH_CLIPS}")
    out = []
    for j, name in enumerate(clips):
        where = f"{key}[{j}]"
        if not isinstance(name, str) or not name:
            raise ScenarioError(source, where, f"must be a file name (a non-empty string), {_got(name)}")
        local = _local_path(base_dir, name)
        if os.path.lexists(local):
            resolved = str(local)
        elif name in SPEECH_CLIPS:
            resolved = name  # bundled: kept by name, so the scenario stays portable
        else:
            raise ScenarioError(source, where, f"clip not found: no {local}, and {name!r} is not a bundled clip "
                                               f"({', '.join(SPEECH_CLIPS)})")
        try:
            level = active_level_dbm0(load_wav(_resolve_clip(resolved)))
        except WavInputError as exc:
            raise ScenarioError(source, where, str(exc)) from None
        if not math.isfinite(level):
            raise ScenarioError(source, where, f"clip {name!r} is silent")
        out.append(resolved)
    return out


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
        return ActionSpec(call, (), _ms(source, key + ".ms", ms))
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
    for name, value in given.items():
        where = f"{key}.{name}" if isinstance(args, Mapping) else f"{key}[{names.index(name)}]"
        if name == "cipher" and isinstance(value, Mapping):
            _cipher(source, where, value)
        elif isinstance(value, (list, Mapping)):
            raise ScenarioError(source, where, f"must be a single value (a string, number, boolean or date); "
                                               f"{_got(value)}" + (" (only cipher takes a table)" if isinstance(value, Mapping) else ""))
    return given


def _cipher(source: str, key: str, table: Mapping[str, Any]) -> None:
    """A ``cipher`` table's keys are ``CIPHER_KEYS`` and its values strings. What the strings
    hold is not checked: the runner builds the ``Cipher`` before the call, so a malformed key is
    a scripted ``CipherError``."""
    _unknown(source, key + ".", table, CIPHER_KEYS)
    for k, v in table.items():
        if not isinstance(v, str):
            raise ScenarioError(source, f"{key}.{k}", f"must be a string (hex digits), {_got(v)}")


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
    return f"got {_toml_type(value)} {safe_repr(value)}"


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

    def tone(self, at_ms: int, duration_ms: int, freqs: list[float], level_dbm0: float,
             phases_deg: list[float] | None = None) -> ScenarioBuilder:
        extra = {} if phases_deg is None else {"phases_deg": list(phases_deg)}
        return self.audio(at_ms, "tone", duration_ms=duration_ms, freqs=list(freqs), level_dbm0=level_dbm0, **extra)

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
