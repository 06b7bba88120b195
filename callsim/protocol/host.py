"""The recorder's side in Python: any recorder factory served over the wire protocol.

``callsim host MODULE:CALLABLE`` (or ``--isolate`` on the suite's commands, which starts it)
runs ``serve(factory)``: it reads the harness's requests on stdin and answers on stdout, one
JSON line each (``docs/protocol.md``). The factory gets a channel that looks like the
simulator's (``callsim.contract.CallChannelLike``) but forwards everything to the harness: its
clock's ``now`` is the harness's, ``schedule`` and ``run_until`` become ``schedule`` and
``wait`` requests, the store is the harness's store, far-end audio arrives as ``scan`` and
``commit`` requests dispatched to the recorder's media sinks, and state changes and digits
reach its listeners at their ticks. So the recorder runs exactly as in-process; only the
boundary moved.

The recorder's own ``print`` cannot corrupt the conversation: the protocol keeps a private copy
of the original stdout and file descriptor 1 is pointed at stderr before the factory is loaded.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import numpy as np

from callsim.contract import API_METHODS, FRAME, CallState, Priority
from callsim.contract.seams import sleep_on

from .codec import (
    decode_arg,
    decode_audio,
    decode_bytes,
    encode_exception,
    encode_value,
    rebuild_exception,
)
from .schema import PROTOCOL_VERSION

__all__ = ["serve", "protect_stdout", "Host", "capabilities_json"]

_CAP_FIELDS = ("formats", "rates", "cipher", "inband_dtmf", "out_of_band_dtmf")


class _HarnessGone(Exception):
    """stdin ended: the harness closed the conversation."""


def capabilities_json(factory: Any) -> dict[str, Any] | None:
    """The factory's declared capabilities (``callsim_capabilities``, an object or a mapping)
    as the handshake's ``capabilities``; None when it declares none."""
    caps = getattr(factory, "callsim_capabilities", None)
    if caps is None:
        return None
    get = caps.get if isinstance(caps, Mapping) else (lambda k, d=None: getattr(caps, k, d))
    out: dict[str, Any] = {}
    for key in _CAP_FIELDS:
        v = get(key, None)
        if v is not None:
            out[key] = list(v) if key in ("formats", "rates") else bool(v)
    return out


class _Event:
    """A timer scheduled at the harness (``cancel()`` sends ``cancel``)."""

    def __init__(self, host: Host, tid: int, at: int) -> None:
        self._host, self.id, self.time = host, tid, at
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._host.timers.pop(self.id, None)
            self._host.request({"type": "cancel", "timer": self.id})


class _Clock:
    """The harness's clock as the recorder sees it (``callsim.contract.ClockLike``)."""

    def __init__(self, host: Host, call: int) -> None:
        self._host, self._call = host, call

    @property
    def now(self) -> int:
        return self._host.now

    def schedule(self, at: int, priority: Priority | int, callback: Callable[[], None], label: str = "") -> _Event:
        if not isinstance(at, int) or isinstance(at, bool):
            raise TypeError(f"event time must be an int tick count, got {at!r}")
        if at < self._host.now:
            raise ValueError(f"cannot schedule {label or 'an event'} in the past ({at} < {self._host.now})")
        name = Priority(priority).name
        tid = self._host.request({"type": "schedule", "call": self._call, "at": at, "priority": name,
                                  "label": str(label)[:200]})
        ev = _Event(self._host, tid, at)
        self._host.timers[tid] = (callback, ev)
        return ev

    def run_until(self, done: Callable[[], bool], *, what: str = "condition") -> None:
        if done():
            return
        self._host.waits.append(done)
        try:
            self._host.request({"type": "wait", "call": self._call, "what": str(what)[:200]})
        finally:
            self._host.waits.pop()

    def sleep(self, ticks: int) -> None:
        sleep_on(self, ticks)


class _Writer:
    def __init__(self, host: Host, wid: int) -> None:
        self._host, self._id = host, wid

    def _data(self, data: bytes | bytearray | memoryview) -> str:
        import base64

        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        return base64.b64encode(bytes(data)).decode("ascii")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._host.request({"type": "store_write", "writer": self._id, "data": self._data(data)})

    def patch(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._host.request({"type": "store_patch", "writer": self._id, "offset": offset, "data": self._data(data)})

    def tell(self) -> int:
        return int(self._host.request({"type": "store_tell", "writer": self._id}))

    def commit(self) -> None:
        self._host.request({"type": "store_commit", "writer": self._id})

    def abort(self) -> None:
        self._host.request({"type": "store_abort", "writer": self._id})


class _Store:
    def __init__(self, host: Host, call: int) -> None:
        self._host, self._call = host, call

    def open_write(self, name: str) -> _Writer:
        return _Writer(self._host, self._host.request({"type": "store_open", "call": self._call, "name": name}))

    def read(self, name: str, *, observer: str = "self") -> bytes:
        return decode_bytes(self._host.request({"type": "store_read", "call": self._call, "name": name}))

    def exists(self, name: str, *, observer: str = "self") -> bool:
        return bool(self._host.request({"type": "store_exists", "call": self._call, "name": name}))

    def delete(self, name: str) -> None:
        self._host.request({"type": "store_delete", "call": self._call, "name": name})


def _field(v: Any) -> Any:
    """A log field as a JSON scalar (an enum by its value, anything else by ``str``)."""
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, str):
        return v[:1000]
    return str(getattr(v, "value", v))[:1000]


class _Log:
    def __init__(self, host: Host, call: int) -> None:
        self._host, self._call = host, call

    def add(self, kind: str, **fields: Any) -> None:
        shown = {str(k)[:100]: _field(v) for k, v in list(fields.items())[:50]}
        self._host.send({"type": "log", "call": self._call, "kind": str(kind)[:100] or "log", "fields": shown})


class _Channel:
    """What the recorder gets instead of a ``simulator.CallChannel``: the same seam, remote."""

    State = CallState

    def __init__(self, host: Host, call: int, state: CallState) -> None:
        self.name = f"call{call}"
        self._host, self._id = host, call
        self._state = state
        self.clock = _Clock(host, call)
        self.store = _Store(host, call)
        self.log = _Log(host, call)
        self.state_listeners: list[Callable[[CallState, CallState], None]] = []
        self.dtmf_listeners: list[Callable[[str, int], None]] = []
        self.sinks: dict[int, Any] = {}

    def state(self) -> CallState:
        return self._state

    def on_state_change(self, listener: Callable[[CallState, CallState], None]) -> Callable[[], None]:
        self.state_listeners.append(listener)
        return lambda: self.state_listeners.remove(listener) if listener in self.state_listeners else None

    def on_dtmf(self, listener: Callable[[str, int], None]) -> Callable[[], None]:
        self.dtmf_listeners.append(listener)
        return lambda: self.dtmf_listeners.remove(listener) if listener in self.dtmf_listeners else None

    def add_media_sink(self, sink: Any) -> None:
        if sink.first_tick % FRAME:
            raise ValueError("a media sink must start on a frame boundary")
        alone = bool(sink.can_finish_alone())
        sid = self._host.request({"type": "sink_add", "call": self._id, "first_tick": int(sink.first_tick),
                                  "finish_alone": alone})
        self._host.sinks[sid] = [sink, alone, None]
        self.sinks[sid] = sink

    def remove_media_sink(self, sink: Any) -> None:
        sid = next((k for k, v in self.sinks.items() if v is sink), None)
        if sid is not None:
            del self.sinks[sid]
            self._host.sinks.pop(sid, None)
            self._host.request({"type": "sink_remove", "sink": sid})

    def render(self, a: int, b: int) -> np.ndarray:
        if b <= a:
            return np.zeros(0, dtype=np.int16)
        return decode_audio(self._host.request({"type": "render", "call": self._id, "start": a, "end": b}), b - a)

    def sleep(self, seconds: float) -> None:
        from callsim.contract import seconds_to_ticks

        self.clock.sleep(seconds_to_ticks(seconds))

    def spawn(self, fn: Callable[[], None], *, name: str = "worker") -> Any:
        from simulator.channel import LockStepThread

        return LockStepThread(self.clock, fn, name=name)  # type: ignore[arg-type]


class Host:
    """One conversation with the harness, serving recorders built by ``factory``."""

    def __init__(self, factory: Any, rfile: BinaryIO, wfile: BinaryIO, *, name: str, version: str = "") -> None:
        self.factory = factory
        self.rfile, self.wfile = rfile, wfile
        self.name, self.version = name, version
        self.now = 0
        self._ids = itertools.count(1)
        self.calls: dict[int, tuple[_Channel, Any]] = {}
        self.waits: list[Callable[[], bool]] = []
        self.timers: dict[int, tuple[Callable[[], None], _Event]] = {}
        self.sinks: dict[int, list[Any]] = {}  # sink id -> [sink, finish_alone sent, last scan (start, frames)]

    # -- the wire -------------------------------------------------------------------------------
    def send(self, msg: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(msg, separators=(",", ":"), allow_nan=False).encode() + b"\n")
        self.wfile.flush()

    def read(self) -> dict[str, Any]:
        line = self.rfile.readline()
        if not line:
            raise _HarnessGone
        msg = json.loads(line)
        if "now" in msg:
            self.now = msg["now"]
        return msg  # type: ignore[no-any-return]

    def request(self, msg: dict[str, Any]) -> Any:
        """Send a request to the harness and return its ``value``; requests the harness makes
        meanwhile are served. An ``error`` reply is raised here as the exception it names."""
        rid = next(self._ids)
        msg["id"] = rid
        self.send(msg)
        while True:
            m = self.read()
            if "re" not in m:
                self.dispatch(m)
                continue
            if m["re"] != rid:
                raise RuntimeError(f"the harness answered request {m['re']} while {rid} was pending")
            if m["type"] == "error":
                raise rebuild_exception(m)
            return m.get("value")

    def serve_forever(self) -> None:
        try:
            while True:
                self.dispatch(self.read())
        except _HarnessGone:
            return

    # -- the harness's requests ---------------------------------------------------------------------
    def dispatch(self, m: dict[str, Any]) -> None:
        kind = m["type"]
        reply: dict[str, Any]
        try:
            reply = getattr(self, "_on_" + kind)(m)
        except _HarnessGone:
            raise
        except BaseException as exc:  # noqa: BLE001 - whatever the recorder raised is its answer
            reply = {"type": "raise", **encode_exception(exc)}
        if kind in ("commit", "event", "scan") and self.waits:
            try:
                if self.waits[-1]():
                    reply["wake"] = True
            except Exception:  # noqa: BLE001, S110 - a condition that raises is re-checked by the wait itself
                pass
        self._sync_sinks()
        reply["re"] = m["id"]
        self.send(reply)

    def _sync_sinks(self) -> None:
        """Tell the harness when a sink's ``can_finish_alone()`` changed."""
        for sid, entry in list(self.sinks.items()):
            try:
                alone = bool(entry[0].can_finish_alone())
            except Exception:  # noqa: BLE001 - a sink that cannot say keeps its last answer
                continue
            if alone != entry[1]:
                entry[1] = alone
                self.request({"type": "sink_update", "sink": sid, "finish_alone": alone})

    def _on_hello(self, m: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION,
                               "implementation": {"name": self.name[:200] or "python", "version": self.version[:100]}}
        caps = capabilities_json(self.factory)
        if caps is not None:
            out["capabilities"] = caps
        return out

    def _on_open(self, m: dict[str, Any]) -> dict[str, Any]:
        channel = _Channel(self, m["call"], CallState(m["call_state"]))
        self.calls[m["call"]] = (channel, None)
        rec = self.factory(channel)
        self.calls[m["call"]] = (channel, rec)
        return {"type": "ok"}

    def _on_close(self, m: dict[str, Any]) -> dict[str, Any]:
        channel, _ = self.calls.pop(m["call"], (None, None))
        if channel is not None:
            for sid in channel.sinks:
                self.sinks.pop(sid, None)
        return {"type": "ok"}

    def _on_invoke(self, m: dict[str, Any]) -> dict[str, Any]:
        channel, rec = self.calls[m["call"]]
        method = m["method"]
        if method not in API_METHODS:
            raise AttributeError(f"{method!r} is not a method of the recorder API")
        args = {k: decode_arg(v) for k, v in m["args"].items()}
        value = getattr(rec, method)(**args)
        return {"type": "return", "value": encode_value(value, rec)}

    def _on_scan(self, m: dict[str, Any]) -> dict[str, Any]:
        entry = self.sinks[m["sink"]]
        frames = decode_audio(m["audio"], m["n"] * FRAME).reshape(-1, FRAME)
        entry[2] = (m["start"], frames)
        stop = entry[0].scan(m["start"], frames)
        return {"type": "scanned", "stop": None if stop is None else int(stop)}

    def _on_commit(self, m: dict[str, Any]) -> dict[str, Any]:
        entry = self.sinks.get(m["sink"])
        if entry is None:
            return {"type": "ok"}
        last = entry[2]
        if last is None or last[0] != m["start"]:
            raise RuntimeError(f"commit at {m['start']} without a scan of that block")
        entry[2] = None
        entry[0].commit(m["start"], last[1], m["n"])
        return {"type": "ok"}

    def _on_event(self, m: dict[str, Any]) -> dict[str, Any]:
        channel, _ = self.calls[m["call"]]
        ev = m["event"]
        if ev == "state":
            old, new = CallState(m["old"]), CallState(m["new"])
            channel._state = new
            for listener in list(channel.state_listeners):
                listener(old, new)
        elif ev == "dtmf":
            for dl in list(channel.dtmf_listeners):
                dl(m["digit"], m["onset"])
        elif ev == "timer":
            entry = self.timers.pop(m["timer"], None)
            if entry is not None and not entry[1].cancelled:
                entry[1].cancelled = True  # fired: a later cancel() is a no-op
                entry[0]()
        return {"type": "ok"}


def protect_stdout() -> BinaryIO:
    """A private binary copy of stdout for the conversation; file descriptor 1 (and
    ``sys.stdout``) then go to stderr, so nothing the recorder prints reaches the harness."""
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "wb", buffering=1 << 16)


def serve(factory: Any, wfile: BinaryIO | None = None, *, name: str, version: str = "") -> int:
    """Serve ``factory`` on stdin and ``wfile`` (by default a ``protect_stdout()`` copy of
    stdout) until stdin ends; 0 when it does."""
    out = wfile if wfile is not None else protect_stdout()
    rfile = os.fdopen(os.dup(0), "rb", buffering=1 << 20)  # a 10 s audio block is one 213 kB line
    Host(factory, rfile, out, name=name, version=version).serve_forever()
    return 0
