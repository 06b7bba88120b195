"""What goes wrong at the process boundary: ``ProtocolError`` and where a case finds it.

A recorder process that breaks the protocol (a malformed or out-of-order message, no reply in
time, an exit, a crash, a flood) ends its connection: the harness kills the process and raises
``ProtocolError`` naming the ``PROTOCOL-*`` clause broken (``conformance.clauses``), the
offending message (truncated) and the tail of the process's stderr.

It is a ``BaseException``, not an ``Exception``: the runner records an ``Exception`` from an
API call as that call's result, but a broken connection is no behaviour of the recorder to
grade, so it must reach the case's guard (``conformance.guard``) whatever code is between. Code
that catches ``BaseException`` could still swallow it, so the connection also records the
failure against the thread that ran it (``failure_of``): the guard asks after every case, and
a case whose connection failed is graded FAIL on that clause however it ended.
"""

from __future__ import annotations

import threading
import weakref

__all__ = ["ProtocolError", "failure_of", "record_failure", "truncate"]

#: How much of an offending message a finding quotes.
QUOTE_LIMIT = 300


def truncate(text: str | bytes, limit: int = QUOTE_LIMIT) -> str:
    """``text`` (bytes decoded leniently) cut to ``limit`` characters, marked when cut."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[: limit * 4]).decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class ProtocolError(BaseException):
    """The recorder process broke clause ``clause`` of the protocol; the process is gone."""

    def __init__(self, clause: str, reason: str, *, offending: str | None = None, stderr: str = "",
                 command: str = "") -> None:
        self.clause = clause
        self.reason = reason
        self.offending = offending
        self.stderr = stderr
        self.command = command
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [self.reason]
        if self.offending is not None:
            parts.append(f"offending message: {self.offending}")
        if self.stderr:
            parts.append(f"stderr tail: {self.stderr}")
        return "; ".join(parts)

    def evidence(self) -> dict[str, str]:
        ev = {"clause": self.clause, "reason": self.reason, "command": self.command}
        if self.offending is not None:
            ev["offending"] = self.offending
        if self.stderr:
            ev["stderr_tail"] = self.stderr
        return ev


_FAILURES: weakref.WeakKeyDictionary[threading.Thread, ProtocolError] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def record_failure(error: ProtocolError) -> None:
    """Remember the first failure of the current thread's connections."""
    with _LOCK:
        _FAILURES.setdefault(threading.current_thread(), error)


def failure_of(thread: threading.Thread, *, clear: bool = True) -> ProtocolError | None:
    """The first ``ProtocolError`` a connection used by ``thread`` raised, if any."""
    with _LOCK:
        return _FAILURES.pop(thread, None) if clear else _FAILURES.get(thread)
