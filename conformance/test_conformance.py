"""Collected by ``pytest --pyargs conformance``: the suite against the factory given with
``--recorder-factory`` (or ``CALLSIM_RECORDER_FACTORY``; default: the reference recorder)."""

from conformance.suite import RecorderConformanceTests


class TestConformance(RecorderConformanceTests):
    """Every case and property of the suite, against the selected recorder factory."""
