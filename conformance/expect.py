"""A scenario's own ``[expect]`` table: outcomes a scenario file states for itself.

Keys (all optional): ``cause``, ``state``, ``call_state`` (a name or a list of allowed names),
``audio_detected`` (bool), ``end_ms`` ([lo, hi]), ``files`` (names that must exist), ``absent``
(names that must not), ``returned`` (a list, one entry per action: a value, a list of allowed
values, or "*"), ``raised`` (likewise, exception class names or "" for none) and ``clauses``
(what the expectations check; default SPEC-RECORD).

An ``[expect]`` table encodes our decisions, so it is graded like the rest of the suite: a
mismatch is FAIL only when the observed value is also outside what the oracle says the text
allows (``conformance.grading.oracle_view``); otherwise it is NON-STRICT on the decision concerned.
"""

from __future__ import annotations

from typing import Any

from simulator.runner import RunResult
from simulator.scenario import Scenario

from .clauses import CLAUSES
from .grades import Finding, Grade

__all__ = ["check_expect"]

#: The decision an expectation of each key encodes (when the scenario names none).
_KEY_DECISION = {
    "cause": "SD-TIES", "state": "SD-ERROR", "audio_detected": "SD-AUDIO", "end_ms": "SD-TIES",
    "files": "SD-FILES-LEFT", "absent": "SD-FILES-LEFT", "returned": "SD-TIES", "raised": "SD-HANGUP",
    "call_state": "SD-HOLD",
}


def _ok(got: Any, want: Any) -> bool:
    if want == "*":
        return True
    if isinstance(want, (list, tuple)):
        return got in list(want)
    return bool(got == want)


def check_expect(scenario: Scenario, result: RunResult, oracle: Any = None) -> list[Finding]:
    """Grade ``result`` against the scenario's ``[expect]`` table. ``oracle`` (what the text
    allows at each step, ``conformance.grading.oracle_view``) is computed when not given."""
    exp = scenario.expected()
    if not exp:
        return []
    clauses = tuple(exp.get("clauses", ("SPEC-RECORD",)))
    spec = tuple(c for c in clauses if c in CLAUSES and CLAUSES[c].fixed and CLAUSES[c].quote) or ("SPEC-RECORD",)
    decisions = tuple(c for c in clauses if c.startswith("SD-"))
    if oracle is None:
        from .grading import oracle_view

        oracle = oracle_view(scenario, result)
    out: list[Finding] = []

    def report(key: str, allowed: bool, message: str, got: Any, want: Any) -> None:
        ev = {"observed": got, "expected": want}
        if allowed:
            out.append(Finding(Grade.NON_STRICT, decisions or (_KEY_DECISION[key],),
                               f"{message} (the text allows it; the [expect] table states our decision)", ev))
        else:
            ev["quote"] = CLAUSES[spec[0]].quote
            out.append(Finding(Grade.FAIL, spec + tuple(c for c in clauses if c not in spec), message, ev))

    fin = result.final
    for key in ("cause", "state", "audio_detected"):
        if key in exp and not _ok(fin.get(key), exp[key]):
            allowed = fin.get(key) in oracle.final.get(key, {fin.get(key)})
            report(key, allowed, f"expected final {key} {exp[key]!r}, got {fin.get(key)!r}", fin.get(key), exp[key])
    if "call_state" in exp and not _ok(fin.get("call_state"), exp["call_state"]):
        from .model import World

        truth = World(scenario).call_state(int(round(fin.get("end_ms", 0) * 8)))
        report("call_state", fin.get("call_state") == truth,
               f"expected final call_state {exp['call_state']!r}, got {fin.get('call_state')!r}",
               fin.get("call_state"), exp["call_state"])
    if "end_ms" in exp:
        lo, hi = exp["end_ms"]
        if not lo <= fin.get("end_ms", -1) <= hi:
            report("end_ms", not oracle.failed_steps,
                   f"expected the script to end within {lo}..{hi} ms, got {fin.get('end_ms')}", fin.get("end_ms"),
                   [lo, hi])
    for name in exp.get("files", ()):
        if name not in result.contents:
            report("files", name in oracle.files_may_be_absent, f"expected file {name!r} in the store", None, name)
    for name in exp.get("absent", ()):
        if name in result.contents:
            report("absent", name in oracle.files_may_exist, f"expected no file {name!r} in the store", name, None)
    wants: dict[int, dict[str, Any]] = {}
    for key in ("returned", "raised"):
        for i, want in enumerate(exp.get(key, ())):
            if i < len(result.steps):
                wants.setdefault(i, {})[key] = want
    for i, want_i in sorted(wants.items()):
        step = result.steps[i]
        got_i = {"returned": step.returned, "raised": step.raised or ""}
        bad = {k: w for k, w in want_i.items() if not _ok(got_i[k], w)}
        if not bad:
            continue
        allowed = i < len(oracle.steps) and (step.returned, step.raised) in oracle.steps[i] \
            and i not in oracle.failed_steps
        key = "raised" if "raised" in bad else "returned"
        text = ", ".join(f"{k} {w!r}" for k, w in bad.items())
        got = ", ".join(f"{k} {got_i[k]!r}" for k in bad)
        msg = f"step {i} ({step.call}): expected {text}, got {got}"
        if allowed and not decisions and i in oracle.step_decisions:
            out.append(Finding(Grade.NON_STRICT, oracle.step_decisions[i],
                               f"{msg} (the text allows it; the [expect] table states our decision)",
                               {"observed": got_i, "expected": want_i}))
        else:
            report(key, allowed, msg, got_i, want_i)
    return out
