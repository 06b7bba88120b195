"""The harness's side: a recorder factory whose recorders live in another process.

``CommandFactory(argv)`` is an ordinary recorder factory (``factory(channel) -> recorder``), so
the whole suite, ``callsim run``, ``replay`` and ``plot`` use it unchanged. Each recorder it
returns (``RemoteRecorder``) has the vendor's API; every call is sent to the process
(``invoke``) and the process answers with what the method returned or raised. Everything the
implementation needs from the call reaches it as messages the harness sends: far-end audio by
the scan/commit rules of ``callsim.contract.seams`` (``scan``, ``commit``), call-state changes,
out-of-band digits and its own timers at their exact ticks (``event``). Everything it does to
the world is a request the harness carries out on the channel's own clock and store
(``schedule``, ``sink_add``, ``store_write``, ``wait``...), so faults, naming rules and
eventual consistency apply unchanged. The rules are in ``docs/protocol.md``; the messages'
schemas in ``callsim.protocol.schema``.

Processes: a thread that uses the factory has one connection, used by every call it builds
(the conformance guard runs each case in a thread of its own). When the thread has ended its
process serves the next case if it broke no rule, and is killed otherwise: a case after a
failure always starts with a fresh process, while a healthy one is not started again for each
of the suite's cases (starting a Python host costs more than most cases).
Nothing the process sends is trusted: every message is validated against its schema before it
is acted on, and any violation, a missing reply (``reply_timeout`` seconds for each message),
an exit or a crash kills the process and raises ``ProtocolError`` (see ``errors``).
"""

from __future__ import annotations

import inspect
import itertools
import json
import shlex
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from callsim.contract import API_METHODS, Cause, Priority, State

from .codec import (
    decode_bytes,
    decode_value,
    encode_arg,
    encode_audio,
    encode_exception,
    rebuild_exception,
)
from .errors import ProtocolError, record_failure
from .schema import PROTOCOL_VERSION, REPLY_TYPES, SchemaViolation, validate_incoming
from .wire import DEFAULT_REPLY_TIMEOUT, MAX_LINE, Pipe

__all__ = ["CommandFactory", "RemoteRecorder", "Connection"]

#: Implementation requests handled without a reply.
_NOTIFICATIONS = ("log",)
#: Requests an implementation may make while handling one harness request, before it is a flood.
MAX_REQUESTS_PER_REPLY = 1_000_000
#: How many reply timeouts the handshake may take (a Python host imports numpy and scipy first).
HANDSHAKE_FACTOR = 3
#: The longest span ``render`` returns (ten minutes of audio).
MAX_RENDER = 8000 * 600


class _Call:
    """The harness's state of one remote recorder: its channel and the ids it was given."""

    def __init__(self, cid: int, channel: Any) -> None:
        self.id = cid
        self.channel = channel
        self.closed = False


class _RemoteSink:
    """A media sink whose scan and commit are answered by the implementation."""

    def __init__(self, conn: Connection, call: _Call, sid: int, first_tick: int, finish_alone: bool) -> None:
        self.conn, self.call, self.id = conn, call, sid
        self.first_tick = first_tick
        self.finish_alone = finish_alone

    def can_finish_alone(self) -> bool:
        return self.finish_alone

    def scan(self, start: int, frames: Any) -> int | None:
        n = len(frames)
        reply = self.conn.request(self.call, {"type": "scan", "call": self.call.id, "sink": self.id, "start": start,
                                              "n": n, "audio": encode_audio(frames)})
        stop = reply.get("stop")
        if stop is not None and stop > n:
            raise self.conn.violation("PROTOCOL-MESSAGE", f"scan of {n} frames answered stop={stop}, more than it was given",
                                      reply)
        return stop  # type: ignore[no-any-return]

    def commit(self, start: int, frames: Any, n: int) -> None:
        self.conn.request(self.call, {"type": "commit", "call": self.call.id, "sink": self.id, "start": start, "n": n})


def _signature(method: str) -> inspect.Signature:
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *API_METHODS[method]]
    return inspect.Signature(params)


def _api_method(method: str) -> Any:
    sig = _signature(method)
    bare = sig.replace(parameters=list(sig.parameters.values())[1:])

    def call(self: RemoteRecorder, *args: Any, **kwargs: Any) -> Any:
        bound = bare.bind(*args, **kwargs)  # TypeError for unknown or missing parameters, as Python's own
        return self._invoke(method, dict(bound.arguments))

    call.__name__ = call.__qualname__ = method
    call.__signature__ = sig  # type: ignore[attr-defined]
    call.__doc__ = f"``{method}`` carried out by the recorder process (the spec's signature)."
    return call


class RemoteRecorder:
    """A recorder living in a recorder process: the vendor's API, each call a message.

    Arguments the application passed are sent as given (defaults are the implementation's own,
    so a wrong default shows in its behaviour); the signatures shown are the spec's.
    """

    Cause = Cause
    State = State

    def __init__(self, conn: Connection, channel: Any) -> None:
        self._conn = conn
        self._call = conn.open_call(channel)
        weakref.finalize(self, conn.release, self._call)

    def __repr__(self) -> str:
        return f"<recorder call {self._call.id} of process {self._conn.label!r}>"

    def _invoke(self, method: str, args: dict[str, Any]) -> Any:
        call = self._call
        msg = {"type": "invoke", "call": call.id, "method": method, "call_state": call.channel.state().value,
               "args": {k: encode_arg(v) for k, v in args.items()}}
        reply = self._conn.request(call, msg)
        if reply["type"] == "raise":
            raise rebuild_exception(reply)
        return decode_value(reply["value"])

    record = _api_method("record")
    start = _api_method("start")
    stop = _api_method("stop")
    wait_until_finished = _api_method("wait_until_finished")
    state = _api_method("state")
    cause = _api_method("cause")
    audio_detected_in_recording = _api_method("audio_detected_in_recording")


class Connection:
    """One recorder process and the conversation with it (a stack of pending requests)."""

    def __init__(self, argv: Sequence[str], *, label: str, timeout: float, env: dict[str, str] | None = None,
                 max_line: int = MAX_LINE) -> None:
        self.label = label
        self.failure: ProtocolError | None = None
        self.broken = False
        self._last_line: bytes | None = None
        self._ids = itertools.count(1)
        self._pending: list[tuple[int, str]] = []
        self._calls: dict[int, _Call] = {}
        self._sinks: dict[int, _RemoteSink] = {}
        self._timers: dict[int, tuple[_Call, Any]] = {}
        self._writers: dict[int, tuple[_Call, Any]] = {}
        self._waits: list[list[bool]] = []
        self._to_close: list[_Call] = []
        self.pipe = Pipe(argv, timeout=timeout, label=label, env=env, max_line=max_line)
        self.hello: dict[str, Any] = {}
        # the handshake waits HANDSHAKE_FACTOR times longer: a process may load its libraries first
        self.pipe.timeout = timeout * HANDSHAKE_FACTOR
        try:
            self.hello = self.request(None, {"type": "hello", "protocol": PROTOCOL_VERSION, "harness": "callsim"})
        finally:
            self.pipe.timeout = timeout
        if self.hello.get("protocol") != PROTOCOL_VERSION:
            raise self.violation("PROTOCOL-HANDSHAKE", f"the implementation speaks protocol {self.hello.get('protocol')!r}, "
                                 f"this harness {PROTOCOL_VERSION}", self.hello)

    # -- failures ---------------------------------------------------------------------------------
    def violation(self, clause: str, reason: str, offending: Any = None) -> ProtocolError:
        """Kill the process and make the ``ProtocolError`` (recorded for the current thread)."""
        if self.failure is not None:
            return self.failure
        text: str | bytes | None = None
        if isinstance(offending, dict) and self._last_line is not None:
            text = self._last_line  # the line as it was sent
        elif offending is not None:
            text = offending if isinstance(offending, (str, bytes)) else json.dumps(offending, default=repr)[:4000]
        err = self.pipe.fail(clause, reason, text)
        return self._failed(err)

    def _failed(self, err: ProtocolError) -> ProtocolError:
        if self.failure is None:
            self.failure = err
        record_failure(self.failure)
        self.pipe.kill()
        return self.failure

    def abandon(self) -> None:
        """Kill the process without a verdict (the exception on its way says what happened)."""
        self.broken = True
        self.pipe.kill()

    @property
    def healthy(self) -> bool:
        """Fit for another case: no rule broken, nothing pending, the process running."""
        return self.failure is None and not self.broken and not self._pending and self.pipe.proc.poll() is None

    # -- the conversation -------------------------------------------------------------------------
    def _doing(self, msg: dict[str, Any]) -> str:
        what = msg.get("method") or msg.get("event") or ""
        return f"waiting for the reply to {msg['type']}{' ' + what if what else ''} (id {msg['id']})"

    def request(self, call: _Call | None, msg: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return the implementation's reply, carrying out every request the
        implementation makes meanwhile."""
        if self.failure is not None:
            raise self.failure
        if self.broken:
            raise RuntimeError(f"the recorder process {self.label!r} was ended when an exception escaped it")
        if not self._pending and self._to_close and msg["type"] != "close":
            self._flush_closes()
        rid = next(self._ids)
        msg["id"] = rid
        if call is not None:
            msg["now"] = call.channel.clock.now
        self._pending.append((rid, msg["type"]))
        try:
            doing = self._doing(msg)
            try:
                self.pipe.send(msg, doing)
            except ProtocolError as err:
                raise self._failed(err) from None
            count = 0
            while True:
                m = self._receive(doing)
                if "re" in m:
                    if m["re"] != rid:
                        raise self.violation("PROTOCOL-ORDER", f"a reply to request {m['re']} while request {rid} "
                                             f"({msg['type']}) was the one pending", m)
                    if m["type"] not in REPLY_TYPES[msg["type"]]:
                        raise self.violation("PROTOCOL-ORDER", f"{m['type']!r} does not answer {msg['type']!r} "
                                             f"(expected {' or '.join(REPLY_TYPES[msg['type']])})", m)
                    if m.get("wake") and self._waits:
                        self._waits[-1][0] = True
                    if m["type"] == "raise" and msg["type"] in ("scan", "commit", "event"):
                        raise rebuild_exception(m)  # raised where the sink or listener was called
                    return m
                count += 1
                if count > MAX_REQUESTS_PER_REPLY:
                    raise self.violation("PROTOCOL-FLOOD", f"more than {MAX_REQUESTS_PER_REPLY} requests while {doing}", m)
                self._serve(m)
        finally:
            self._pending.pop()

    def _receive(self, doing: str) -> dict[str, Any]:
        try:
            line = self.pipe.receive_line(doing)
        except ProtocolError as err:
            raise self._failed(err) from None
        self._last_line = line[:4000]
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise self.violation("PROTOCOL-MESSAGE", f"not a JSON message line ({str(exc)[:100]}) while {doing}", line) from None
        try:
            return validate_incoming(msg)
        except SchemaViolation as exc:
            raise self.violation("PROTOCOL-MESSAGE", f"{exc} while {doing}", line) from None
        except RecursionError:
            raise self.violation("PROTOCOL-MESSAGE", f"a message nested too deeply while {doing}", line) from None

    def _reply(self, req: dict[str, Any], call: _Call | None, **fields: Any) -> None:
        out = {"type": "ok", "re": req["id"], "now": call.channel.clock.now if call else 0, **fields}
        try:
            self.pipe.send(out, f"replying to {req['type']} (id {req['id']})")
        except ProtocolError as err:
            raise self._failed(err) from None

    def _error(self, req: dict[str, Any], call: _Call | None, exc: BaseException) -> None:
        out = {"type": "error", "re": req["id"], "now": call.channel.clock.now if call else 0, **encode_exception(exc)}
        try:
            self.pipe.send(out, f"replying to {req['type']} (id {req['id']})")
        except ProtocolError as err:
            raise self._failed(err) from None

    # -- the implementation's requests ------------------------------------------------------------
    def _call_of(self, m: dict[str, Any]) -> _Call:
        call = self._calls.get(m["call"])
        if call is None or call.closed:
            raise self.violation("PROTOCOL-MESSAGE", f"{m['type']} names call {m['call']}, which is not open", m)
        return call

    def _lookup(self, table: dict[int, Any], key: int, what: str, m: dict[str, Any]) -> Any:
        if key not in table:
            raise self.violation("PROTOCOL-MESSAGE", f"{m['type']} names {what} {key}, which this process was never given "
                                 "(or has released)", m)
        return table[key]

    def _serve(self, m: dict[str, Any]) -> None:
        kind = m["type"]
        if kind == "log":
            call = self._call_of(m)
            # the entry's time is the harness's: the fields cannot set "t", "ms" or "kind"
            fields = {k: v for k, v in (m.get("fields") or {}).items() if k not in ("t", "ms", "kind")}
            call.channel.log.add(str(m["kind"]), **fields)
            return
        if "call" in m:
            call = self._call_of(m)
        elif kind == "sink_update" or kind == "sink_remove":
            call = self._lookup(self._sinks, m["sink"], "sink", m).call
        elif kind == "cancel":
            call = self._lookup(self._timers, m["timer"], "timer", m)[0]
        else:
            call = self._lookup(self._writers, m["writer"], "writer", m)[0]
        handler = getattr(self, "_do_" + kind)
        try:
            value = handler(call, m)
        except ProtocolError:
            raise
        except Exception as exc:  # what the channel, clock or store raised goes back to the implementation
            self._error(m, call, exc)
            return
        except BaseException:
            # a BaseException the implementation itself sent (a stand-in SystemExit, say) leaves
            # this request unanswered: the conversation cannot go on; the case's guard grades it
            self.abandon()
            raise
        if value is None:
            self._reply(m, call)
        else:
            self._reply(m, call, value=value)

    def _do_schedule(self, call: _Call, m: dict[str, Any]) -> Any:
        tid = next(self._ids)
        conn_ref = weakref.ref(self)

        def fire() -> None:
            conn = conn_ref()
            if conn is not None and not call.closed:
                conn.request(call, {"type": "event", "call": call.id, "event": "timer", "timer": tid})

        ev = call.channel.clock.schedule(m["at"], Priority[m["priority"]], fire, str(m.get("label") or "remote-timer"))
        self._timers[tid] = (call, ev)
        return tid

    def _do_cancel(self, call: _Call, m: dict[str, Any]) -> None:
        self._timers[m["timer"]][1].cancel()  # a timer that fired already: nothing to do, as in-process

    def _do_sink_add(self, call: _Call, m: dict[str, Any]) -> Any:
        sid = next(self._ids)
        sink = _RemoteSink(self, call, sid, m["first_tick"], m["finish_alone"])
        call.channel.add_media_sink(sink)
        self._sinks[sid] = sink
        return sid

    def _do_sink_update(self, call: _Call, m: dict[str, Any]) -> None:
        self._sinks[m["sink"]].finish_alone = m["finish_alone"]

    def _do_sink_remove(self, call: _Call, m: dict[str, Any]) -> None:
        call.channel.remove_media_sink(self._sinks[m["sink"]])  # removing twice does nothing, as in-process

    def _do_render(self, call: _Call, m: dict[str, Any]) -> Any:
        a, b = m["start"], m["end"]
        if not 0 <= b - a <= MAX_RENDER:
            raise ValueError(f"render spans {b - a} ticks; give 0 to {MAX_RENDER}")
        return encode_audio(call.channel.render(a, b))

    def _do_wait(self, call: _Call, m: dict[str, Any]) -> None:
        flag = [False]
        self._waits.append(flag)
        try:
            call.channel.clock.run_until(lambda: flag[0], what=str(m.get("what") or "the recorder process"))
        finally:
            self._waits.pop()

    def _data(self, m: dict[str, Any]) -> bytes:
        try:
            return decode_bytes(m["data"])
        except ValueError as exc:
            raise self.violation("PROTOCOL-MESSAGE", f"{m['type']}: data is {exc}", m) from None

    def _do_store_open(self, call: _Call, m: dict[str, Any]) -> Any:
        writer = call.channel.store.open_write(m["name"])
        wid = next(self._ids)
        self._writers[wid] = (call, writer)
        return wid

    def _do_store_write(self, call: _Call, m: dict[str, Any]) -> None:
        self._writers[m["writer"]][1].write(self._data(m))

    def _do_store_patch(self, call: _Call, m: dict[str, Any]) -> None:
        self._writers[m["writer"]][1].patch(m["offset"], self._data(m))

    def _do_store_tell(self, call: _Call, m: dict[str, Any]) -> Any:
        return int(self._writers[m["writer"]][1].tell())

    def _do_store_commit(self, call: _Call, m: dict[str, Any]) -> None:
        self._writers[m["writer"]][1].commit()

    def _do_store_abort(self, call: _Call, m: dict[str, Any]) -> None:
        self._writers[m["writer"]][1].abort()

    def _do_store_read(self, call: _Call, m: dict[str, Any]) -> Any:
        import base64

        return base64.b64encode(call.channel.store.read(m["name"])).decode("ascii")

    def _do_store_exists(self, call: _Call, m: dict[str, Any]) -> Any:
        return bool(call.channel.store.exists(m["name"]))

    def _do_store_delete(self, call: _Call, m: dict[str, Any]) -> None:
        call.channel.store.delete(m["name"])

    # -- calls ------------------------------------------------------------------------------------
    def open_call(self, channel: Any) -> _Call:
        """Tell the process about a new call (its recorder is built there) and listen to the
        channel's state changes and out-of-band digits on its behalf."""
        call = _Call(next(self._ids), channel)
        self._calls[call.id] = call
        reply = self.request(call, {"type": "open", "call": call.id, "call_state": channel.state().value})
        if reply["type"] == "raise":
            call.closed = True
            self._calls.pop(call.id, None)
            raise rebuild_exception(reply)
        conn_ref = weakref.ref(self)

        def on_state(old: Any, new: Any) -> None:
            conn = conn_ref()
            if conn is not None and not call.closed:
                conn.request(call, {"type": "event", "call": call.id, "event": "state", "old": old.value, "new": new.value})

        def on_dtmf(digit: str, onset: int) -> None:
            conn = conn_ref()
            if conn is not None and not call.closed:
                conn.request(call, {"type": "event", "call": call.id, "event": "dtmf", "digit": digit, "onset": onset})

        channel.on_state_change(on_state)
        channel.on_dtmf(on_dtmf)
        return call

    def release(self, call: _Call) -> None:
        """The recorder of ``call`` is gone: close the call at the next quiet moment."""
        self._to_close.append(call)

    def _flush_closes(self) -> None:
        while self._to_close and self.failure is None:
            call = self._to_close.pop()
            if call.closed:
                continue
            self.request(call, {"type": "close", "call": call.id})
            call.closed = True
            self._calls.pop(call.id, None)
            for table in (self._sinks, self._timers, self._writers):
                for k in [k for k, v in table.items() if (v.call if isinstance(v, _RemoteSink) else v[0]) is call]:
                    del table[k]

    def close(self) -> None:
        """End the conversation: close stdin, let the process exit, kill it if it does not."""
        self.pipe.close()


class CommandFactory:
    """A recorder factory whose recorders run in a process started from ``argv``.

    ``label`` is how reports and replay lines name it (by default the command line itself).
    ``callsim_capabilities`` is what the process declares in its handshake (a plain mapping,
    read once from a short-lived process; empty when the handshake fails, so every case runs
    and shows the failure).
    """

    def __init__(self, argv: Sequence[str] | str, *, reply_timeout: float | None = None, label: str | None = None,
                 env: dict[str, str] | None = None, max_line: int = MAX_LINE) -> None:
        self.argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if not self.argv:
            raise ValueError("the recorder command is empty")
        self.label = label or shlex.join(self.argv)
        self.reply_timeout = DEFAULT_REPLY_TIMEOUT if reply_timeout is None else float(reply_timeout)
        self.env = env
        self.max_line = max_line
        self._lock = threading.Lock()
        self._conns: dict[threading.Thread, Connection] = {}
        self._idle: list[Connection] = []
        self._caps: dict[str, Any] | None = None
        self.implementation: dict[str, Any] = {}
        self.__name__ = self.__qualname__ = f"command {self.label}"

    def __repr__(self) -> str:
        return f"CommandFactory({self.label!r})"

    def _connect(self) -> Connection:
        return Connection(self.argv, label=self.label, timeout=self.reply_timeout, env=self.env, max_line=self.max_line)

    @property
    def callsim_capabilities(self) -> dict[str, Any]:
        if self._caps is None:
            try:
                conn = self._connect()
            except ProtocolError:
                self._caps = {}
            else:
                self._caps = dict(conn.hello.get("capabilities") or {})
                self.implementation = dict(conn.hello.get("implementation") or {})
                with self._lock:
                    self._idle.append(conn)
        return self._caps

    def connection(self) -> Connection:
        """The connection of the current thread. A thread that has none takes an idle one (a
        process whose last user ended without breaking a rule) or starts a process; the
        connections of threads that have ended go back to the idle pool when healthy and are
        closed otherwise, so a case after a failure always starts with a fresh process."""
        me = threading.current_thread()
        stale: list[Connection] = []
        with self._lock:
            for thread in [t for t in self._conns if not t.is_alive()]:
                done = self._conns.pop(thread)
                (self._idle if done.healthy else stale).append(done)
            conn: Connection | None = self._conns.get(me)
            if conn is not None and conn.broken:
                conn = None
            while conn is None and self._idle:
                candidate = self._idle.pop()
                if candidate.healthy:
                    conn = candidate
                    self._conns[me] = conn
                else:
                    stale.append(candidate)
        for c in stale:
            c.close()
        if conn is not None and conn.failure is not None:
            raise conn.failure
        if conn is None:
            try:
                conn = self._connect()
            except ProtocolError as err:
                record_failure(err)
                raise
            with self._lock:
                self._conns[me] = conn
        return conn

    def __call__(self, channel: Any) -> RemoteRecorder:
        return RemoteRecorder(self.connection(), channel)

    def close(self) -> None:
        """Close every connection (the processes exit)."""
        with self._lock:
            conns, self._conns = [*self._conns.values(), *self._idle], {}
            self._idle = []
        for c in conns:
            c.close()
