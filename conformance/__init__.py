"""callsim's conformance suite: clause-traced, graded, replayable checks for any FileRecorder.

``check_recorder(factory)`` runs it as a function; ``pytest --pyargs conformance`` runs it as
tests (``--recorder-factory=MODULE:CALLABLE``); ``RecorderConformanceTests`` is the base class
to subclass. See ``docs/conformance.md``.
"""

from .capabilities import Capabilities
from .clauses import CLAUSES, Clause
from .grades import CaseResult, Finding, Grade
from .report import Report
from .suite import RecorderConformanceTests, check_recorder

__all__ = [
    "CLAUSES",
    "Capabilities",
    "CaseResult",
    "Clause",
    "Finding",
    "Grade",
    "RecorderConformanceTests",
    "Report",
    "check_recorder",
]
