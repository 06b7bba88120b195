"""The harness's end of the pipe: one recorder process, JSON lines, every read with a deadline.

``Pipe`` starts the command in its own session with stdin, stdout and stderr as pipes and
drives all three from one ``selectors`` loop, never blocking on any of them: a write to a
process that does not read, a read from one that never answers, and a process that writes its
stderr full while we wait on its stdout all end at the deadline instead of hanging the suite.
stderr is drained whenever we wait and only its last ``STDERR_TAIL`` bytes are kept (for the
evidence of a FAIL). A line longer than ``MAX_LINE`` is a flood; so is more than
``MAX_LINE`` bytes of stdout written out of turn while the harness is still writing.

Every failure is a ``ProtocolError`` naming its ``PROTOCOL-*`` clause; the process is killed
(``SIGKILL`` to its session) first, so nothing of it outlives the failure.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from .errors import ProtocolError, truncate

__all__ = ["Pipe", "MAX_LINE", "STDERR_TAIL", "DEFAULT_REPLY_TIMEOUT"]

#: The longest message line accepted (a whole 1-hour s16bit file written at once is 77 MB of base64).
MAX_LINE = 128 * 1024 * 1024
#: How much of the process's stderr a finding shows.
STDERR_TAIL = 2000
#: Seconds the harness waits for each message of a reply (``--reply-timeout``).
DEFAULT_REPLY_TIMEOUT = 10.0
_CHUNK = 1 << 20


def _grow_pipe(fd: int) -> None:
    """Ask Linux for a 1 MiB pipe buffer (``F_SETPIPE_SZ``): a 10 s audio block is 213 kB of
    base64, so the default 64 kB would cost several wake-ups per block. Best effort."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (OSError, ImportError, ValueError):
        pass


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


class Pipe:
    """One running recorder process: ``send`` a message, ``receive`` the next one."""

    def __init__(self, argv: Sequence[str], *, timeout: float, label: str, env: dict[str, str] | None = None,
                 max_line: int = MAX_LINE) -> None:
        self.label = label
        self.max_line = max_line
        self.timeout = timeout
        self._buf = bytearray()
        self._err = bytearray()
        self._closed = False
        try:
            self.proc = subprocess.Popen(
                list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, env=env, bufsize=0,
            )
        except OSError as exc:
            raise ProtocolError("PROTOCOL-EXIT", f"the recorder command {label!r} could not be started: "
                                f"{exc.strerror or exc}", command=label) from None
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._in, self._out, self._errfd = self.proc.stdin.fileno(), self.proc.stdout.fileno(), self.proc.stderr.fileno()
        for fd in (self._in, self._out, self._errfd):
            os.set_blocking(fd, False)
        for fd in (self._in, self._out):
            _grow_pipe(fd)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._out, selectors.EVENT_READ, "out")
        self._sel.register(self._errfd, selectors.EVENT_READ, "err")
        self._out_open = True
        self._err_open = True

    # -- failures ---------------------------------------------------------------------------------
    def stderr_tail(self) -> str:
        self._drain_stderr()
        text = bytes(self._err[-STDERR_TAIL:]).decode("utf-8", "backslashreplace").strip()
        return text

    def fail(self, clause: str, reason: str, offending: str | bytes | None = None) -> ProtocolError:
        """Kill the process and return the ``ProtocolError`` to raise."""
        self.kill()
        return ProtocolError(clause, reason, offending=None if offending is None else truncate(offending),
                             stderr=truncate(self.stderr_tail(), STDERR_TAIL), command=self.label)

    def _exited(self, while_: str) -> ProtocolError:
        try:
            code = self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return self.fail("PROTOCOL-EXIT", f"the recorder process closed its stdout {while_}")
        return self.fail("PROTOCOL-EXIT", f"the recorder process {_describe_exit(code)} {while_}")

    # -- I/O ----------------------------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        if not self._err_open:
            return
        while True:
            try:
                chunk = os.read(self._errfd, _CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._err_open = False
                self._unregister(self._errfd)
                return
            self._err += chunk
            if len(self._err) > 4 * STDERR_TAIL:
                del self._err[: len(self._err) - STDERR_TAIL]

    def _unregister(self, fd: int) -> None:
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _read_out(self) -> bool:
        """Read what stdout has; False at end of file."""
        try:
            chunk = os.read(self._out, _CHUNK)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self._out_open = False
            self._unregister(self._out)
            return False
        self._buf += chunk
        return True

    def _pump(self, deadline: float, doing: str) -> None:
        """Wait for any of the pipes until ``deadline`` (a ``PROTOCOL-TIMEOUT`` after it)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self.fail("PROTOCOL-TIMEOUT", f"no reply within {self.timeout:g} s while {doing}")
        events = self._sel.select(left)
        if not events:
            raise self.fail("PROTOCOL-TIMEOUT", f"no reply within {self.timeout:g} s while {doing}")
        for key, _ in events:
            if key.data == "err":
                self._drain_stderr()
            elif key.data == "out":
                self._read_out()
            # "in" (writable) is handled by the caller

    def send(self, msg: dict[str, Any], doing: str) -> None:
        """Write one message line; the process must take it within the timeout."""
        data = memoryview(json.dumps(msg, separators=(",", ":"), allow_nan=False).encode() + b"\n")
        n = self._try_write(data)
        if n is None:
            raise self._exited(f"while {doing} (its stdin is closed)")
        data = data[n:]
        if not data:
            return
        deadline = time.monotonic() + self.timeout
        self._sel.register(self._in, selectors.EVENT_WRITE, "in")
        try:
            while data:
                self._pump(deadline, doing)
                if len(self._buf) > self.max_line:
                    raise self.fail("PROTOCOL-FLOOD", f"more than {self.max_line} bytes of output out of turn "
                                    f"while {doing}", bytes(self._buf[:400]))
                n = self._try_write(data)
                if n is None or not self._out_open:
                    raise self._exited(f"while {doing}")
                data = data[n:]
        finally:
            self._unregister(self._in)

    def _try_write(self, data: memoryview) -> int | None:
        try:
            return os.write(self._in, data)
        except BlockingIOError:
            return 0
        except (BrokenPipeError, OSError):
            return None

    def receive_line(self, doing: str) -> bytes:
        """The next line of stdout (without its newline)."""
        deadline = time.monotonic() + self.timeout
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return line
            if len(self._buf) > self.max_line:
                raise self.fail("PROTOCOL-FLOOD", f"a line longer than {self.max_line} bytes while {doing}",
                                bytes(self._buf[:400]))
            if not self._out_open:
                if self._buf:
                    raise self.fail("PROTOCOL-MESSAGE", f"the output ended inside a line while {doing}", bytes(self._buf))
                raise self._exited(f"while {doing}")
            if not self._read_out():
                continue
            if self._buf.find(b"\n") < 0:
                self._pump(deadline, doing)

    # -- end ----------------------------------------------------------------------------------------
    def kill(self) -> None:
        """End the process (SIGKILL to its session) and reap it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        self._drain_stderr()
        self._close_fds()

    def close(self, grace: float = 0.2) -> None:
        """Close its stdin (the end of the conversation), give it ``grace`` s, then kill."""
        if self._closed:
            return
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def _close_fds(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sel.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
