"""Linear PCM data: signed 16-bit little-endian and unsigned 8-bit, as streaming encoders.

This module owns the two WAV tag 0x0001 sample layouts the recorder writes. Both are stateless,
so any chunking of the input gives the same bytes.

* **s16bit** is little-endian two's complement (the int16 input as it is).
* **u8bit** is truncating ``(x >> 8) + 128``, as libsndfile, ffmpeg and audioop do (sox rounds
  instead); pinned against libsndfile in ``tests/test_codecs.py``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .encoder import StreamEncoder

__all__ = ["S16Encoder", "U8Encoder"]


class S16Encoder(StreamEncoder):
    """Signed 16-bit little-endian PCM."""

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        # No copy on little-endian hosts; a byte swap on big-endian ones.
        return pcm.astype("<i2", copy=False).tobytes()


class U8Encoder(StreamEncoder):
    """Unsigned 8-bit PCM (offset binary)."""

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        # Truncating conversion, like libsndfile: (x >> 8) + 128.
        return ((pcm >> 8) + 128).astype(np.uint8).tobytes()
