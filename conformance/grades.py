"""Grades, findings and case results: the vocabulary of every conformance verdict.

A *finding* is one observation a check makes (a grade, the clauses it concerns, a message and
evidence). A *case result* folds a case's findings into one grade: the worst of them (FAIL >
NON-STRICT > INFO > PASS); UNSUPPORTED when the implementation declared it lacks a capability
the case needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Grade", "Finding", "CaseResult", "worst"]


class Grade(Enum):
    PASS = "PASS"
    FAIL = "FAIL"  # a requirement the text fixes is broken
    NON_STRICT = "NON-STRICT"  # one of our decisions not followed where the text allows others
    INFO = "INFO"  # behaviour reported only
    UNSUPPORTED = "UNSUPPORTED"  # a declared-missing optional capability

    @property
    def rank(self) -> int:
        return {"PASS": 0, "UNSUPPORTED": 1, "INFO": 2, "NON-STRICT": 3, "FAIL": 4}[self.value]


def worst(grades: list[Grade]) -> Grade:
    return max(grades, key=lambda g: g.rank, default=Grade.PASS)


@dataclass(frozen=True)
class Finding:
    """One observation: ``grade`` for ``clauses``, with a message and evidence."""

    grade: Grade
    clauses: tuple[str, ...]
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        evidence = self.evidence
        if self.grade is Grade.FAIL and "quote" not in evidence:
            # every FAIL is shown with the sentence of the text it rests on
            from .clauses import CLAUSES

            quote = next((CLAUSES[c].quote for c in self.clauses if c in CLAUSES and CLAUSES[c].quote), "")
            if quote:
                evidence = {**evidence, "quote": quote}
        return {"grade": self.grade.value, "clauses": list(self.clauses), "message": self.message,
                "evidence": evidence}


@dataclass
class CaseResult:
    """The verdict of one case."""

    id: str
    clauses: tuple[str, ...]
    findings: list[Finding] = field(default_factory=list)
    replay: str | None = None
    scenario_toml: str | None = None
    unsupported: str | None = None
    duration_s: float = 0.0

    @property
    def grade(self) -> Grade:
        if self.unsupported:
            return Grade.UNSUPPORTED
        return worst([f.grade for f in self.findings])

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.grade is Grade.FAIL]

    def summary(self) -> str:
        bad = [f for f in self.findings if f.grade is not Grade.PASS]
        if self.unsupported:
            return f"UNSUPPORTED: {self.unsupported}"
        if not bad:
            return "PASS"
        return "; ".join(f"{f.grade.value} [{', '.join(f.clauses)}] {f.message}" for f in bad)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CaseResult:
        res = cls(d["id"], tuple(d["clauses"]), replay=d.get("replay"), scenario_toml=d.get("scenario"),
                  unsupported=d.get("unsupported"), duration_s=d.get("duration_s", 0.0))
        res.findings = [Finding(Grade(f["grade"]), tuple(f["clauses"]), f["message"], f.get("evidence", {}))
                        for f in d.get("findings", [])]
        return res

    def mark_expected_failure(self) -> None:
        """The implementation listed this case as an expected failure: FAIL becomes INFO."""
        self.findings = [Finding(Grade.INFO, f.clauses, "expected failure: " + f.message, f.evidence)
                         if f.grade is Grade.FAIL else f for f in self.findings]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clauses": list(self.clauses),
            "grade": self.grade.value,
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings if f.grade is not Grade.PASS],
            "replay": self.replay,
            "scenario": self.scenario_toml,
            "unsupported": self.unsupported,
            "duration_s": round(self.duration_s, 4),
        }
