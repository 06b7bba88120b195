"""Collected by ``pytest --pyargs conformance``: the suite against the factory given with
``--recorder-factory`` (or ``CALLSIM_RECORDER_FACTORY``; default: the reference recorder)."""

from typing import Any

import pytest

from conformance.suite import RecorderConformanceTests


class TestConformance(RecorderConformanceTests):
    """Every case and property of the suite, against the selected recorder factory."""

    @pytest.fixture
    def recorder_factory(self, callsim_factory: Any) -> Any:
        return callsim_factory
