"""The virtual clock: integer time, an ordered event heap, block-wise media delivery.

This module owns *when* things happen in a simulated call. Time is an ``int`` counting samples
at 8 kHz since the call began (``TICKS_PER_MS`` = 8, one 20 ms frame = ``FRAME`` = 160 ticks);
no float time is ever accumulated. Nothing here reads the wall clock or sleeps.

The units (``FRAME``, ``ms_to_ticks``), ``Priority``, ``Deadlock``, ``SimulationLimit`` and the
``MediaSink`` protocol are the contract's (``callsim.contract``); they are re-exported here.

Ordering rule (tested in ``tests/test_clock.py``): everything due at the same instant ``T``
happens in this order:

1. ``MEDIA``: every 20 ms frame that *ends* at ``T`` is delivered to the media sinks. A frame
   ending at ``T`` holds audio from strictly before ``T``, so it is heard before anything that
   happens at ``T``. Limits a frame reaches (size, silence, an in-band digit) therefore win over
   events of the same instant.
2. Scheduled events by ``Priority``: ``CALL`` (scripted call-state changes such as a hangup),
   then ``DTMF`` (out-of-band digit events), then ``JOB`` (a recorder's own timers such as
   ``seconds_timeout``), then ``APP`` (the application's wake-ups: end of a sleep, end of a
   ``wait_until_finished`` timeout).
3. Events of the same time and priority run in the order they were scheduled (a sequence
   number breaks the tie), so a run is reproducible.

Blocking: a blocking API call calls ``run_until(done)``; the clock advances, delivering frames
and events, until ``done()`` holds. When nothing can ever make ``done()`` true (no pending
event and no media sink that can end by itself) it raises ``Deadlock`` at once instead of
hanging.

Notes (``Clock.note``): what only *records* a scripted instant (an event-log entry for the start
of an audio item or an in-band digit's onset) changes nothing a sink or a wait reads, so it is
not an event: it takes its place in the order above (same time, priority and sequence number
as if it were scheduled), but it neither cuts a media block nor keeps a wait alive. A note due
inside a block runs, at its own instant, just before the block is committed. A sink acts on a
block only at its end (a job that ends there ends at the last committed frame), so the order of
everything recorded stays what a block cut at every note gave; only the size of a recorder's
store writes (one per block) changes, and with it where a store fault plan's Nth write falls.

Speed: between two scheduled events nothing but the audio can change a recording job, so the
clock hands each sink the whole span as one ``(n, 160)`` block. A sink first *scans* the block
(pure: no state change) and says after how many frames it would stop; the clock takes the
earliest such frame over all sinks and then *commits* that many frames to every sink. Every
decision stays exact to the frame while the per-frame Python overhead disappears.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from callsim.contract.seams import Deadlock, MediaSink, Priority, SimulationLimit, sleep_on
from callsim.contract.units import FRAME, TICKS_PER_MS, TICKS_PER_SECOND, ms_to_ticks, ticks_to_ms

__all__ = [
    "FRAME",
    "TICKS_PER_MS",
    "TICKS_PER_SECOND",
    "MAX_BLOCK_FRAMES",
    "DEFAULT_LIMIT",
    "Priority",
    "Deadlock",
    "SimulationLimit",
    "ScheduledEvent",
    "MediaSink",
    "MediaSource",
    "Clock",
    "ms_to_ticks",
    "ticks_to_ms",
]

#: The longest block handed to a sink in one scan (10 s): bounds memory, keeps blocks large.
MAX_BLOCK_FRAMES = 500
#: The default ``Clock.limit``: one blocking call may advance virtual time by at most 8 days,
#: more than the longest wait the API allows (a 7-day ``seconds_timeout``, SD-ARGS) and the
#: longest scenario sleep (7 days, ``simulator.scenario.MAX_SCENARIO_MS``), so no legal script
#: reaches it; a recorder that never ends its job does.
DEFAULT_LIMIT = 8 * 86400 * TICKS_PER_SECOND
#: After a sink ends inside a block, the next blocks start this small and double while no sink
#: ends early: with many calls ending at scattered times, little scanned audio is thrown away.
MIN_BLOCK_FRAMES = 25


@dataclass(order=True)
class ScheduledEvent:
    """One entry of the event heap; ``cancel()`` makes it a no-op."""

    time: int
    priority: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


class MediaSource(Protocol):
    """What the clock needs from a call channel to deliver its audio."""

    def media_sinks(self) -> list[MediaSink]: ...

    def render(self, a: int, b: int) -> np.ndarray: ...


class Clock:
    """Integer virtual clock with an event heap and block-wise media delivery."""

    def __init__(self, *, limit: int | None = DEFAULT_LIMIT) -> None:
        self._now = 0
        self._heap: list[ScheduledEvent] = []
        #: Notes (``note``): ordered like events, run without cutting media or waking waits.
        self._notes: list[ScheduledEvent] = []
        self._seq = itertools.count()
        self._sources: list[MediaSource] = []
        #: Frames ending at or before this tick have been delivered (a multiple of FRAME).
        self._media_done = 0
        self._block_frames = MAX_BLOCK_FRAMES
        self.limit = limit

    # -- time -------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """Current virtual time in ticks (samples at 8 kHz)."""
        return self._now

    def now_ms(self) -> float:
        return ticks_to_ms(self._now)

    # -- scheduling -------------------------------------------------------------------
    def schedule(
        self, at: int, priority: Priority | int, callback: Callable[[], None], label: str = ""
    ) -> ScheduledEvent:
        """Run ``callback`` at tick ``at`` (not before now)."""
        ev = self._make_event(at, priority, callback, label)
        heapq.heappush(self._heap, ev)
        return ev

    def note(
        self, at: int, priority: Priority | int, callback: Callable[[], None], label: str = ""
    ) -> ScheduledEvent:
        """Run ``callback`` at tick ``at`` in event order, without making it an event.

        For callbacks that only record (an event-log entry of a scripted instant) and change
        nothing a media sink, a scheduled event or a wait condition reads. It runs with ``now``
        at ``at``, after the frames ending at or before ``at`` and the events ordered before it
        (by time, priority and scheduling order, shared with ``schedule``), and before anything
        ordered after it. Unlike an event it does not split media delivery into blocks (a
        scenario with an item every few seconds keeps 10 s blocks), and deadlock detection
        ignores it: it can never end a wait. A note still pending when the run stops never runs,
        as an event past the end never does.
        """
        ev = self._make_event(at, priority, callback, label or "note")
        heapq.heappush(self._notes, ev)
        return ev

    def _make_event(
        self, at: int, priority: Priority | int, callback: Callable[[], None], label: str
    ) -> ScheduledEvent:
        if not isinstance(at, int) or isinstance(at, bool):
            raise TypeError(f"event time must be an int tick count, got {at!r}")
        if at < self._now:
            raise ValueError(f"cannot schedule {label or 'an event'} in the past ({at} < {self._now})")
        return ScheduledEvent(at, int(priority), next(self._seq), callback, label)

    def _run_notes(self, before: tuple[int, ...]) -> None:
        """Run the notes ordered before ``before`` (a ``(time, priority, seq)`` key or a prefix).

        Pending notes are never earlier than ``now`` (every advance of time runs the notes
        before it first), so each one moves time forward to its own instant.
        """
        notes = self._notes
        while notes and (notes[0].time, notes[0].priority, notes[0].seq) < before:
            ev = heapq.heappop(notes)
            if ev.cancelled:
                continue
            self._now = ev.time
            ev.callback()

    def add_source(self, source: MediaSource) -> None:
        """Register a call channel whose audio the clock delivers to its sinks."""
        if source not in self._sources:
            self._sources.append(source)

    def _next_event_time(self) -> int | None:
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        return heap[0].time if heap else None

    def _active_sinks(self) -> list[tuple[MediaSource, MediaSink]]:
        return [(src, s) for src in self._sources for s in src.media_sinks()]

    # -- running ----------------------------------------------------------------------
    def sleep(self, ticks: int) -> None:
        """Block the caller for ``ticks`` of virtual time (the application's own sleep)."""
        sleep_on(self, ticks)

    def run_until(self, done: Callable[[], bool], *, what: str = "condition") -> None:
        """Advance virtual time until ``done()`` holds.

        Raises ``Deadlock`` when no pending event and no media sink could ever make it hold,
        and ``SimulationLimit`` when this one call has advanced virtual time by ``limit`` ticks
        (the limit is per blocking call, so a script of many long waits never accumulates
        towards it).
        """
        deadline = None if self.limit is None else self._now + self.limit
        while not done():
            nxt = self._next_event_time()
            sinks = self._active_sinks()
            if nxt is None and not any(s.can_finish_alone() for _, s in sinks):
                raise Deadlock(
                    f"waiting for {what} at t={ticks_to_ms(self._now):g} ms, but no event is "
                    "scheduled and no recording can end by itself: the wait would never end"
                )
            if deadline is not None and self._now >= deadline:
                assert self.limit is not None
                raise SimulationLimit(
                    f"one wait reached the clock's limit of {ticks_to_ms(self.limit) / 1000:g} s of virtual "
                    f"time while waiting for {what}"
                )
            target = nxt if nxt is not None else (deadline if deadline is not None else 0)
            if nxt is None and deadline is None:
                target = self._media_done + MAX_BLOCK_FRAMES * FRAME
            if sinks and self._deliver_media(target, sinks):
                continue  # a sink ended inside the block: re-check the condition at that instant
            if nxt is None:
                continue
            ev = heapq.heappop(self._heap)
            if ev.cancelled:
                continue
            if self._notes:
                self._run_notes((ev.time, ev.priority, ev.seq))
            if ev.time > self._now:
                self._now = ev.time
            if self._media_done + FRAME <= self._now:
                # no sink was active: nothing needed these frames, skip them
                self._media_done = self._now - self._now % FRAME
            ev.callback()

    def _deliver_media(self, target: int, sinks: list[tuple[MediaSource, MediaSink]]) -> bool:
        """Deliver whole frames ending at or before ``target`` (at most one block).

        Returns False when there was nothing to deliver, else True (the caller then re-checks
        its condition: a sink may have ended).
        """
        start = self._media_done
        end = target - target % FRAME
        if end <= start:
            return False
        end = min(end, start + self._block_frames * FRAME)
        n_frames = (end - start) // FRAME
        # Scan: each sink says after how many frames it would stop; nobody changes state yet.
        plans: list[tuple[MediaSink, int, np.ndarray]] = []
        cut = n_frames
        rendered: dict[int, np.ndarray] = {}
        for src, sink in sinks:
            first = max(start, sink.first_tick)
            if first >= end:
                continue
            key = id(src)
            if key not in rendered:
                rendered[key] = np.asarray(src.render(start, end), dtype=np.int16).reshape(-1, FRAME)
            offset = (first - start) // FRAME
            frames = rendered[key][offset:]
            stop = sink.scan(first, frames)
            if stop is not None:
                cut = min(cut, offset + stop)
            plans.append((sink, offset, frames))
        # Block size only changes how much work is redone, never a result (tests/test_clock.py).
        if cut < n_frames and len(plans) > 1:
            self._block_frames = max(MIN_BLOCK_FRAMES, cut)
        else:
            self._block_frames = min(MAX_BLOCK_FRAMES, self._block_frames * 2)
        # Commit: the earliest stop bounds what every sink consumes. Notes due before the end of
        # the last committed frame run first, then time moves there, so whatever a sink does on
        # ending happens after them.
        if self._notes:
            self._run_notes((start + cut * FRAME,))
        self._media_done = start + cut * FRAME
        if self._media_done > self._now:
            self._now = self._media_done
        for sink, offset, frames in plans:
            if offset <= cut:
                sink.commit(start + offset * FRAME, frames, cut - offset)
        # Frames were delivered (or a sink ended before any): the caller re-checks its
        # condition before anything else happens at this instant.
        return True
