"""The virtual clock: integer time, event order, the same-instant rule, deadlock detection,
block-wise media delivery exact to the frame, and no wall-clock use in simulator/ or recorder/."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.clock import FRAME, MAX_BLOCK_FRAMES, Clock, Deadlock, Priority, SimulationLimit


class FrameCounter:
    """A media sink that stops after ``stop_after`` frames (or never) and logs what it got."""

    def __init__(self, clock: Clock, first_tick: int, stop_after: int | None, log: list) -> None:
        self.clock = clock
        self.first_tick = first_tick
        self.stop_after = stop_after
        self.got = 0
        self.log = log
        self.ended = False
        self.source: Source | None = None

    def can_finish_alone(self) -> bool:
        return self.stop_after is not None

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        assert start == self.first_tick + self.got * FRAME, "frames must arrive in order, no gaps"
        if self.stop_after is None:
            return None
        left = self.stop_after - self.got
        return left if left <= len(frames) else None

    def commit(self, start: int, frames: np.ndarray, n: int) -> None:
        for i in range(n):
            self.log.append(("frame", start + (i + 1) * FRAME, int(frames[i][0])))
        self.got += n
        if self.stop_after is not None and self.got == self.stop_after:
            self.ended = True
            self.log.append(("end", self.clock.now))
            assert self.source is not None
            self.source.sinks.remove(self)


class Source:
    """A media source whose sample at tick t is t // FRAME (so frames are identifiable)."""

    def __init__(self) -> None:
        self.sinks: list[FrameCounter] = []

    def media_sinks(self) -> list[FrameCounter]:
        return list(self.sinks)

    def render(self, a: int, b: int) -> np.ndarray:
        return (np.arange(a, b) // FRAME).astype(np.int16)


def make(first: int = 0, stop_after: int | None = None) -> tuple[Clock, Source, FrameCounter, list]:
    clock = Clock()
    src = Source()
    clock.add_source(src)
    log: list = []
    sink = FrameCounter(clock, first, stop_after, log)
    sink.source = src
    src.sinks.append(sink)
    return clock, src, sink, log


def test_events_run_in_time_then_priority_then_sequence_order():
    clock = Clock()
    seen = []
    clock.schedule(16, Priority.APP, lambda: seen.append("app@16"))
    clock.schedule(8, Priority.APP, lambda: seen.append("app@8"))
    clock.schedule(16, Priority.CALL, lambda: seen.append("call@16"))
    clock.schedule(16, Priority.DTMF, lambda: seen.append("dtmf@16"))
    clock.schedule(16, Priority.CALL, lambda: seen.append("call2@16"))
    clock.schedule(16, Priority.JOB, lambda: seen.append("job@16"))
    clock.run_until(lambda: len(seen) == 6)
    assert seen == ["app@8", "call@16", "call2@16", "dtmf@16", "job@16", "app@16"]
    assert clock.now == 16


def test_same_instant_rule_frame_ending_now_is_delivered_before_a_hangup_now():
    """A frame ending at T holds audio from before T: it is delivered before events at T."""
    clock, src, sink, log = make()
    clock.schedule(3 * FRAME, Priority.CALL, lambda: log.append(("hangup", clock.now)))
    clock.run_until(lambda: any(e[0] == "hangup" for e in log))
    assert log == [("frame", 160, 0), ("frame", 320, 1), ("frame", 480, 2), ("hangup", 480)]


def test_sub_frame_event_comes_before_the_frame_it_falls_in():
    clock, src, sink, log = make()
    clock.schedule(2 * FRAME + 5, Priority.CALL, lambda: log.append(("hangup", clock.now)))
    clock.run_until(lambda: any(e[0] == "hangup" for e in log))
    assert log[-1] == ("hangup", 325)
    assert [e for e in log if e[0] == "frame"] == [("frame", 160, 0), ("frame", 320, 1)]


def test_sink_stopping_inside_a_block_stops_time_at_that_frame():
    clock, src, sink, log = make(stop_after=7)
    clock.schedule(10_000 * FRAME, Priority.APP, lambda: None)
    clock.run_until(lambda: sink.ended)
    assert clock.now == 7 * FRAME
    assert log[-1] == ("end", 7 * FRAME)


@given(st.integers(1, 3 * MAX_BLOCK_FRAMES), st.lists(st.integers(1, 4000), max_size=6))
def test_stop_frame_is_exact_whatever_the_events_between(stop_after, event_ticks):
    """Block delivery never changes which frame a sink stops at or when."""
    clock, src, sink, log = make(stop_after=stop_after)
    for t in event_ticks:
        clock.schedule(t * 7, Priority.APP, lambda: None)
    clock.run_until(lambda: sink.ended)
    assert clock.now == stop_after * FRAME
    assert [e[2] for e in log if e[0] == "frame"] == [i % 32768 for i in range(stop_after)]


def test_two_sinks_earliest_stop_bounds_the_other():
    clock, src, a, log = make(stop_after=None)
    log_b: list = []
    b = FrameCounter(clock, 0, 5, log_b)
    b.source = src
    src.sinks.append(b)
    seen_at_b_end = []
    clock.run_until(lambda: b.ended)
    seen_at_b_end.append(a.got)
    assert seen_at_b_end == [5], "the other sink must not run ahead of the instant the first stopped"


def test_deadlock_raises_at_once_instead_of_hanging():
    clock = Clock()
    with pytest.raises(Deadlock, match="never end"):
        clock.run_until(lambda: False, what="nothing")


def test_a_sink_that_cannot_end_alone_is_a_deadlock():
    clock, src, sink, log = make(stop_after=None)
    with pytest.raises(Deadlock):
        clock.run_until(lambda: sink.ended)


def test_simulation_limit():
    clock = Clock(limit=10 * FRAME)
    src = Source()
    clock.add_source(src)
    log: list = []
    sink = FrameCounter(clock, 0, 1000, log)
    sink.source = src
    src.sinks.append(sink)
    with pytest.raises(SimulationLimit):
        clock.run_until(lambda: sink.ended)


def test_time_is_integer_and_scheduling_in_the_past_is_refused():
    clock = Clock()
    clock.sleep(123)
    assert clock.now == 123 and isinstance(clock.now, int)
    with pytest.raises(ValueError):
        clock.schedule(100, Priority.APP, lambda: None)
    with pytest.raises(TypeError):
        clock.schedule(200.5, Priority.APP, lambda: None)  # type: ignore[arg-type]


def test_cancelled_events_do_not_run():
    clock = Clock()
    seen = []
    ev = clock.schedule(10, Priority.APP, lambda: seen.append("x"))
    ev.cancel()
    clock.sleep(20)
    assert seen == []


FORBIDDEN = {("time", "sleep"), ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"),
             ("datetime", "now"), ("datetime", "utcnow"), ("time", "time_ns"), ("time", "monotonic_ns")}


@pytest.mark.parametrize("package", ["simulator", "recorder"])
def test_no_wall_clock_or_sleep_in_simulator_and_recorder(package):
    """Virtual time only: no module of the package reads the wall clock or sleeps."""
    root = Path(__file__).resolve().parents[1] / package
    files = sorted(root.rglob("*.py"))
    assert files
    offenders = []
    for f in files:
        tree = ast.parse(f.read_text(), str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in FORBIDDEN:
                    offenders.append(f"{f.name}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
                for alias in node.names:
                    if (node.module, alias.name) in FORBIDDEN or alias.name in ("sleep", "time", "monotonic", "perf_counter"):
                        offenders.append(f"{f.name}:{node.lineno} from {node.module} import {alias.name}")
    assert offenders == []


@given(st.lists(st.integers(1, 2 * MAX_BLOCK_FRAMES), min_size=2, max_size=12))
def test_many_sinks_each_stop_at_their_own_frame(stops):
    """Adaptive blocks: whatever the block sizes become, every sink ends exactly at its frame
    and receives every frame before it in order (FrameCounter asserts no gap)."""
    clock = Clock()
    src = Source()
    clock.add_source(src)
    sinks = []
    for s in stops:
        log: list = []
        sink = FrameCounter(clock, 0, s, log)
        sink.source = src
        src.sinks.append(sink)
        sinks.append((sink, log))
    clock.run_until(lambda: all(k.ended for k, _ in sinks))
    for (sink, log), s in zip(sinks, stops):
        assert sink.got == s
        assert ("end", s * FRAME) in log


class ScanCounter(FrameCounter):
    """A FrameCounter that also counts the blocks it was handed."""

    scans = 0

    def scan(self, start: int, frames: np.ndarray) -> int | None:
        self.scans += 1
        return super().scan(start, frames)


@given(
    st.integers(1, 3 * MAX_BLOCK_FRAMES),
    st.lists(st.tuples(st.integers(0, 4 * MAX_BLOCK_FRAMES * FRAME), st.sampled_from(list(Priority)),
                       st.booleans()), max_size=12),
)
def test_notes_run_where_events_would_without_cutting_blocks(stop_after, items):
    """A note takes the place in the order that the same callback scheduled as an event would,
    but media delivery is not split at it: a sink gets as few blocks as with no note at all."""

    def run(notes_as_events: bool, with_notes: bool = True) -> tuple[list, int]:
        clock = Clock()
        src = Source()
        clock.add_source(src)
        log: list = []
        sink = ScanCounter(clock, 0, stop_after, log)
        sink.source = src
        src.sinks.append(sink)
        for i, (t, prio, is_note) in enumerate(items):
            if is_note and not with_notes:
                continue
            add = clock.schedule if notes_as_events or not is_note else clock.note
            add(t, prio, lambda i=i, c=clock: log.append(("item", i, c.now)))
        clock.run_until(lambda: sink.ended)
        log.append(("returned", clock.now))
        clock.sleep(max([t for t, _, _ in items] + [clock.now]) + 1 - clock.now)
        return [e for e in log if e[0] != "frame"], sink.scans

    as_events, _ = run(notes_as_events=True)
    as_notes, scans = run(notes_as_events=False)
    _, scans_without = run(notes_as_events=False, with_notes=False)
    assert as_notes == as_events
    assert scans == scans_without


def test_a_note_keeps_no_wait_alive_and_never_runs_past_the_end():
    clock = Clock()
    seen = []
    clock.note(100, Priority.CALL, lambda: seen.append(clock.now))
    with pytest.raises(Deadlock):
        clock.run_until(lambda: False, what="nothing")
    assert clock.now == 0 and seen == []
    clock.sleep(100)
    assert seen == [100]


def test_a_note_inside_a_block_runs_at_its_instant_before_the_block_is_committed():
    """Frames ending after the note are committed after it; a sink ending at the frame the
    note falls in ends after it; a note exactly at that frame's end comes after the frame."""
    clock, src, sink, log = make(stop_after=4)
    clock.note(2 * FRAME + 5, Priority.CALL, lambda: log.append(("note", clock.now)))
    clock.note(4 * FRAME, Priority.CALL, lambda: log.append(("at-end", clock.now)))
    clock.run_until(lambda: sink.ended)
    assert [e for e in log if e[0] != "frame"] == [("note", 2 * FRAME + 5), ("end", 4 * FRAME)]
    clock.sleep(0)
    assert log[-1] == ("at-end", 4 * FRAME)


def test_a_note_in_the_past_is_refused():
    clock = Clock()
    clock.sleep(10)
    with pytest.raises(ValueError):
        clock.note(5, Priority.CALL, lambda: None)
