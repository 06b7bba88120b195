"""The event log: every scripted event, state change, API call and return, with virtual time.

Entries are plain dicts so they serialise to JSON as they are: ``t`` (ticks, samples at 8 kHz),
``ms`` (the same instant in milliseconds, for people), ``kind`` and kind-specific fields. The
log is what conformance checks and timeline plots read; it never holds key material.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from callsim.contract.units import ticks_to_ms

__all__ = ["EventLog"]


class EventLog:
    """An append-only list of timestamped events."""

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        self._entries: list[dict[str, Any]] = []

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        t = self._now()
        entry: dict[str, Any] = {"t": t, "ms": ticks_to_ms(t), "kind": kind}
        entry.update(fields)
        self._entries.append(entry)
        return entry

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in self._entries if e["kind"] in kinds]

    def to_list(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._entries]

    def to_json(self) -> str:
        return json.dumps(self._entries, sort_keys=True, separators=(",", ":"))
