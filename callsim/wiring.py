"""The composition root: the one place that picks the reference recorder as the default.

The simulator knows no recorder and the suite grades whatever factory it is given; the programs
at the edge (the ``callsim`` command, ``callsim plot``, the pytest plugin) resolve a factory
here. ``resolve_factory(None)`` is the reference ``recorder.FileRecorder``; a ``MODULE:CALLABLE``
spelling names any other (``--recorder-factory``, ``CALLSIM_RECORDER_FACTORY``).
"""

from __future__ import annotations

import importlib
from typing import Any

from callsim.contract import RecorderFactory

__all__ = ["REFERENCE", "FactoryError", "default_factory", "load_factory", "resolve_factory"]

#: How the reference recorder is spelled as a factory path (shown in help and replay lines).
REFERENCE = "recorder:FileRecorder"


class FactoryError(ValueError):
    """A factory path that does not name an importable callable (the message says why)."""


def default_factory() -> RecorderFactory:
    """The reference recorder's factory (``recorder.FileRecorder``)."""
    from recorder import FileRecorder

    return FileRecorder


def load_factory(spec: str) -> RecorderFactory:
    """Resolve ``MODULE:CALLABLE`` (attribute paths with dots allowed) to a callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"recorder factory must look like MODULE:CALLABLE, got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise FactoryError(f"recorder factory {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


def resolve_factory(spec: str | None) -> RecorderFactory:
    """The factory a ``--recorder-factory`` value names; the reference when it is empty."""
    return load_factory(spec) if spec else default_factory()
