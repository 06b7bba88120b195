"""What a generated (hypothesis) case records over its examples, and how that record becomes
its ``CaseResult``.

This module owns the bookkeeping shared by the generated properties (``conformance.properties``)
and the state machine (``conformance.stateful``): ``Tracker`` counts the examples and the labels
they reached, keeps the distinct NON-STRICT/INFO findings seen on the way (at most ``SOFT_CAP``)
and the last failure (the scenario to export and its findings); ``conclude`` folds a tracker and
the exception hypothesis raised, if any, into the case's findings and ``scenario_toml``;
``run_tracked`` runs a case's hypothesis test, times it and concludes.
"""

from __future__ import annotations

import dataclasses
import re
import time
import unittest
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.scenario import Scenario

from .grades import CaseResult, Finding, Grade

__all__ = ["SOFT_CAP", "Tracker", "conclude", "run_tracked"]

#: At most this many distinct NON-STRICT/INFO findings are kept per property.
SOFT_CAP = 10


@dataclass
class Tracker:
    """What a property saw over its examples: counts, soft findings, the last failure."""

    examples: int = 0
    reached: Counter[str] = field(default_factory=Counter)
    soft: dict[str, Finding] = field(default_factory=dict)
    last_fail: tuple[Scenario, list[Finding]] | None = None

    def note_soft(self, findings: list[Finding]) -> None:
        for f in findings:
            if f.grade in (Grade.NON_STRICT, Grade.INFO):
                key = f.grade.value + re.sub(r"[\d.]+", "#", f.message)[:70]
                if key not in self.soft and len(self.soft) < SOFT_CAP:
                    self.soft[key] = f


def _hyp_notes(exc: BaseException) -> list[str]:
    notes = [str(n) for n in getattr(exc, "__notes__", [])]
    return [n for n in notes if "reproduce_failure" in n or "Falsifying" in n or "seed" in n.lower()][:3]


def _with_evidence(f: Finding, **extra: Any) -> Finding:
    return dataclasses.replace(f, evidence={**f.evidence, **extra})


def conclude(res: CaseResult, tr: Tracker, error: BaseException | None, prop_target: str | None) -> CaseResult:
    """Fold a tracker (and the exception hypothesis raised, if any) into the case result."""
    if error is not None:
        notes = _hyp_notes(error)
        if tr.last_fail is not None and isinstance(error, AssertionError):
            scenario, findings = tr.last_fail
            first = True
            for f in findings:
                if f.grade is Grade.FAIL and first:
                    f = _with_evidence(f, hypothesis=notes, examples_before_failure=tr.examples)
                    first = False
                res.findings.append(f)
            res.scenario_toml = scenario.to_toml()
        else:
            res.findings.append(Finding(Grade.FAIL, res.clauses,
                                        f"the property crashed: {type(error).__name__}: {str(error)[:300]}",
                                        {"hypothesis": notes}))
            if tr.last_fail is not None:
                res.scenario_toml = tr.last_fail[0].to_toml()
    if not any(f.grade is Grade.FAIL for f in res.findings):
        res.findings.extend(tr.soft.values())
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(tr.reached.items()))
    res.findings.append(Finding(Grade.PASS, res.clauses, f"{tr.examples} examples; reached {summary or 'nothing'}",
                                {"examples": tr.examples, "reached": dict(tr.reached)}))
    if prop_target and error is None and tr.examples and not tr.reached.get(prop_target):
        res.findings.append(Finding(Grade.INFO, res.clauses,
                                    f"no generated example reached {prop_target} ({tr.examples} examples)",
                                    {"reached": dict(tr.reached)}))
    return res


def run_tracked(res: CaseResult, tr: Tracker, test: Callable[[], None], prop_target: str | None) -> CaseResult:
    """Run ``test`` (a hypothesis test that reports to ``tr``), time it into ``res`` and
    ``conclude``."""
    t0 = time.perf_counter()
    error: BaseException | None = None
    try:
        test()
    except unittest.SkipTest:
        pass  # nothing to run: a replay-only campaign (conformance.campaign) with nothing saved
    except Exception as exc:  # hypothesis re-raises the minimal failure (or a crash)
        error = exc
    res.duration_s = time.perf_counter() - t0
    return conclude(res, tr, error, prop_target)
