"""The pytest plugin (``pytest11`` entry point ``callsim_conformance``).

Adds ``--recorder-factory=MODULE:CALLABLE`` (default: the environment variable
``CALLSIM_RECORDER_FACTORY``, else the reference recorder) and the ``recorder_factory`` fixture
the conformance suite uses.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["pytest_addoption", "recorder_factory"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("callsim", "callsim conformance")
    group.addoption(
        "--recorder-factory",
        action="store",
        default=None,
        metavar="MODULE:CALLABLE",
        help="recorder factory under test: factory(channel) -> recorder "
        "(default: $CALLSIM_RECORDER_FACTORY, else the reference recorder.FileRecorder)",
    )


@pytest.fixture(scope="session")
def recorder_factory(request: Any) -> Any:
    """The factory under test, resolved from the option, the environment or the default."""
    from simulator.runner import load_factory

    spec = request.config.getoption("--recorder-factory") or os.environ.get("CALLSIM_RECORDER_FACTORY")
    factory = load_factory(spec)
    if factory is None:
        from recorder import FileRecorder

        factory = FileRecorder
    return factory
