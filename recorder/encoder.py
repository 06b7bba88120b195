"""The streaming encoder contract shared by every file encoding.

This module owns what all encoders have in common and nothing codec-specific: the
:class:`Encoder` protocol the recorder programs against, input validation (1-D int16 PCM) and
the end-of-stream lifecycle (:class:`StreamEncoder`). Each codec module subclasses
:class:`StreamEncoder` and supplies only its arithmetic.

Contract: ``encode(pcm)`` may hold back a partial block (IMA) or half a byte (OKI); ``flush()``
returns the rest and ends the stream. The concatenation of all outputs for any chunking of the
input equals encoding it in one call.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Encoder", "StreamEncoder", "as_pcm"]


class Encoder(Protocol):
    """A streaming encoder for one data chunk."""

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """Encode more samples; may hold back an incomplete block."""
        ...

    def flush(self) -> bytes:
        """Return the held-back remainder (padded) and end the stream."""
        ...


def as_pcm(pcm: Any) -> npt.NDArray[np.int16]:
    """``pcm`` as a 1-D int16 array; anything else is a caller bug, so it raises TypeError."""
    arr = np.asarray(pcm)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise TypeError(f"pcm must be a 1-D int16 array, got {arr.dtype} with shape {arr.shape}")
    return arr


class StreamEncoder:
    """Shared end-of-stream bookkeeping: encode after flush is an error, flush is idempotent.

    Subclasses implement ``_encode`` (validated input) and, if they hold anything back,
    ``_flush``.
    """

    def __init__(self) -> None:
        self._closed = False

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        if self._closed:
            raise RuntimeError("encoder already flushed")
        return self._encode(as_pcm(pcm))

    def flush(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        return self._flush()

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        raise NotImplementedError

    def _flush(self) -> bytes:
        return b""
