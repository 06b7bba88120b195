"""One store builder: ``callsim run``, ``callsim run --check``, the conformance suite and plot
all run a scenario on the store ``simulator.runner.build_store`` makes from it.

Before, ``run --check`` graded a run on a store passed in from outside, which the runner did
not configure: the eventual-consistency delay was 0 and store events were stamped at tick 0 and
missing from the event log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from callsim.fixtures import scenario_path

import conformance.grading as grading
import simulator.runner as runner
from callsim.cli import main
from simulator.clock import Clock
from simulator.eventlog import EventLog
from simulator.scenario import load_scenario
from simulator.store import MediaStore, StoreWrite

SCENARIO = scenario_path("store-eventual-consistency.toml")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[MediaStore]:
    """Every store build_store makes while a test runs."""
    stores: list[MediaStore] = []
    real = runner.build_store

    def spy(*args: Any, **kwargs: Any) -> MediaStore:
        store = real(*args, **kwargs)
        stores.append(store)
        return store

    monkeypatch.setattr(runner, "build_store", spy)
    return stores


def test_run_check_and_run_build_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[MediaStore], capsys: Any
) -> None:
    graded: list[runner.RunResult] = []
    real = grading.run_scenario

    def keep(*args: Any, **kwargs: Any) -> runner.RunResult:
        result = real(*args, **kwargs)
        graded.append(result)
        return result

    monkeypatch.setattr(grading, "run_scenario", keep)
    assert main(["run", str(SCENARIO), "--check"]) == 0
    log_file = tmp_path / "log.json"
    assert main(["run", str(SCENARIO), "--json", "--log", str(log_file)]) == 0
    capsys.readouterr()
    assert len(graded) == 1
    log = json.loads(log_file.read_text())
    assert graded[0].log == log
    store_events = [(e["op"], e["t"]) for e in log if e["kind"] == "store"]
    assert [op for op, _ in store_events] == ["open", "commit"] and store_events[1][1] > 0
    check_store, run_store = built
    assert check_store.visibility_delay == run_store.visibility_delay == 5000 * 8
    assert check_store.events == run_store.events


def test_build_store_takes_delay_faults_clock_and_log_from_the_scenario() -> None:
    s = load_scenario(SCENARIO)
    clock = Clock()
    log = EventLog(lambda: clock.now)
    seen: list[StoreWrite] = []
    store = runner.build_store(s, clock, log, name="c1", on_write=seen.append)
    assert store.visibility_delay == 40_000
    clock.sleep(160)
    with store.open_write("x") as w:
        w.write(b"abc")
    assert [(e["t"], e["kind"], e["call"], e["op"]) for e in log] == [
        (160, "store", "c1", "open"), (160, "store", "c1", "commit")]
    assert seen == [StoreWrite("x", "write", 0, b"abc")]
    assert not store.exists("x", observer="other")


def test_build_store_applies_the_scenario_fault_plan() -> None:
    from simulator.scenario import ScenarioBuilder

    s = ScenarioBuilder(seed=1).store(fail_write_n=2, capacity_bytes=1000).build()
    clock = Clock()
    store = runner.build_store(s, clock, EventLog(lambda: clock.now))
    assert (store.faults.fail_write_n, store.faults.capacity_bytes) == (2, 1000)
