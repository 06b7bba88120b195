"""A scenario's own ``[expect]`` table: outcomes a scenario file states for itself.

Keys (all optional): ``cause``, ``state``, ``call_state`` (a name or a list of allowed names),
``audio_detected`` (bool), ``end_ms`` ([lo, hi]), ``files`` (names that must exist), ``absent``
(names that must not), ``returned`` (a list, one entry per action: a value, a list of allowed
values, or "*"), ``raised`` (likewise, exception class names or "" for none) and ``clauses``
(what the expectations check; default SPEC-RECORD). A mismatch grades FAIL.
"""

from __future__ import annotations

from typing import Any

from simulator.runner import RunResult
from simulator.scenario import Scenario

from .grades import Finding, Grade

__all__ = ["check_expect"]


def _ok(got: Any, want: Any) -> bool:
    if want == "*":
        return True
    if isinstance(want, (list, tuple)):
        return got in list(want)
    return bool(got == want)


def check_expect(scenario: Scenario, result: RunResult) -> list[Finding]:
    exp = scenario.expected()
    if not exp:
        return []
    clauses = tuple(exp.get("clauses", ("SPEC-RECORD",)))
    out: list[Finding] = []
    fin = result.final
    for key in ("cause", "state", "call_state", "audio_detected"):
        if key in exp and not _ok(fin.get(key), exp[key]):
            out.append(Finding(Grade.FAIL, clauses, f"expected final {key} {exp[key]!r}, got {fin.get(key)!r}"))
    if "end_ms" in exp:
        lo, hi = exp["end_ms"]
        if not lo <= fin.get("end_ms", -1) <= hi:
            out.append(Finding(Grade.FAIL, clauses, f"expected the script to end within {lo}..{hi} ms, got {fin.get('end_ms')}"))
    for name in exp.get("files", ()):
        if name not in result.contents:
            out.append(Finding(Grade.FAIL, clauses, f"expected file {name!r} in the store"))
    for name in exp.get("absent", ()):
        if name in result.contents:
            out.append(Finding(Grade.FAIL, clauses, f"expected no file {name!r} in the store"))
    for key in ("returned", "raised"):
        for i, want in enumerate(exp.get(key, ())):
            if i >= len(result.steps):
                break
            got = getattr(result.steps[i], key)
            if key == "raised" and got is None:
                got = ""
            if not _ok(got, want):
                out.append(Finding(Grade.FAIL, clauses, f"step {i} ({result.steps[i].call}): expected {key} {want!r}, got {got!r}"))
    return out
