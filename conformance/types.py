"""Return types judged by the spec's own usage (SPEC-CAUSE, SPEC-STATE, SPEC-EXAMPLES).

``record()``, ``wait_until_finished()`` and ``cause()`` return members of the recorder's own
``Cause`` (its ``Cause`` attribute, by identity, as the vendor's examples compare
``cause == channel.FileRecorder.Cause.SILENCE``), ``state()`` members of its ``State``;
``audio_detected_in_recording()`` returns True, False or None (the example tests ``is True``);
``start()`` and ``stop()`` return bools, where an int equal to a bool (``1``) is NON-STRICT since
the examples compare ``== True``. The kind of each returned value is recorded by the runner at
call time (``StepResult.returned_type``); ``check_types`` grades it.
"""

from __future__ import annotations

from typing import Any

from .clauses import clause
from .grades import Finding, Grade

__all__ = ["check_types"]

#: method -> (the kinds it may return, the clause that says so)
_EXPECTED: dict[str, tuple[frozenset[str], str]] = {
    "record": (frozenset({"Cause"}), "SPEC-CAUSE"),
    "wait_until_finished": (frozenset({"Cause"}), "SPEC-CAUSE"),
    "cause": (frozenset({"Cause"}), "SPEC-CAUSE"),
    "state": (frozenset({"State"}), "SPEC-STATE"),
    "audio_detected_in_recording": (frozenset({"bool", "None"}), "SPEC-EXAMPLES"),
    "start": (frozenset({"bool"}), "SPEC-EXAMPLES"),
    "stop": (frozenset({"bool"}), "SPEC-EXAMPLES"),
}


def check_types(steps: list[Any]) -> list[Finding]:
    """One finding per method whose returned value has a kind the spec's usage rules out."""
    out: list[Finding] = []
    seen: set[str] = set()
    for s in steps:
        kind = getattr(s, "returned_type", None)
        if kind is None or s.call not in _EXPECTED or s.call in seen:
            continue
        kinds, cid = _EXPECTED[s.call]
        if kind in kinds:
            continue
        seen.add(s.call)
        grade = Grade.NON_STRICT if s.call in ("start", "stop") and kind == "int" and s.returned in (0, 1) else Grade.FAIL
        want = " or ".join(sorted(kinds))
        out.append(Finding(grade, (cid,), f"{s.call}() at {s.at_ms:g} ms returned {s.returned!r} ({kind}), "
                           f"not {want}: {clause(cid).quote}", evidence={"returned_type": kind}))
    return out
