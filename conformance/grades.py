"""Grades, findings and case results: the vocabulary of every conformance verdict.

A *finding* is one observation a check makes (a grade, the clauses it concerns, a message and
evidence). A *case result* folds a case's findings into one grade: the worst of them (ERROR >
FAIL > XFAIL > XPASS > NON-STRICT > INFO > PASS); UNSUPPORTED when the implementation declared
it lacks a capability the case needs.

Findings and case results hold plain JSON only: evidence, messages and IDs are coerced on
construction (``callsim.textsafe.plain``), so numpy numbers, tuples, enums, bytes or paths an
oracle or an implementation put there cannot break a pytest-xdist channel or ``json.dumps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from callsim.textsafe import plain, plain_str

from .clauses import CLAUSES

__all__ = ["Grade", "Finding", "CaseResult", "worst"]


class Grade(Enum):
    PASS = "PASS"
    FAIL = "FAIL"  # a requirement the text fixes is broken
    NON_STRICT = "NON-STRICT"  # one of our decisions not followed where the text allows others
    INFO = "INFO"  # behaviour reported only
    UNSUPPORTED = "UNSUPPORTED"  # a declared-missing optional capability
    XFAIL = "XFAIL"  # a FAIL the implementation listed as an expected failure (--xfail)
    XPASS = "XPASS"  # a case listed as an expected failure that did not fail
    ERROR = "ERROR"  # the harness could not grade the case (not set up, never run)

    @property
    def rank(self) -> int:
        return _RANK[self.value]


_RANK = {"PASS": 0, "UNSUPPORTED": 1, "INFO": 2, "NON-STRICT": 3, "XPASS": 4, "XFAIL": 5, "FAIL": 6, "ERROR": 7}


def worst(grades: list[Grade]) -> Grade:
    return max(grades, key=lambda g: g.rank, default=Grade.PASS)


@dataclass(frozen=True)
class Finding:
    """One observation: ``grade`` for ``clauses``, with a message and evidence.

    ``kind`` optionally names the kind of disagreement (``"cause SILENCE expected, TIMEOUT
    returned"``): findings of the same kind are one root cause in the report
    (``conformance.groups``). Left empty, the report derives it from the evidence or message.
    """

    grade: Grade
    clauses: tuple[str, ...]
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    kind: str = ""

    def __post_init__(self) -> None:
        ev = self.evidence if isinstance(self.evidence, dict) else {"value": self.evidence}
        object.__setattr__(self, "grade", Grade(self.grade))
        object.__setattr__(self, "clauses", tuple(plain_str(c) for c in self.clauses))
        object.__setattr__(self, "message", plain_str(self.message))
        object.__setattr__(self, "evidence", plain(ev))
        object.__setattr__(self, "kind", plain_str(self.kind or ""))

    @property
    def quote(self) -> str:
        """The sentence of the spec a FAIL breaks: the quote of its first SPEC clause ("" when
        it names none, which ``tests/test_teeth.py`` forbids for every FAIL the suite gives a faulty recorder)."""
        for cid in self.clauses:
            cl = CLAUSES.get(cid)
            if cl is not None and cl.fixed:
                return cl.quote
        return ""

    def to_json(self) -> dict[str, Any]:
        d = {"grade": self.grade.value, "clauses": list(self.clauses), "message": self.message,
             "evidence": self.evidence}
        if self.grade is Grade.FAIL:
            d["quote"] = self.quote
        if self.kind:
            d["kind"] = self.kind
        return d


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

    def __post_init__(self) -> None:
        self.id = plain_str(self.id)
        self.clauses = tuple(plain_str(c) for c in self.clauses)
        self.unsupported = None if self.unsupported is None else plain_str(self.unsupported)
        d = plain(self.duration_s)
        self.duration_s = d if isinstance(d, (int, float)) else 0.0

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
        res.findings = [Finding(Grade(f["grade"]), tuple(f["clauses"]), f["message"], f.get("evidence", {}),
                                f.get("kind", "")) for f in d.get("findings", [])]
        return res

    @property
    def expected_failure(self) -> bool:
        """Listed as an expected failure (``mark_expected_failure`` was applied)."""
        return any(f.grade in (Grade.XFAIL, Grade.XPASS) for f in self.findings)

    def mark_expected_failure(self) -> None:
        """The implementation listed this case as an expected failure: each FAIL becomes XFAIL;
        a case with no FAIL (that ran) gets an XPASS finding. Applying it twice changes nothing."""
        if self.expected_failure or self.unsupported:
            return
        if any(f.grade is Grade.FAIL for f in self.findings):
            self.findings = [Finding(Grade.XFAIL, f.clauses, "expected failure: " + f.message, f.evidence, f.kind)
                             if f.grade is Grade.FAIL else f for f in self.findings]
        elif not any(f.grade is Grade.ERROR for f in self.findings):
            self.findings.append(Finding(Grade.XPASS, self.clauses, "listed as an expected failure, but the case "
                                         "did not fail: take it off the expected-failures list"))

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
            "expected_failure": self.expected_failure,
        }
