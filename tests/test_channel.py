"""The call channel: 14 call states, scripted changes, the FileRecorder property built by a
factory, out-of-band DTMF events, and the lock-step worker for third-party recorders."""

from __future__ import annotations

import pytest

import recorder
from recorder import FileRecorder
from simulator import CallChannel, CallState, Clock, Deadlock


def test_fourteen_call_states():
    assert len(CallState) == 14
    assert {"WAITING", "CALL_INCOMING", "RING_INCOMING", "ANSWERING", "ANSWERED", "CALL_OUTGOING", "RING_OUTGOING",
            "HOLDING", "ON_HOLD", "TRANSFERRING", "TRANSFERRED", "RECONNECTING", "ERROR", "IDLE"} == {s.name for s in CallState}


def test_scripted_changes_happen_at_their_tick_and_are_logged():
    ch = CallChannel(Clock(), recorder_factory=FileRecorder)
    seen = []
    ch.on_state_change(lambda old, new: seen.append((ch.clock.now, old.name, new.name)))
    ch.schedule_state(800, CallState.ON_HOLD)
    ch.schedule_state(1600, CallState.ANSWERED)
    ch.schedule_state(2400, CallState.IDLE)
    ch.clock.sleep(3000)
    assert seen == [(800, "ANSWERED", "ON_HOLD"), (1600, "ON_HOLD", "ANSWERED"), (2400, "ANSWERED", "IDLE")]
    assert [e["new"] for e in ch.log.of_kind("call-state")] == ["ON_HOLD", "ANSWERED", "IDLE"]


def test_file_recorder_property_uses_the_factory_once():
    built = []

    def factory(channel):
        built.append(channel)
        return recorder.FileRecorder(channel)

    ch = CallChannel(Clock(), recorder_factory=factory)
    assert ch.FileRecorder is ch.FileRecorder
    assert built == [ch]
    assert ch.FileRecorder.Cause.SILENCE.name == "SILENCE"


def test_no_factory_no_recorder():
    """The simulator knows no implementation: a channel built without a factory has no recorder,
    and says how to get one (the reference is the default only at the program's edge)."""
    from simulator.channel import NoRecorderFactory

    with pytest.raises(NoRecorderFactory, match="recorder_factory"):
        _ = CallChannel(Clock()).FileRecorder


def test_the_composition_root_picks_the_reference():
    from callsim.wiring import default_factory, resolve_factory

    assert default_factory() is recorder.FileRecorder
    assert resolve_factory(None) is recorder.FileRecorder
    assert resolve_factory("") is recorder.FileRecorder


def test_out_of_band_dtmf_reaches_listeners_at_onset():
    ch = CallChannel(Clock(), recorder_factory=FileRecorder)
    got = []
    ch.on_dtmf(lambda d, onset: got.append((d, onset, ch.clock.now)))
    ch.schedule_dtmf(1234, "#")
    ch.clock.sleep(2000)
    assert got == [("#", 1234, 1234)]


def test_lock_step_worker_runs_deterministically_on_virtual_time():
    clock = Clock()
    ch = CallChannel(clock, recorder_factory=FileRecorder)
    trace = []

    def worker_a():
        for i in range(3):
            trace.append(("a", clock.now, i))
            ta.wait(100)

    def worker_b():
        for i in range(3):
            trace.append(("b", clock.now, i))
            tb.wait(150)

    ta = ch.spawn(worker_a, name="a")
    tb = ch.spawn(worker_b, name="b")
    ta.join()
    tb.join()
    assert trace == [("a", 0, 0), ("b", 0, 0), ("a", 100, 1), ("b", 150, 1), ("a", 200, 2), ("b", 300, 2)]


def test_lock_step_worker_error_is_reraised():
    ch = CallChannel(Clock(), recorder_factory=FileRecorder)

    def boom():
        raise RuntimeError("worker failed")

    t = ch.spawn(boom)
    with pytest.raises(RuntimeError, match="worker failed"):
        t.join()


def test_render_before_call_start_is_silence():
    ch = CallChannel(Clock(), recorder_factory=FileRecorder)
    x = ch.render(-160, 160)
    assert len(x) == 320 and not x.any()


def test_waiting_on_nothing_is_a_deadlock():
    ch = CallChannel(Clock(), recorder_factory=FileRecorder)
    with pytest.raises(Deadlock):
        ch.clock.run_until(lambda: False)
