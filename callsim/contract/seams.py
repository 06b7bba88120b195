"""The seams a recorder is written against: clock, media sink, call channel and media store.

A recorder is built by a factory ``factory(channel) -> recorder`` and reaches the outside world
only through the channel it is given. These protocols are what the simulator promises and what
a recorder may rely on; nothing else (no wall clock, no real sleep, no free threads).

Ordering at one instant ``T`` (the simulator's clock keeps it; tested there):

1. every 20 ms frame that *ends* at ``T`` is delivered to the media sinks first: it holds audio
   from strictly before ``T``, so limits a frame reaches win over events of the same instant;
2. then scheduled events by ``Priority``: ``CALL`` (call-state changes such as a hangup),
   ``DTMF`` (out-of-band digits), ``JOB`` (a recorder's own timers), ``APP`` (the application's
   wake-ups);
3. events of equal time and priority run in the order they were scheduled.

Media sinks: the scan/commit protocol
-------------------------------------
Far-end audio reaches a recorder as blocks of whole frames (``(n, FRAME)`` int16 arrays at
8 kHz). For each block the clock

1. calls ``sink.scan(start, frames)`` on every sink: a *pure* look (no state may change) that
   returns after how many frames the sink would stop (``0 <= k <= n``), or ``None`` when it
   would take them all and keep going;
2. takes ``cut``, the smallest such answer over all sinks (or ``n``), moves time to the end of
   frame ``cut`` (``start + cut * FRAME``), and
3. calls ``sink.commit(start, frames, m)`` where ``m`` is the number of frames of this sink's
   block before ``cut``: the sink consumes exactly those frames, and a sink that stops after
   them removes itself (``channel.remove_media_sink``) inside ``commit``.

So a sink may be asked to commit *fewer* frames than it scanned (another sink stopped first,
or an event is due) and must then not act on what it saw beyond them; it may see the same
audio scanned again in the next block. ``first_tick`` (a multiple of ``FRAME``) is the start of
the first frame the sink wants; ``can_finish_alone()`` says whether audio alone can end the
sink (a silence or size limit), so a wait on it is not a deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .api import CallState

__all__ = [
    "CallChannelLike",
    "ClockLike",
    "Deadlock",
    "MediaSink",
    "Priority",
    "RecorderFactory",
    "ScheduledEventLike",
    "sleep_on",
    "SimulationLimit",
    "StoreError",
    "StoreFullError",
    "StoreLike",
    "StoreNotFoundError",
    "StoreWriterLike",
]


class Priority(IntEnum):
    """Order of scheduled events due at the same instant (lower runs first)."""

    CALL = 10
    DTMF = 20
    JOB = 30
    APP = 40


class Deadlock(RuntimeError):
    """A blocking call waits for something that can never happen (raised at once)."""


class SimulationLimit(RuntimeError):
    """Virtual time passed the clock's limit while a blocking call was still waiting."""


class StoreError(Exception):
    """The store could not do what was asked (I/O failure, injected fault, closed writer).

    Not one of the recorder spec's exceptions: a recorder catches it and ends its job with
    cause ``ERROR``.
    """


class StoreFullError(StoreError):
    """Out of space: the store's capacity (or the disk) would be exceeded."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """No such file for this observer (also a ``FileNotFoundError``)."""


class ScheduledEventLike(Protocol):
    """A pending clock event; ``cancel()`` makes it a no-op."""

    time: int

    def cancel(self) -> None: ...


class ClockLike(Protocol):
    """The virtual clock as a recorder uses it (``channel.clock``)."""

    @property
    def now(self) -> int:
        """Current virtual time in ticks (samples at 8 kHz)."""
        ...

    def schedule(
        self, at: int, priority: Priority | int, callback: Callable[[], None], label: str = ""
    ) -> ScheduledEventLike:
        """Run ``callback`` at tick ``at`` (not before now) with the given priority."""
        ...

    def run_until(self, done: Callable[[], bool], *, what: str = "condition") -> None:
        """Block, advancing virtual time, until ``done()`` holds (``Deadlock`` if it never can)."""
        ...

    def sleep(self, ticks: int) -> None:
        """Block for ``ticks`` of virtual time."""
        ...


def sleep_on(clock: ClockLike, ticks: int) -> None:
    """The application's sleep on any clock: an ``APP`` wake-up ``ticks`` from now, then
    ``run_until`` it has run (so events due at the wake-up instant run first, by priority)."""
    if ticks < 0:
        raise ValueError(f"sleep needs a non-negative duration, got {ticks}")
    woke = [False]

    def wake() -> None:
        woke[0] = True

    clock.schedule(clock.now + ticks, Priority.APP, wake, "sleep-end")
    clock.run_until(lambda: woke[0])


@runtime_checkable
class MediaSink(Protocol):
    """A consumer of far-end audio (see the scan/commit protocol in this module's docstring)."""

    first_tick: int

    def scan(self, start: int, frames: np.ndarray) -> int | None: ...

    def commit(self, start: int, frames: np.ndarray, n: int) -> None: ...

    def can_finish_alone(self) -> bool: ...


class StoreWriterLike(Protocol):
    """One file being written: nothing is visible until ``commit()`` publishes it whole.

    ``write`` appends, ``patch`` overwrites bytes already written (a WAV header's sizes),
    ``abort`` discards everything. Failures raise ``StoreError`` and leave the writer aborted.
    """

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def patch(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...

    def tell(self) -> int: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class StoreLike(Protocol):
    """The media store (``channel.store``): names follow ``callsim.contract.validate_name``."""

    def open_write(self, name: str) -> StoreWriterLike: ...

    def read(self, name: str, *, observer: str = ...) -> bytes: ...

    def exists(self, name: str, *, observer: str = ...) -> bool: ...

    def delete(self, name: str) -> None: ...


class CallChannelLike(Protocol):
    """Everything a recorder may use from the call it is built for.

    * ``clock``: the virtual clock;
    * ``state()`` and ``on_state_change(callback(old, new))``: the call state (``IDLE`` = hung up);
    * ``on_dtmf(callback(digit, onset_tick))``: out-of-band (RFC 4733 style) digits;
    * ``add_media_sink`` / ``remove_media_sink``: far-end audio, by the scan/commit protocol;
    * ``render(a, b)``: far-end audio of a *past* span ``[a, b)`` (int16; silence before the
      call), e.g. for a DTMF detector's pre-roll;
    * ``store``: the media store; ``log.add(kind, **fields)``: optional diagnostics;
    * ``spawn(fn)``: a worker run in lock step with the virtual clock, for recorders built
      around a thread (its ``wait(ticks)`` blocks in virtual time; ``join()`` waits for it).
    """

    clock: ClockLike
    store: StoreLike
    log: Any

    def state(self) -> CallState: ...

    def on_state_change(
        self, listener: Callable[[CallState, CallState], None]
    ) -> Callable[[], None]: ...

    def on_dtmf(self, listener: Callable[[str, int], None]) -> Callable[[], None]: ...

    def add_media_sink(self, sink: MediaSink) -> None: ...

    def remove_media_sink(self, sink: MediaSink) -> None: ...

    def render(self, a: int, b: int) -> np.ndarray: ...

    def spawn(self, fn: Callable[[], None], *, name: str = "worker") -> Any: ...


#: A recorder factory: called once per channel, returns an object with the recorder API.
RecorderFactory = Callable[[Any], Any]
