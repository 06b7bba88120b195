"""The recorder wire protocol: any implementation, in any language, behind stdin/stdout.

``docs/protocol.md`` is the protocol; ``schema`` holds a JSON Schema for every message;
``harness`` is the harness's side (``CommandFactory``, a recorder factory whose recorders live
in a child process); ``host`` serves any Python factory over the protocol (``callsim host``);
``wire`` is the pipe with its deadlines; ``errors`` the ``ProtocolError`` a broken connection
raises; ``codec`` the values, arguments, exceptions and audio on the wire.

Only ``errors`` is imported with the package (the conformance guard needs it in every run);
the rest, which loads ``jsonschema``, on first use of its names.
"""

from __future__ import annotations

from typing import Any

from .errors import ProtocolError, failure_of

__all__ = ["CommandFactory", "DEFAULT_REPLY_TIMEOUT", "PROTOCOL_VERSION", "ProtocolError", "RemoteRecorder", "failure_of"]

_LAZY = {"CommandFactory": "harness", "RemoteRecorder": "harness", "PROTOCOL_VERSION": "schema",
         "DEFAULT_REPLY_TIMEOUT": "wire"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
