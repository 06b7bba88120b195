"""The boundary between the suite and the implementation under test: every case runs here.

``guarded`` runs one case (a catalogue case or a property) in a *daemon worker thread* and
waits for it with a wall-clock budget (``DEFAULT_CASE_TIMEOUT`` seconds unless
``--case-timeout`` / ``--callsim-case-timeout`` says otherwise; a property under the ``deep``
profile, which runs many times more examples, gets ``DEEP_FACTOR`` times the budget):

* whatever the recorder raises -- ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``, any
  ``BaseException`` subclass -- is caught in the worker and the case grades FAIL naming it;
* a recorder that loops or blocks outside the virtual clock is abandoned when the budget runs
  out: the case grades FAIL ("did not return within N s") with a short stack summary of where
  the worker was (``sys._current_frames()``), and the run goes on. A daemon thread cannot
  keep the process alive; threads the recorder started itself as non-daemon can, so
  ``exit_if_stuck`` ends the process with ``os._exit`` once the verdict is written.

Why a thread and not a signal alarm or pytest-timeout: an alarm cannot interrupt a ``while
True: pass`` in C code nor a ``time.sleep`` on every platform, runs only in the main thread,
and would be the only way out of the case; pytest-timeout's thread method kills the whole
process. A worker thread costs one thread start per case (tens of microseconds), so the
reference's speed is unchanged.

A recorder in another process (``callsim.protocol``): a connection that breaks the wire protocol
(a malformed or out-of-order message, no reply in time, an exit, a crash, a flood) raises
``ProtocolError`` and records it against the thread that used it. The guard asks after every
case: a case whose connection failed is graded FAIL on the ``PROTOCOL-*`` clause broken, with
the offending message and the tail of the process's stderr as evidence, however the case's own
code ended (it may have caught the error).

Telling the recorder's ``KeyboardInterrupt`` from the user's Ctrl-C: CPython runs signal
handlers, so raises the ``KeyboardInterrupt`` of a real SIGINT, only in the *main* thread. The
recorder's code runs in the worker, so a ``KeyboardInterrupt`` caught there came from the
recorder and is its FAIL, while a Ctrl-C interrupts the main thread's wait and stops the run
as usual.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

from callsim.protocol import ProtocolError, failure_of

from .grades import CaseResult, Finding, Grade

__all__ = ["DEFAULT_CASE_TIMEOUT", "DEEP_FACTOR", "guarded", "stack_summary", "exit_if_stuck", "stuck_threads",
           "protocol_failure"]

#: The default wall-clock budget of one case, in seconds. The reference's catalogue cases take
#: well under a second, but its slowest property (``property/api-scripts``, ci profile) took 60 s
#: on a loaded machine: the default leaves it five times that.
DEFAULT_CASE_TIMEOUT = 300.0
#: How many times the budget a property gets under the ``deep`` profile.
DEEP_FACTOR = 10


def stack_summary(thread: threading.Thread, limit: int = 6) -> str:
    """The innermost ``limit`` frames of ``thread`` as ``file:line in function`` (one line)."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return "(no stack: the thread ended)"
    frames = traceback.extract_stack(frame)[-limit:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in reversed(frames))


def guarded(case_id: str, clauses: tuple[str, ...], run: Callable[[], CaseResult], timeout: float | None) -> CaseResult:
    """``run()``'s result, or a FAIL of ``case_id`` when it raised anything or did not return
    within ``timeout`` seconds (``None`` or ``<= 0``: no budget)."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["result"] = run()
        except BaseException as exc:  # noqa: BLE001 - raised in the worker: the recorder's, not a Ctrl-C
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"callsim-case {case_id}", daemon=True)
    worker.start()
    worker.join(timeout if timeout and timeout > 0 else None)
    broken = failure_of(worker) if not worker.is_alive() else None
    if broken is None and isinstance(box.get("error"), ProtocolError):
        broken = box["error"]  # type: ignore[assignment]
    if broken is not None:
        return protocol_failure(case_id, clauses, broken)
    if worker.is_alive():
        where = stack_summary(worker)
        res = CaseResult(case_id, clauses)
        res.findings.append(Finding(Grade.FAIL, clauses,
                                    f"the recorder did not return within {timeout:g} s (wall clock); it was at: {where}"))
        res.duration_s = float(timeout or 0)
        return res
    if "error" in box:
        exc = box["error"]
        assert isinstance(exc, BaseException)
        res = CaseResult(case_id, clauses)
        res.findings.append(Finding(Grade.FAIL, clauses,
                                    f"the recorder raised {type(exc).__name__}: {exc}, which escaped the case"))
        return res
    result = box["result"]
    assert isinstance(result, CaseResult)
    return result


def protocol_failure(case_id: str, clauses: tuple[str, ...], err: ProtocolError) -> CaseResult:
    """The FAIL of a case whose recorder process broke the wire protocol: on the clause it broke
    (its quote is a sentence of docs/protocol.md), with what it sent and its stderr's tail."""
    res = CaseResult(case_id, clauses)
    res.findings.append(Finding(Grade.FAIL, (err.clause,), f"the recorder process broke the protocol ({err.clause}): {err.describe()}",
                                err.evidence()))
    return res


def stuck_threads() -> list[threading.Thread]:
    """Live non-daemon threads other than the current one (they would keep the process alive)."""
    me = threading.current_thread()
    return [t for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()
            and t is not threading.main_thread()]


def exit_if_stuck(code: int) -> None:
    """End the process with ``code`` now if a recorder left a non-daemon thread running, which
    would otherwise keep the interpreter waiting for it at exit forever."""
    if stuck_threads():
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stream has nothing to flush
                pass
        os._exit(code)
