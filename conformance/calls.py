"""Simulated calls for an application's own tests: the ``simulated_call`` fixture's machinery.

Most people who use the vendor's recorder API write applications (voicemail, IVR menus) on top
of ``channel.FileRecorder``. ``SimulatedCall`` gives such an application a real call channel,
driven by a scenario (what the caller does: speech, digits, silence, a hangup), with a working
recorder (the reference ``recorder.FileRecorder`` unless the session names another factory),
a media store and a virtual clock: a two-minute call takes milliseconds and runs the same every
time. The pytest plugin (``conformance.plugin``) ships the fixture ``simulated_call``, a
``CallMaker``::

    def test_caller_presses_hash(simulated_call):
        call = simulated_call(simulated_call.builder().speech(0, 3000).dtmf(3500, "#"))
        outcome = my_app.take_message(call.channel)
        assert outcome.cause == "BARGEIN" and "message.wav" in call.files()

A scenario is a ``simulator.ScenarioBuilder``, a built ``simulator.Scenario``, or the path of
a scenario file (``docs/scenario-format.md``); its ``[[actions]]`` are not run (the application
under test is the one that calls the recorder). The application blocks on the recorder or on
``channel.sleep(seconds)``; both advance virtual time only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.runner import build_call, describe_file
from simulator.scenario import Scenario, ScenarioBuilder, load_scenario

__all__ = ["SimulatedCall", "CallMaker"]


class SimulatedCall:
    """One simulated call: ``channel`` for the application, and what a test inspects after."""

    def __init__(self, scenario: Scenario, factory: Any) -> None:
        self.scenario = scenario
        self.channel = build_call(scenario, factory, name=scenario.name or "call")

    @property
    def now_ms(self) -> float:
        """Virtual time since the call began, in milliseconds."""
        return self.channel.clock.now / 8

    def files(self) -> dict[str, bytes]:
        """The committed files of the call's media store, by name."""
        store = self.channel.store
        return {name: store.read(name) for name in store.list()}

    def info(self, name: str) -> dict[str, Any]:
        """A stored file summarised: ``format``, ``rate``, ``data_bytes``, ``duration_ms``,
        ``size``, ``sha256`` (``KeyError`` when no such file was committed)."""
        return describe_file(name, self.files()[name])

    def log(self) -> list[dict[str, Any]]:
        """The call's event log (frames, digits, state changes, store operations)."""
        return self.channel.log.to_list()


class CallMaker:
    """What the ``simulated_call`` fixture hands a test: call it with a scenario."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    @staticmethod
    def builder(seed: int = 0, *, state: str = "ANSWERED") -> ScenarioBuilder:
        """A ``ScenarioBuilder`` (so a test need not import the simulator)."""
        return ScenarioBuilder(seed, state=state)

    def __call__(self, scenario: ScenarioBuilder | Scenario | str | Path | None = None, *,
                 factory: Any = None) -> SimulatedCall:
        """A new call for ``scenario`` (None: an answered call with a silent caller), with the
        session's recorder factory unless ``factory`` names another."""
        if scenario is None:
            scenario = ScenarioBuilder()
        if isinstance(scenario, ScenarioBuilder):
            scenario = scenario.build()
        elif isinstance(scenario, (str, Path)):
            scenario = load_scenario(scenario)
        if not isinstance(scenario, Scenario):
            raise TypeError(f"simulated_call takes a ScenarioBuilder, a Scenario or a scenario file's path, "
                            f"not a {type(scenario).__name__}")
        return SimulatedCall(scenario, factory or self.factory)
