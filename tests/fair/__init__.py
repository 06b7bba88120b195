"""The fair recorder family: ``FairRecorder`` and ``make_factory`` (``tests/fair/recorder.py``)
take other accepted readings of the spec; ``tests/test_fairness.py`` runs the conformance suite
on each (the fairness matrix)."""

from .recorder import CONFLICTS, READING_DOCS, READINGS, FairRecorder, make_factory

__all__ = ["CONFLICTS", "FairRecorder", "READINGS", "READING_DOCS", "make_factory"]
