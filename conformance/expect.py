"""A scenario's own ``[expect]`` table: outcomes a scenario file states for itself.

Which keys exist, what their values may be and what each is compared with is one table,
``simulator.scenario.EXPECT_KEYS`` (the loader validates every value with it, so a typo'd key
or a wrong type is a ``ScenarioError``, never a silently ignored expectation). Here each kind of
comparison (``ExpectKey.checks``) has its check: ``final`` keys (``cause``, ``state``,
``call_state``, ``audio_detected``) against the run's final values, ``end_ms`` ([lo, hi]),
``stored``/``not_stored`` file names (``files``, ``absent``), ``steps`` (``returned``,
``raised``: one entry per action, a value, a list of allowed values, or "*"; "" for no
exception) and ``clauses`` (what the expectations check; default SPEC-RECORD). A mismatch
grades FAIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.runner import RunResult
from simulator.scenario import EXPECT_KEYS, Scenario

from .grades import Finding, Grade

__all__ = ["check_expect", "CHECKS", "DEFAULT_CLAUSES"]

#: What a mismatch is reported against when the table has no ``clauses``.
DEFAULT_CLAUSES = ("SPEC-RECORD",)


def _ok(got: Any, want: Any) -> bool:
    if want == "*":
        return True
    if isinstance(want, (list, tuple)):
        return got in list(want)
    return bool(got == want)


def _final(key: str, want: Any, result: RunResult) -> list[str]:
    got = result.final.get(key)
    return [] if _ok(got, want) else [f"expected final {key} {want!r}, got {got!r}"]


def _end_ms(key: str, want: Any, result: RunResult) -> list[str]:
    lo, hi = want
    got = result.final.get("end_ms", -1)
    return [] if lo <= got <= hi else [f"expected the script to end within {lo}..{hi} ms, got {result.final.get('end_ms')}"]


def _stored(key: str, want: Any, result: RunResult) -> list[str]:
    return [f"expected file {name!r} in the store" for name in want if name not in result.contents]


def _not_stored(key: str, want: Any, result: RunResult) -> list[str]:
    return [f"expected no file {name!r} in the store" for name in want if name in result.contents]


def _steps(key: str, want: Any, result: RunResult) -> list[str]:
    out = []
    for i, (step, expected) in enumerate(zip(result.steps, want)):
        got = getattr(step, key)
        if key == "raised" and got is None:
            got = ""
        if not _ok(got, expected):
            out.append(f"step {i} ({step.call}): expected {key} {expected!r}, got {got!r}")
    return out


#: The check of each kind of ``ExpectKey.checks``: (key, expected value, run) -> mismatches.
CHECKS: dict[str, Callable[[str, Any, RunResult], list[str]]] = {
    "final": _final,
    "end_ms": _end_ms,
    "stored": _stored,
    "not_stored": _not_stored,
    "steps": _steps,
    "clauses": lambda key, want, result: [],
}


def check_expect(scenario: Scenario, result: RunResult) -> list[Finding]:
    exp = scenario.expected()
    if not exp:
        return []
    clauses = tuple(exp.get("clauses", DEFAULT_CLAUSES))
    out: list[Finding] = []
    for key, spec in EXPECT_KEYS.items():
        if key in exp:
            out += [Finding(Grade.FAIL, clauses, m) for m in CHECKS[spec.checks](key, exp[key], result)]
    return out
