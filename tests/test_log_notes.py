"""A log entry is not an event: scripted instants that only record (the start of an audio item,
an in-band digit's onset) go into the event log as clock notes, not as clock events.

Before, each was a ``CALL`` event, and every event cut media delivery into a new block, so a
long call with an audio item every few seconds was delivered in blocks of a few seconds. The
reference here is that old behaviour (``EventsClock``: a note scheduled as an event): the log,
the step results and every recorded byte must be what it gave, with fewer blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from callsim.fixtures import scenario_paths

from recorder import FileRecorder
from simulator.clock import Clock, MediaSink, MediaSource, Priority, ScheduledEvent
from simulator.runner import RunResult, run_scenario
from simulator.scenario import Scenario, ScenarioBuilder, load_scenario
from tests.test_determinism import generate


class EventsClock(Clock):
    """The clock as it was: a note is an ordinary event (it cuts media blocks)."""

    def note(
        self, at: int, priority: Priority | int, callback: Callable[[], None], label: str = ""
    ) -> ScheduledEvent:
        return self.schedule(at, priority, callback, label)


class BlockCountingClock(Clock):
    """A clock that counts the media blocks it delivers."""

    blocks = 0

    def _deliver_media(self, target: int, sinks: list[tuple[MediaSource, MediaSink]]) -> bool:
        delivered = super()._deliver_media(target, sinks)
        self.blocks += delivered
        return delivered


class EventsBlockCountingClock(BlockCountingClock, EventsClock):
    """The old clock, counting its blocks."""


def observable(result: RunResult) -> dict[str, Any]:
    return {"log": result.log, "run": result.to_json(), "files": result.contents}


@pytest.mark.parametrize("path", scenario_paths(), ids=lambda p: p.stem)
def test_library_scenarios_log_and_record_as_with_events(path: Any) -> None:
    s = load_scenario(path)
    assert observable(run_scenario(s, FileRecorder)) == observable(
        run_scenario(s, FileRecorder, clock=EventsClock())
    )


def test_generated_scenarios_log_and_record_as_with_events() -> None:
    """Scenarios of every kind of audio, digit, hangup and action script. A store fault plan is
    left out: its Nth write is the Nth block a recorder writes, so it moves with the blocks."""
    checked = 0
    for i in range(150):
        s = generate(i)
        if s.store.fail_write_n is not None or s.store.capacity_bytes is not None:
            continue
        assert observable(run_scenario(s, FileRecorder)) == observable(run_scenario(s, FileRecorder, clock=EventsClock())), i
        checked += 1
    assert checked > 100


def many_items(seconds: int) -> Scenario:
    b = ScenarioBuilder(seed=7)
    for at in range(0, seconds * 1000, 3000):
        b.noise(at, 2000, level_dbm0=-30)
    return b.record(filename="m.wav", file_format="alaw", seconds_timeout=seconds,
                    milliseconds_max_silence=5000, barge_in=True).build()


def test_audio_items_do_not_cut_media_blocks() -> None:
    """120 s with an item every 3 s: 10 s blocks (12 and the last partial one), not 3 s ones."""
    s = many_items(120)
    clock = BlockCountingClock()
    result = run_scenario(s, FileRecorder, clock=clock)
    assert result.final["cause"] == "TIMEOUT"
    assert len([e for e in result.log if e["kind"] == "audio-start"]) == 40
    assert clock.blocks <= 13
    old = EventsBlockCountingClock()
    assert observable(run_scenario(s, FileRecorder, clock=old)) == observable(result)
    assert old.blocks >= 40
