"""The call channel: the one seam through which a recorder reaches the outside world.

A recorder is built by a factory ``factory(channel) -> recorder`` and may use **only** what the
channel it is given offers (this is the contract third-party recorders are written against):

* ``channel.clock``: the virtual clock (``now`` in ticks of 1/8000 s, ``schedule(at, priority,
  callback)``, ``run_until(done)`` to block, ``sleep(ticks)``). A recorder never reads wall time,
  never sleeps for real and starts no free threads; where a third-party recorder needs a worker,
  ``channel.spawn`` runs it in lock step on the virtual clock.
* far-end audio: ``channel.add_media_sink(sink)`` subscribes a ``callsim.contract.MediaSink``,
  which receives blocks of whole 20 ms frames (int16, 160 samples each, 8 kHz) in time order
  (the scan/commit protocol is written out in ``callsim.contract.seams``); ``channel.render(a, b)`` returns the
  far-end audio of any *past* span (a platform keeps a little history, e.g. for a DTMF
  detector's pre-roll);
* out-of-band DTMF: ``channel.on_dtmf(callback)`` calls ``callback(digit, onset_tick)`` for
  RFC 4733-style digit events (no audio);
* call state: ``channel.state()`` (a ``CallState``) and ``channel.on_state_change(callback)``,
  called as ``callback(old, new)`` when a scripted change happens (a hangup sets ``IDLE``);
* the media store: ``channel.store`` (``open_write(name)`` etc., see ``simulator.store``);
* the event log: ``channel.log.add(kind, **fields)`` for optional diagnostics.

``callsim.contract.CallChannelLike`` is this seam as a protocol; ``CallChannel`` implements it.

``channel.FileRecorder`` is built on first use by the recorder factory the channel was given,
so ``channel.FileRecorder.Cause.SILENCE`` works as in the vendor's examples. The simulator
knows no implementation: a channel without a factory has no recorder (the reference is wired
in as the default by ``callsim.wiring``, at the program's edge).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from callsim.contract import CallState, MediaSink, Priority, RecorderFactory, seconds_to_ticks

from .clock import FRAME, Clock

__all__ = [
    "AudioSource",
    "CallChannel",
    "CallState",
    "NoRecorderFactory",
    "RecorderFactory",
    "SILENT_AUDIO",
]


class AudioSource(Protocol):
    """Far-end audio with random access by position (``simulator.audio.Timeline``)."""

    def render(self, a: int, b: int) -> np.ndarray: ...


class _Silence:
    def render(self, a: int, b: int) -> np.ndarray:
        return np.zeros(max(0, b - a), dtype=np.int16)


SILENT_AUDIO: AudioSource = _Silence()

class NoRecorderFactory(LookupError):
    """``channel.FileRecorder`` was used on a channel built without a recorder factory."""


class CallChannel:
    """One simulated call: state, far-end audio, DTMF events, store, recorder property."""

    State = CallState

    def __init__(
        self,
        clock: Clock,
        *,
        audio: AudioSource | None = None,
        store: Any = None,
        log: Any = None,
        state: CallState = CallState.ANSWERED,
        recorder_factory: RecorderFactory | None = None,
        name: str = "call",
    ) -> None:
        from .eventlog import EventLog
        from .store import MediaStore

        self.clock = clock
        self.name = name
        self.audio: AudioSource = audio if audio is not None else SILENT_AUDIO
        self.log = log if log is not None else EventLog(lambda: clock.now)
        if store is None:
            store = MediaStore(clock=lambda: clock.now, on_event=self._store_event)
        self.store = store
        self._state = state
        self._factory = recorder_factory
        self._recorder: Any = None
        self._sinks: list[MediaSink] = []
        self._state_listeners: list[Callable[[CallState, CallState], None]] = []
        self._dtmf_listeners: list[Callable[[str, int], None]] = []
        clock.add_source(self)

    def _store_event(self, tick: int, op: str, name: str) -> None:
        self.log.add("store", call=self.name, op=op, file=name)

    # -- call state -------------------------------------------------------------------
    def state(self) -> CallState:
        """The current call state."""
        return self._state

    def change_state(self, new: CallState, *, reason: str = "scripted") -> None:
        """Move the call to ``new`` now and tell every listener (no-op if unchanged)."""
        old = self._state
        if new is old:
            return
        if old is CallState.IDLE:
            # IDLE means the far end hung up: a call does not come back (scripts may not revive it)
            self.log.add("call-state-ignored", call=self.name, old=old.value, new=new.value, reason=reason)
            return
        self._state = new
        self.log.add("call-state", call=self.name, old=old.value, new=new.value, reason=reason)
        for listener in list(self._state_listeners):
            listener(old, new)

    def schedule_state(self, at: int, new: CallState, *, reason: str = "scripted") -> None:
        """Script a call-state change at tick ``at`` (``IDLE`` is a far-end hangup)."""
        self.clock.schedule(
            at, Priority.CALL, lambda: self.change_state(new, reason=reason), f"call-state {new.value}"
        )

    def hangup(self) -> None:
        """The far end hangs up now."""
        self.change_state(CallState.IDLE, reason="hangup")

    def on_state_change(self, listener: Callable[[CallState, CallState], None]) -> Callable[[], None]:
        """Subscribe to call-state changes; returns a function that unsubscribes."""
        self._state_listeners.append(listener)
        return lambda: self._state_listeners.remove(listener) if listener in self._state_listeners else None

    # -- out-of-band DTMF -------------------------------------------------------------
    def on_dtmf(self, listener: Callable[[str, int], None]) -> Callable[[], None]:
        """Subscribe to out-of-band DTMF events ``listener(digit, onset_tick)``."""
        self._dtmf_listeners.append(listener)
        return lambda: self._dtmf_listeners.remove(listener) if listener in self._dtmf_listeners else None

    def schedule_dtmf(self, at: int, digit: str) -> None:
        """Script an out-of-band (RFC 4733 style) digit event at tick ``at``."""

        def fire() -> None:
            self.log.add("dtmf-oob", call=self.name, digit=digit)
            for listener in list(self._dtmf_listeners):
                listener(digit, at)

        self.clock.schedule(at, Priority.DTMF, fire, f"dtmf {digit}")

    # -- media ------------------------------------------------------------------------
    def add_media_sink(self, sink: MediaSink) -> None:
        """Deliver far-end audio frames to ``sink`` from ``sink.first_tick`` on."""
        if sink.first_tick % FRAME:
            raise ValueError("a media sink must start on a frame boundary")
        self._sinks.append(sink)

    def remove_media_sink(self, sink: MediaSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def media_sinks(self) -> list[MediaSink]:
        return list(self._sinks)

    def render(self, a: int, b: int) -> np.ndarray:
        """Far-end audio for ticks ``[a, b)`` as int16 (digital silence before the call)."""
        if a < 0:
            head = np.zeros(min(-a, b - a), dtype=np.int16)
            return np.concatenate([head, self.render(0, b)]) if b > 0 else head
        return np.asarray(self.audio.render(a, b), dtype=np.int16)

    # -- the recorder property ----------------------------------------------------------
    @property
    def FileRecorder(self) -> Any:  # noqa: N802 - the vendor's property name
        """The channel's file recorder, built by the recorder factory on first use."""
        if self._recorder is None:
            if self._factory is None:
                raise NoRecorderFactory(
                    f"channel {self.name!r} has no recorder factory: pass "
                    "CallChannel(..., recorder_factory=factory) (callsim.wiring.default_factory() "
                    "is the reference recorder)"
                )
            self._recorder = self._factory(self)
        return self._recorder

    # -- the application's own blocking primitives ----------------------------------------
    def sleep(self, seconds: float) -> None:
        """The application waits ``seconds`` of virtual time (rounded to whole ticks)."""
        self.clock.sleep(seconds_to_ticks(seconds))

    def spawn(self, fn: Callable[[], None], *, name: str = "worker") -> LockStepThread:
        """Run ``fn`` in a thread that runs only in lock step with the virtual clock."""
        return LockStepThread(self.clock, fn, name=name)


class LockStepThread:
    """A worker thread for third-party recorders, run in lock step on the virtual clock.

    Only one participant runs at any moment: the worker starts when the clock reaches the
    instant it was spawned at (as an ``APP`` event) and runs until it blocks in
    ``wait(ticks)`` (which hands control back and resumes it when the clock gets there) or
    returns. Hand-offs happen only inside these primitives, so a run is deterministic.
    """

    def __init__(self, clock: Clock, fn: Callable[[], None], *, name: str) -> None:
        self._clock = clock
        self._fn = fn
        self._baton = threading.Condition()
        self._turn = "clock"
        self.done = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        clock.schedule(clock.now, Priority.APP, self._resume, f"spawn {name}")
        self._thread.start()

    def _main(self) -> None:
        self._wait_turn("worker")
        try:
            self._fn()
        except BaseException as exc:  # reported to whoever joins
            self.error = exc
        finally:
            self.done = True
            self._hand("clock")

    def _wait_turn(self, who: str) -> None:
        with self._baton:
            self._baton.wait_for(lambda: self._turn == who)

    def _hand(self, who: str) -> None:
        with self._baton:
            self._turn = who
            self._baton.notify_all()

    def _resume(self) -> None:
        # Runs on the clock's thread: give the worker the baton and wait for it back.
        self._hand("worker")
        self._wait_turn("clock")

    def wait(self, ticks: int) -> None:
        """Called from the worker: block for ``ticks`` of virtual time."""
        self._clock.schedule(self._clock.now + ticks, Priority.APP, self._resume, "worker-wake")
        self._hand("clock")
        self._wait_turn("worker")

    def join(self) -> None:
        """Block (in virtual time) until the worker has returned; re-raise its error."""
        self._clock.run_until(lambda: self.done, what="a lock-step worker to finish")
        self._thread.join()
        if self.error is not None:
            raise self.error
