"""G.711 A-law and mu-law: the encode tables and their byte-per-sample streaming encoder.

This module owns how an int16 sample becomes one A-law (WAV tag 0x0006) or mu-law (0x0007)
byte. The rounding is CPython ``audioop.lin2alaw`` / ``lin2ulaw``, bit for bit on all 65 536
inputs (pinned in ``tests/test_codecs.py``). The tables are built here from the G.711 segment
algorithm (A-law on ``x >> 3``, mu-law on ``x >> 2`` with bias 33 and clip 8159, arithmetic
shifts), not copied from audioop. libsndfile, sox and ffmpeg *encoders* pick the neighbouring
code at some decision boundaries (127 to 1020 of the 65 536 inputs); all decoders agree on
all 256 codes, which is why conformance checks compare decoded samples, not encoder bytes.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from .encoder import StreamEncoder

__all__ = ["G711Encoder", "Law", "alaw_table", "ulaw_table"]

Law = Literal["alaw", "ulaw"]

_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _all_int16_by_uint16_index() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered so that position ``k`` holds ``uint16(k)`` viewed as int16."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def alaw_table() -> npt.NDArray[np.uint8]:
    """65 536-entry A-law encode table indexed by ``pcm.view(np.uint16)``.

    G.711 A-law on the 13-bit value ``x >> 3`` (floor shift), magnitude ``-v - 1`` for
    negatives, even-bit inversion mask 0xD5 / 0x55: the same decisions as audioop.lin2alaw.
    """
    v = _all_int16_by_uint16_index() >> 3
    neg = v < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -v - 1, v)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")  # first segment with end >= mag
    shift = np.where(seg < 2, 1, seg)
    code = (np.minimum(seg, 7) << 4) | ((mag >> np.minimum(shift, 7)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def ulaw_table() -> npt.NDArray[np.uint8]:
    """65 536-entry mu-law encode table indexed by ``pcm.view(np.uint16)``.

    G.711 mu-law on the 14-bit value ``x >> 2`` (floor shift), magnitude clipped to 8159,
    bias 33, all bits inverted (0x7F mask for negatives): the decisions of audioop.lin2ulaw.
    """
    v = _all_int16_by_uint16_index() >> 2
    neg = v < 0
    mask = np.where(neg, 0x7F, 0xFF)
    mag = np.minimum(np.where(neg, -v, v), 8159) + 33
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")
    code = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


@cache
def _shared_table(law: Law) -> npt.NDArray[np.uint8]:
    # Built once per process (a few ms) and shared by every encoder, so it is made read-only.
    table = alaw_table() if law == "alaw" else ulaw_table()
    table.flags.writeable = False
    return table


class G711Encoder(StreamEncoder):
    """Stateless byte-per-sample encoder: one lookup in the 65 536-entry table of ``law``."""

    def __init__(self, law: Law) -> None:
        super().__init__()
        self._table = _shared_table(law)

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        return self._table[pcm.view(np.uint16)].tobytes()
