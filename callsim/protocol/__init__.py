"""The recorder wire protocol: any implementation, in any language, behind stdin/stdout.

``docs/protocol.md`` is the protocol; ``schema`` holds a JSON Schema for every message;
``harness`` is the harness's side (``CommandFactory``, a recorder factory whose recorders live
in a child process); ``host`` serves any Python factory over the protocol (``callsim host``);
``wire`` is the pipe with its deadlines; ``errors`` the ``ProtocolError`` a broken connection
raises; ``codec`` the values, arguments, exceptions and audio on the wire.
"""

from __future__ import annotations

from .errors import ProtocolError, failure_of
from .harness import CommandFactory, RemoteRecorder
from .schema import PROTOCOL_VERSION
from .wire import DEFAULT_REPLY_TIMEOUT

__all__ = ["CommandFactory", "DEFAULT_REPLY_TIMEOUT", "PROTOCOL_VERSION", "ProtocolError", "RemoteRecorder", "failure_of"]
