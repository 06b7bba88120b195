"""A scenario's own ``[expect]`` table: outcomes a scenario file states for itself.

Which keys exist, what their values may be and what each is compared with is one table,
``simulator.scenario.EXPECT_KEYS`` (the loader validates every value with it, so a typo'd key
or a wrong type is a ``ScenarioError``, never a silently ignored expectation). Here each kind of
comparison (``ExpectKey.checks``) has its check: ``final`` keys (``cause``, ``state``,
``call_state``, ``audio_detected``) against the run's final values, ``end_ms`` ([lo, hi]),
``stored``/``not_stored`` file names (``files``, ``absent``), ``steps`` (``returned``,
``raised``: one entry per action, a value, a list of allowed values, or "*"; "" for no
exception) and ``clauses`` (what the expectations check; default SPEC-RECORD).

An ``[expect]`` table encodes our decisions, so it is graded like the rest of the suite: a
mismatch is FAIL only when the observed value is also outside what the oracle says the text
allows (``conformance.grading.oracle_view``), quoting the table's SPEC clause (SPEC-RECORD when
it names none); otherwise it is NON-STRICT on the decision concerned (the table's SD clauses, or
the decision each key encodes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.runner import RunResult
from simulator.scenario import EXPECT_KEYS, Scenario

from .clauses import CLAUSES
from .grades import Finding, Grade

__all__ = ["check_expect", "CHECKS", "DEFAULT_CLAUSES", "Mismatch"]

#: What a mismatch is reported against when the table has no ``clauses``.
DEFAULT_CLAUSES = ("SPEC-RECORD",)

#: The decision an expectation of each key encodes (when the scenario names none).
_KEY_DECISION = {
    "cause": "SD-TIES", "state": "SD-ERROR", "audio_detected": "SD-AUDIO", "end_ms": "SD-TIES",
    "files": "SD-FILES-LEFT", "absent": "SD-FILES-LEFT", "returned": "SD-TIES", "raised": "SD-HANGUP",
    "call_state": "SD-HOLD",
}


@dataclass(frozen=True)
class Mismatch:
    """One expectation the run missed: ``message``, what was observed and expected, and
    ``where`` (the step index, or the file name) for asking the oracle whether the text allows it."""

    message: str
    observed: Any
    expected: Any
    where: Any = None
    decisions: tuple[str, ...] = field(default=())


def _ok(got: Any, want: Any) -> bool:
    if want == "*":
        return True
    if isinstance(want, list):
        return got in want
    return bool(got == want)


def _final(key: str, want: Any, result: RunResult) -> list[Mismatch]:
    got = result.final.get(key)
    return [] if _ok(got, want) else [Mismatch(f"expected final {key} {want!r}, got {got!r}", got, want)]


def _end_ms(key: str, want: Any, result: RunResult) -> list[Mismatch]:
    lo, hi = want
    got = result.final.get("end_ms", -1)
    return [] if lo <= got <= hi else [Mismatch(f"expected the script to end within {lo}..{hi} ms, got "
                                                f"{result.final.get('end_ms')}", result.final.get("end_ms"), [lo, hi])]


def _stored(key: str, want: Any, result: RunResult) -> list[Mismatch]:
    return [Mismatch(f"expected file {name!r} in the store", None, name, name)
            for name in want if name not in result.contents]


def _not_stored(key: str, want: Any, result: RunResult) -> list[Mismatch]:
    return [Mismatch(f"expected no file {name!r} in the store", name, None, name)
            for name in want if name in result.contents]


def _steps(key: str, want: Any, result: RunResult) -> list[Mismatch]:
    out = []
    for i, (step, expected) in enumerate(zip(result.steps, want)):
        got = getattr(step, key)
        if key == "raised" and got is None:
            got = ""
        if not _ok(got, expected):
            out.append(Mismatch(f"step {i} ({step.call}): expected {key} {expected!r}, got {got!r}", got, expected, i))
    return out


#: The check of each kind of ``ExpectKey.checks``: (key, expected value, run) -> mismatches.
CHECKS: dict[str, Callable[[str, Any, RunResult], list[Mismatch]]] = {
    "final": _final,
    "end_ms": _end_ms,
    "stored": _stored,
    "not_stored": _not_stored,
    "steps": _steps,
    "clauses": lambda key, want, result: [],
}


def _allowed(key: str, m: Mismatch, scenario: Scenario, result: RunResult, oracle: Any) -> bool:
    """Whether the text allows what was observed (the oracle's view of the run)."""
    kind = EXPECT_KEYS[key].checks
    if key == "call_state":
        from .model import World

        return bool(m.observed == World(scenario).call_state(int(round(result.final.get("end_ms", 0) * 8))))
    if kind == "final":
        return m.observed in oracle.final.get(key, {m.observed})
    if kind == "end_ms":
        return not oracle.failed_steps
    if kind == "stored":  # absent where it may be, or where no job records to it
        return m.where in oracle.files_may_be_absent or m.where not in oracle.files_may_exist
    if kind == "not_stored":
        return m.where in oracle.files_may_exist
    if kind == "steps":
        step = result.steps[m.where]
        return m.where < len(oracle.steps) and (step.returned, step.raised) in oracle.steps[m.where] \
            and m.where not in oracle.failed_steps
    return False


def check_expect(scenario: Scenario, result: RunResult, oracle: Any = None) -> list[Finding]:
    """Grade ``result`` against the scenario's ``[expect]`` table. ``oracle`` (what the text
    allows at each step, ``conformance.grading.oracle_view``) is computed when not given."""
    exp = scenario.expected()
    if not exp:
        return []
    clauses = tuple(exp.get("clauses", DEFAULT_CLAUSES))
    spec = tuple(c for c in clauses if c in CLAUSES and CLAUSES[c].fixed and CLAUSES[c].quote) or DEFAULT_CLAUSES
    decisions = tuple(c for c in clauses if c.startswith("SD-"))
    out: list[Finding] = []
    for key, kspec in EXPECT_KEYS.items():
        if key not in exp:
            continue
        for m in CHECKS[kspec.checks](key, exp[key], result):
            if oracle is None:
                from .grading import oracle_view

                oracle = oracle_view(scenario, result)
            ev = {"observed": m.observed, "expected": m.expected}
            if _allowed(key, m, scenario, result, oracle):
                named = decisions
                if not named and kspec.checks == "steps" and m.where in oracle.step_decisions:
                    named = tuple(oracle.step_decisions[m.where])
                out.append(Finding(Grade.NON_STRICT, named or (_KEY_DECISION[key],),
                                   f"{m.message} (the text allows it; the [expect] table states our decision)", ev))
            else:
                out.append(Finding(Grade.FAIL, spec + tuple(c for c in clauses if c not in spec), m.message, ev))
    return out
