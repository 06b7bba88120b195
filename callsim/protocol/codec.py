"""Python values to and from the protocol's JSON (``docs/protocol.md``, "Values").

Shared by both sides: the harness encodes the application's arguments and decodes what an
implementation returns or raises; the Python host does the reverse. Audio is base64 of 16-bit
little-endian PCM at 8 kHz, 160 samples per 20 ms frame.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import math
from enum import Enum
from typing import Any

import numpy as np

from callsim.contract import (
    ArgumentError,
    CallState,
    Cause,
    Cipher,
    Deadlock,
    Error,
    Hangup,
    InvalidNameError,
    SimulationLimit,
    State,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
)

__all__ = [
    "encode_audio", "decode_audio", "decode_bytes", "encode_arg", "decode_arg", "encode_value", "decode_value",
    "encode_exception", "rebuild_exception", "Opaque",
]

_LE16 = np.dtype("<i2")


def encode_audio(samples: np.ndarray) -> str:
    """Base64 of 16-bit little-endian PCM."""
    return base64.b64encode(np.ascontiguousarray(samples, dtype=_LE16).tobytes()).decode("ascii")


def decode_bytes(text: str) -> bytes:
    """The bytes of a base64 payload (``ValueError`` when it is not base64)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64: {exc}") from None


def decode_audio(text: str, n_samples: int | None = None) -> np.ndarray:
    """The int16 samples of a base64 payload (``ValueError`` on a bad payload or length)."""
    raw = decode_bytes(text)
    if len(raw) % 2 or (n_samples is not None and len(raw) != 2 * n_samples):
        want = f"{2 * n_samples} bytes" if n_samples is not None else "an even number of bytes"
        raise ValueError(f"audio payload of {len(raw)} bytes, expected {want}")
    return np.frombuffer(raw, dtype=_LE16).astype(np.int16)


# -- arguments (harness -> implementation) -------------------------------------------------------
def encode_arg(value: Any) -> Any:
    """An application's argument as JSON: scalars as themselves, non-finite floats and a
    ``Cipher`` tagged, anything else by its ``repr`` (the implementation rejects it)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, Cipher):
        return {"cipher": {"key": value.key.hex(), "iv": value.iv.hex()}}
    return {"repr": repr(value)[:1000]}


def decode_arg(value: Any) -> Any:
    """The Python value ``encode_arg`` made (a ``Cipher`` rebuilt; an opaque object for a repr)."""
    if isinstance(value, dict):
        if "float" in value:
            return float(value["float"])
        if "cipher" in value:
            c = value["cipher"]
            return Cipher(c["key"], c["iv"])
        return Opaque(str(value.get("repr", "")))
    return value


class Opaque:
    """A value known only by its ``repr`` (an argument or return value that has no JSON form)."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


# -- return values (implementation -> harness) -----------------------------------------------------
_OTHER_ENUMS: dict[str, Enum] = {}


def encode_value(value: Any, rec: Any = None) -> Any:
    """A returned value as JSON: members of the recorder's ``Cause``/``State`` by name (by
    identity, as the vendor's examples compare them), scalars as themselves, another enum
    member by name, anything else by ``repr``."""
    for attr, key, names in (("Cause", "cause", Cause.__members__), ("State", "state", State.__members__)):
        try:
            members = list(getattr(rec, attr))
        except Exception:  # noqa: BLE001 - a recorder without a usable enum has no members
            members = []
        if any(value is m for m in members) and getattr(value, "name", None) in names:
            return {key: value.name}
    if value is None or isinstance(value, (bool, int, str)):
        return value if not isinstance(value, str) else value[:10_000]
    if isinstance(value, float):
        return value if math.isfinite(value) else {"repr": repr(value)}
    if isinstance(value, Enum):
        return {"enum": str(value.name)} if str(value.name).isidentifier() else {"repr": repr(value)[:10_000]}
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ is shown as its type
        text = f"<{type(value).__name__}>"
    return {"repr": text[:10_000]}


def decode_value(value: Any) -> Any:
    """The Python value a JSON return value stands for: ``Cause``/``State`` members of the
    contract, a member of a stand-in enum for another enum, ``Opaque`` for a repr."""
    if not isinstance(value, dict):
        return value
    if "cause" in value:
        return Cause[value["cause"]]
    if "state" in value:
        return State[value["state"]]
    if "enum" in value:
        name = value["enum"]
        if name not in _OTHER_ENUMS:
            other: Any = Enum("OtherEnum", [name])  # type: ignore[misc]
            _OTHER_ENUMS[name] = other[name]
        return _OTHER_ENUMS[name]
    return Opaque(value.get("repr", ""))


# -- exceptions ------------------------------------------------------------------------------------
_KINDS: tuple[tuple[str, type[BaseException]], ...] = (
    ("Hangup", Hangup), ("ArgumentError", ArgumentError), ("Error", Error), ("Deadlock", Deadlock),
    ("SimulationLimit", SimulationLimit), ("StoreNotFoundError", StoreNotFoundError),
    ("StoreFullError", StoreFullError), ("StoreError", StoreError), ("InvalidNameError", InvalidNameError),
)
_BY_KIND = dict(_KINDS)


def encode_exception(exc: BaseException) -> dict[str, Any]:
    """``exception`` (class name), ``kind`` (which contract exception it is) and ``message``."""
    kind = next((k for k, cls in _KINDS if isinstance(exc, cls)), None)
    if kind is None:
        kind = "Exception" if isinstance(exc, Exception) else "BaseException"
    name = type(exc).__name__
    if not (name.isidentifier() and name.isascii() and len(name) <= 100):
        name = kind
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ is shown as its type
        message = f"<{name}>"
    out: dict[str, Any] = {"exception": name, "kind": kind, "message": message[:10_000]}
    for attr in ("parameter", "rule"):
        v = getattr(exc, attr, None)
        if isinstance(v, str):
            out[attr] = v[:100]
    return out


_CLASSES: dict[tuple[str, str], type[BaseException]] = {}


def _class(name: str, kind: str) -> type[BaseException]:
    """The class to raise for (``name``, ``kind``): the contract's or a builtin one when the
    name is its own, else a subclass named ``name`` of the kind's class (cached)."""
    base: type[BaseException] = _BY_KIND.get(kind) or (Exception if kind == "Exception" else BaseException)
    if base.__name__ == name:
        return base
    builtin = getattr(builtins, name, None)
    if kind == "Exception" and isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin
    key = (name, kind)
    if key not in _CLASSES:
        _CLASSES[key] = type(name, (base,), {"__module__": "callsim.protocol.remote"})
    return _CLASSES[key]


def rebuild_exception(d: dict[str, Any]) -> BaseException:
    """An exception of the class ``_class`` picks whose ``str`` is the message sent; never a
    real ``SystemExit``/``KeyboardInterrupt`` (a stand-in of the same name)."""
    cls = _class(str(d["exception"]), str(d["kind"]))
    exc = cls.__new__(cls)
    BaseException.__init__(exc, str(d.get("message", "")))
    for attr in ("parameter", "rule"):
        if attr in d:
            try:
                setattr(exc, attr, d[attr])
            except AttributeError:
                pass
    if isinstance(exc, ArgumentError):
        exc.value = None
        exc.reason = str(d.get("message", ""))
        if not hasattr(exc, "parameter"):
            exc.parameter = ""
    return exc


def call_state(value: str) -> CallState:
    return CallState(value)
