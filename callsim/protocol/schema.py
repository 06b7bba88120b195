"""The JSON Schema of every message of the recorder wire protocol (``docs/protocol.md``).

``IMPLEMENTATION_MESSAGES`` are what an implementation may send (replies to the harness's
requests, its own requests, the ``log`` notification): the harness validates every one of them
with ``validate_incoming`` before acting on it. ``HARNESS_MESSAGES`` are what the harness
sends; the tests validate the harness's own output against them, and an implementation may
use them to check what it receives. Each message is a JSON object with a ``type``; the schema
is picked by ``type`` and checked with a compiled ``jsonschema`` validator (Draft 2020-12).

Base64 payloads (``audio``, ``data``) are checked by decoding them (``b64decode``), not by a
pattern: a regular expression over a 200 kB string costs more than the decode itself.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from callsim.contract import FORMATS, RATES, CallState, Cause, State

__all__ = [
    "PROTOCOL_VERSION",
    "HARNESS_MESSAGES",
    "IMPLEMENTATION_MESSAGES",
    "REPLY_TYPES",
    "EXCEPTION_KINDS",
    "SchemaViolation",
    "validate_incoming",
    "validate_outgoing",
    "schema_document",
]

#: The protocol version this harness speaks (the ``protocol`` of ``hello``).
PROTOCOL_VERSION = 1

#: Which reply types answer each harness request.
REPLY_TYPES: dict[str, tuple[str, ...]] = {
    "hello": ("hello",),
    "open": ("ok", "raise"),
    "invoke": ("return", "raise"),
    "scan": ("scanned", "raise"),
    "commit": ("ok", "raise"),
    "event": ("ok", "raise"),
    "close": ("ok",),
}

#: What an exception is, for the side that re-raises it (see docs/protocol.md, "Exceptions").
EXCEPTION_KINDS = ("Hangup", "Error", "ArgumentError", "Deadlock", "SimulationLimit", "StoreError",
                   "StoreFullError", "StoreNotFoundError", "InvalidNameError", "Exception", "BaseException")

_ID = {"type": "integer", "minimum": 0, "maximum": 2**53}
_TICK = {"type": "integer", "minimum": 0, "maximum": 2**53}
_B64 = {"type": "string"}
_NAME = {"type": "string", "maxLength": 10_000}
_TEXT = {"type": "string", "maxLength": 10_000}
_IDENT = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.]{0,99}$"}
_PRIORITY = {"enum": ["CALL", "DTMF", "JOB", "APP"]}
_CALL_STATE = {"enum": [s.value for s in CallState]}

def _obj(props: dict[str, Any], required: tuple[str, ...] | None = None, *, extra: bool = False) -> dict[str, Any]:
    """An object schema with exactly these properties (all required unless ``required`` says)."""
    return {"type": "object", "properties": props,
            "required": list(props if required is None else required), "additionalProperties": extra}


#: A value an API call returns (docs/protocol.md, "Values").
_VALUE = {
    "anyOf": [
        {"type": ["null", "boolean", "integer", "number"]},
        {"type": "string", "maxLength": 10_000},
        _obj({"cause": {"enum": [c.name for c in Cause]}}),
        _obj({"state": {"enum": [s.name for s in State]}}),
        _obj({"enum": _IDENT}),
        _obj({"repr": _TEXT}),
    ]
}

_EXC = {"exception": _IDENT, "kind": {"enum": list(EXCEPTION_KINDS)}, "message": _TEXT,
        "parameter": {"type": "string", "maxLength": 100}, "rule": {"type": "string", "maxLength": 100}}
_EXC_REQUIRED = ("exception", "kind", "message")


def _reply(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return _obj({"type": {"const": ""}, "re": _ID, **props}, ("type", "re", *required))


def _request(props: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    req = tuple(props) if required is None else required
    return _obj({"type": {"const": ""}, "id": _ID, **props}, ("type", "id", *req))


_CAPS = _obj({
    "formats": {"type": "array", "items": {"enum": list(FORMATS)}, "uniqueItems": True},
    "rates": {"type": "array", "items": {"enum": list(RATES)}, "uniqueItems": True},
    "cipher": {"type": "boolean"},
    "inband_dtmf": {"type": "boolean"},
    "out_of_band_dtmf": {"type": "boolean"},
}, ())

#: Every message an implementation may send, by ``type``.
IMPLEMENTATION_MESSAGES: dict[str, dict[str, Any]] = {
    # replies
    "hello": _reply({"protocol": {"type": "integer"},
                     "implementation": _obj({"name": {"type": "string", "minLength": 1, "maxLength": 200},
                                             "version": {"type": "string", "maxLength": 100}}, ("name",)),
                     "capabilities": _CAPS}, ("protocol", "implementation")),
    "ok": _reply({"wake": {"type": "boolean"}}),
    "scanned": _reply({"stop": {"type": ["integer", "null"], "minimum": 0}, "wake": {"type": "boolean"}}, ("stop",)),
    "return": _reply({"value": _VALUE}, ("value",)),
    "raise": _reply({**_EXC, "wake": {"type": "boolean"}}, _EXC_REQUIRED),
    # requests
    "schedule": _request({"call": _ID, "at": _TICK, "priority": _PRIORITY, "label": {"type": "string", "maxLength": 200}},
                         ("call", "at", "priority")),
    "cancel": _request({"timer": _ID}),
    "sink_add": _request({"call": _ID, "first_tick": {**_TICK, "multipleOf": 160}, "finish_alone": {"type": "boolean"}}),
    "sink_update": _request({"sink": _ID, "finish_alone": {"type": "boolean"}}),
    "sink_remove": _request({"sink": _ID}),
    "render": _request({"call": _ID, "start": {"type": "integer", "minimum": -(2**53), "maximum": 2**53}, "end": _TICK}),
    "wait": _request({"call": _ID, "what": {"type": "string", "maxLength": 200}}, ("call",)),
    "store_open": _request({"call": _ID, "name": _NAME}),
    "store_write": _request({"writer": _ID, "data": _B64}),
    "store_patch": _request({"writer": _ID, "offset": _TICK, "data": _B64}),
    "store_tell": _request({"writer": _ID}),
    "store_commit": _request({"writer": _ID}),
    "store_abort": _request({"writer": _ID}),
    "store_read": _request({"call": _ID, "name": _NAME}),
    "store_exists": _request({"call": _ID, "name": _NAME}),
    "store_delete": _request({"call": _ID, "name": _NAME}),
    # notification (no reply)
    "log": _obj({"type": {"const": "log"}, "call": _ID, "kind": {"type": "string", "minLength": 1, "maxLength": 100},
                 "fields": {"type": "object", "maxProperties": 50,
                            "additionalProperties": {"type": ["null", "boolean", "integer", "number", "string"],
                                                     "maxLength": 1000}}},
                ("type", "call", "kind")),
}

_ARG = {"anyOf": [
    {"type": ["null", "boolean", "integer", "number", "string"]},
    _obj({"float": {"enum": ["nan", "inf", "-inf"]}}),
    _obj({"cipher": _obj({"key": {"type": "string"}, "iv": {"type": "string"}})}),
    _obj({"repr": {"type": "string"}}),
]}
_NOW = {"now": _TICK}

#: Every message the harness sends, by ``type`` (replies carry ``re``; requests ``id`` and ``now``).
HARNESS_MESSAGES: dict[str, dict[str, Any]] = {
    "hello": _request({"protocol": {"const": PROTOCOL_VERSION}, "harness": {"type": "string"}}),
    "open": _request({**_NOW, "call": _ID, "call_state": _CALL_STATE}),
    "invoke": _request({**_NOW, "call": _ID, "method": {"type": "string"}, "call_state": _CALL_STATE,
                        "args": {"type": "object", "additionalProperties": _ARG}}),
    "scan": _request({**_NOW, "call": _ID, "sink": _ID, "start": _TICK, "n": {"type": "integer", "minimum": 1},
                      "audio": _B64}),
    "commit": _request({**_NOW, "call": _ID, "sink": _ID, "start": _TICK, "n": {"type": "integer", "minimum": 0}}),
    "event": {"anyOf": [
        _request({**_NOW, "call": _ID, "event": {"const": "state"}, "old": _CALL_STATE, "new": _CALL_STATE}),
        _request({**_NOW, "call": _ID, "event": {"const": "dtmf"}, "digit": {"type": "string"}, "onset": _TICK}),
        _request({**_NOW, "call": _ID, "event": {"const": "timer"}, "timer": _ID}),
    ]},
    "close": _request({**_NOW, "call": _ID}),
    "ok": _obj({"type": {"const": "ok"}, "re": _ID, **_NOW, "value": {}}, ("type", "re", "now")),
    "error": _obj({"type": {"const": "error"}, "re": _ID, **_NOW, **_EXC}, ("type", "re", "now", *_EXC_REQUIRED)),
}


def _fix_consts(table: dict[str, dict[str, Any]]) -> None:
    """Each schema's ``type`` property is the constant of its key."""
    for name, schema in table.items():
        for s in schema.get("anyOf", [schema]):
            if s.get("properties", {}).get("type") == {"const": ""}:
                s["properties"]["type"] = {"const": name}


_fix_consts(IMPLEMENTATION_MESSAGES)
_fix_consts(HARNESS_MESSAGES)

_VALIDATORS: dict[int, dict[str, Draft202012Validator]] = {}


def _validators(table: dict[str, dict[str, Any]]) -> dict[str, Draft202012Validator]:
    """The compiled validators of a table, built on first use (not at import: the suite imports
    this module whether or not a recorder process is used). The schemas themselves are checked
    against the metaschema by tests/test_protocol.py."""
    key = id(table)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = {k: Draft202012Validator(v) for k, v in table.items()}
    return _VALIDATORS[key]


class SchemaViolation(ValueError):
    """A message that is not one of the protocol's (the message says which rule it breaks)."""


def _check(schemas: dict[str, dict[str, Any]], msg: Any, who: str) -> dict[str, Any]:
    table = _validators(schemas)
    if not isinstance(msg, dict):
        raise SchemaViolation(f"a message must be a JSON object, not {type(msg).__name__}")
    kind = msg.get("type")
    validator = table.get(kind) if isinstance(kind, str) else None
    if validator is None:
        raise SchemaViolation(f"{kind!r} is not a message type {who} may send")
    err = next(iter(validator.iter_errors(msg)), None)
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(the message)"
        raise SchemaViolation(f"{kind} message: {where}: {err.message[:300]}")
    return msg


def validate_incoming(msg: Any) -> dict[str, Any]:
    """``msg`` if it is a message an implementation may send, else ``SchemaViolation``."""
    return _check(IMPLEMENTATION_MESSAGES, msg, "an implementation")


def validate_outgoing(msg: Any) -> dict[str, Any]:
    """``msg`` if it is a message the harness may send, else ``SchemaViolation`` (for tests)."""
    return _check(HARNESS_MESSAGES, msg, "the harness")



def schema_document() -> dict[str, Any]:
    """Every schema as one JSON document (``python -m callsim.protocol`` prints it)."""
    return {"protocol": PROTOCOL_VERSION, "implementation_messages": IMPLEMENTATION_MESSAGES,
            "harness_messages": HARNESS_MESSAGES}
