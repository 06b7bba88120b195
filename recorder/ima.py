"""IMA ADPCM in Microsoft/IMA WAV blocks (tag 0x0011): block layout and streaming encoder.

This module owns how int16 PCM becomes the 256-byte IMA blocks of a WAV data chunk:

* Mono blocks of :data:`IMA_BLOCK_BYTES` = 256 bytes hold :data:`IMA_SAMPLES_PER_BLOCK` = 505
  samples. The block header is int16 first sample (the predictor), uint8 step index carried
  over from the previous block (as libsndfile does), uint8 0; then 252 bytes of codes, low
  nibble first.
* The arithmetic is the classic IMA reference encoder (identical in libsndfile's and audioop's
  encoders; the data chunk is byte-identical to libsndfile's, pinned in
  ``tests/test_codecs.py``), run through ``audioop.lin2adpcm`` once per block: a C loop, so
  there is no Python per-sample loop to speed up. audioop packs the first sample of a pair in
  the high nibble, so each block's codes are nibble-swapped.
* The last partial block is **padded with zero samples** (libsndfile's choice: a player that
  ignores ``fact`` decays to silence rather than holding a level); the WAV ``fact`` chunk
  carries the true sample count (see :mod:`recorder.wav`).
"""

from __future__ import annotations

import struct
import warnings

import numpy as np
import numpy.typing as npt

from .encoder import StreamEncoder

with warnings.catch_warnings():
    # stdlib audioop is deprecated on 3.11/3.12; on >= 3.13 the audioop-lts package provides it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = ["IMA_BLOCK_BYTES", "IMA_SAMPLES_PER_BLOCK", "ImaEncoder"]

IMA_BLOCK_BYTES = 256
IMA_SAMPLES_PER_BLOCK = 505  # (256 - 4) * 2 + 1: the header sample counts as the first sample

# audioop packs the first sample of a pair in the high nibble; WAV 0x0011 wants it low.
_NIBBLE_SWAP = bytes(((b & 0x0F) << 4) | (b >> 4) for b in range(256))


class ImaEncoder(StreamEncoder):
    """IMA ADPCM in 256-byte / 505-sample WAV blocks; holds back a partial block."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = np.empty(0, dtype=np.int16)
        self._index = 0  # step index carried from block to block, as libsndfile does

    def _blocks(self, samples: npt.NDArray[np.int16]) -> bytes:
        """Whole blocks for ``samples`` (a multiple of 505 long), advancing the step index."""
        spb = IMA_SAMPLES_PER_BLOCK
        raw = samples.astype("=i2", copy=False).tobytes()  # audioop reads native order
        firsts = samples[::spb].tolist()
        out = bytearray()
        index = self._index
        for k, first in enumerate(firsts):
            start = (k * spb + 1) * 2
            codes, (_, new_index) = audioop.lin2adpcm(
                raw[start : start + (spb - 1) * 2], 2, (first, index)
            )
            out += struct.pack("<hBB", first, index, 0)
            out += codes.translate(_NIBBLE_SWAP)
            index = new_index
        self._index = index
        return bytes(out)

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        buf = np.concatenate((self._pending, pcm)) if self._pending.size else pcm
        n_whole = (buf.size // IMA_SAMPLES_PER_BLOCK) * IMA_SAMPLES_PER_BLOCK
        self._pending = buf[n_whole:].copy()
        return self._blocks(buf[:n_whole]) if n_whole else b""

    def _flush(self) -> bytes:
        if not self._pending.size:
            return b""
        block = np.zeros(IMA_SAMPLES_PER_BLOCK, dtype=np.int16)  # zero padding, as libsndfile
        block[: self._pending.size] = self._pending
        self._pending = block[:0]
        return self._blocks(block)
