"""Text and values an implementation produced, made safe for every place the suite shows them.

An implementation's exception messages, reprs and return values end up in findings, and from
there in JSON, HTML, JUnit XML and on the terminal. ``plain`` turns any value into plain JSON
types (so a finding crosses a pytest-xdist channel and ``json.dumps`` without surprises);
``printable`` makes text harmless to print: control sequences cannot clear a terminal or set its
title, and nothing XML 1.0 forbids or UTF-8 cannot encode is left.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["plain", "plain_str", "printable"]

#: Characters ``printable`` replaces with a visible escape: C0 controls except tab and newline
#: (ESC starts every terminal control sequence, BEL ends OSC titles, NUL and most C0 are
#: forbidden in XML 1.0), DEL, C1 controls (U+009B is a one-character CSI), lone surrogates
#: (not encodable as UTF-8), the non-characters U+FFFE/U+FFFF (forbidden in XML 1.0) and the
#: bidirectional overrides that reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
_MAX_DEPTH = 32


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: Any) -> str:
    """``text`` (any value: ``str()`` of it) with every unsafe character written as ``\\xNN`` or
    ``\\uNNNN``; newlines and tabs are kept."""
    s = text if isinstance(text, str) else _safe_str(text)
    return _UNSAFE.sub(_escape, s)


def plain_str(text: str) -> str:
    """``text`` as a ``str`` that UTF-8 can encode: lone surrogates become ``\\udNNN``."""
    s = str.__str__(text) if isinstance(text, str) else _safe_str(text)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not break the report
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: Any) -> str:
    try:
        return plain_str(repr(value))
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break the report
        return f"<unrepresentable {type(value).__name__}>"


def plain(value: Any, _depth: int = 0) -> Any:
    """``value`` as plain JSON types (dict with str keys, list, str, int, float, bool, None).

    numpy scalars and arrays become numbers and lists, tuples and sets lists (sets sorted),
    enums their value, paths strings, non-finite floats the strings ``"nan"``, ``"inf"``,
    ``"-inf"``; bytes and anything else their ``repr``. Strings keep control characters (JSON
    escapes them) but lose lone surrogates (see ``plain_str``).
    """
    if value is None or type(value) is bool:
        return value
    if _depth > _MAX_DEPTH:
        return _safe_repr(value)
    if isinstance(value, Enum):
        return plain(value.value, _depth + 1)
    if isinstance(value, str):
        return plain_str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        f = float(value)
        return f if math.isfinite(f) else repr(f)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _safe_repr(bytes(value))
    if isinstance(value, PurePath):
        return plain_str(str(value))
    if isinstance(value, Mapping):
        return {_key(k, _depth): plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, _depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v, _depth + 1) for v in value), key=repr)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars (without importing numpy)
    if callable(tolist) and type(value).__module__ == "numpy":
        try:
            return plain(tolist(), _depth + 1)
        except Exception:  # noqa: BLE001
            return _safe_repr(value)
    return _safe_repr(value)


def _key(k: Any, depth: int) -> str:
    p = plain(k, depth + 1)
    return p if isinstance(p, str) else _safe_str(p)
