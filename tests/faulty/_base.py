"""Shared machinery of the faulty recorders: a ``FileRecorder`` subclass that can swap its job
class, and small wrappers (encoder, store writer) through which one bug is injected.

Each faulty recorder is the reference recorder with exactly one realistic bug; the class
attributes ``BREAKS`` (the clause ID it violates, from ``conformance.clauses``) and ``GRADE``
(``"FAIL"`` for a ``SPEC-*`` clause, ``"NON-STRICT"`` for an ``SD-*`` decision) say what the
conformance suite must report; ``ALSO`` lists further clauses it touches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import recorder.filerecorder as fr
from recorder import FileRecorder

__all__ = ["FaultyRecorder", "FaultyJob", "EncoderWrap", "WriterWrap"]

FaultyJob = fr._Job


class FaultyRecorder(FileRecorder):
    """The reference recorder with one bug; subclasses set ``BREAKS`` and maybe ``job_class``."""

    BREAKS: ClassVar[str] = ""
    GRADE: ClassVar[str] = "FAIL"
    #: further clauses the bug touches (cases naming them are run in the fast suite check)
    ALSO: ClassVar[tuple[str, ...]] = ()
    job_class: ClassVar[type[fr._Job]] = fr._Job

    def _begin(self, params: fr.JobParams) -> fr._Job:
        if "job_class" in vars(FileRecorder):
            return super()._begin(params)  # the lead's hook: FileRecorder builds self.job_class
        # Until then: swap the module's job class only for the duration of this call (single
        # threaded, restored in ``finally``), so no other recorder sees the faulty job.
        saved = fr._Job
        fr._Job = self.job_class  # type: ignore[misc]
        try:
            return super()._begin(params)
        finally:
            fr._Job = saved  # type: ignore[misc]


class EncoderWrap:
    """An encoder whose every output chunk passes through ``transform`` (a codec bug)."""

    def __init__(self, inner: Any, transform: Callable[[bytes], bytes]) -> None:
        self.inner = inner
        self.transform = transform

    def encode(self, pcm: np.ndarray) -> bytes:
        return self.transform(self.inner.encode(pcm))

    def flush(self) -> bytes:
        return self.transform(self.inner.flush())


class WriterWrap:
    """A store writer that lets a header bug rewrite the header on its way to the store.

    ``on_header(header, final)`` returns the bytes to store for the provisional header (the
    first write, ``final=False``) and for the final patch at offset 0 (``final=True``); it may
    return ``None`` to drop that write/patch entirely.
    """

    def __init__(self, inner: Any, on_header: Callable[[bytes, bool], bytes | None]) -> None:
        self.inner = inner
        self.on_header = on_header
        self.first = True

    def write(self, data: bytes) -> None:
        if self.first:
            self.first = False
            out = self.on_header(bytes(data), False)
            if out is None:
                return
            data = out
        self.inner.write(data)

    def patch(self, offset: int, data: bytes) -> None:
        if offset == 0:
            out = self.on_header(bytes(data), True)
            if out is None:
                return
            data = out
        self.inner.patch(offset, data)

    def commit(self) -> None:
        self.inner.commit()

    def abort(self) -> None:
        self.inner.abort()
