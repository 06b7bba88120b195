"""The registry of the recorder's six file encodings: what each is and how big its data gets.

This module owns the table of encodings (:data:`FORMATS`: WAV format tag, block geometry, fmt
and fact chunk shape), the size arithmetic of a data chunk (:func:`data_bytes`,
:func:`max_samples`) and :func:`make_encoder`, which picks the streaming encoder for a format
name. The encoders themselves live in one module per codec family:

* :mod:`recorder.g711` - ``alaw``, ``ulaw``
* :mod:`recorder.pcm` - ``s16bit``, ``u8bit``
* :mod:`recorder.ima` - ``ima`` (IMA ADPCM, 256-byte blocks)
* :mod:`recorder.oki` - ``oki`` (Dialogic ADPCM; optional compiled loop in
  :mod:`recorder._oki_numba`)

and the contract they share (:class:`~recorder.encoder.Encoder`) in :mod:`recorder.encoder`.
The WAV header layout lives in :mod:`recorder.wav`. The codec constants other code uses are
re-exported here so callers need only this module.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from .encoder import Encoder
from .g711 import G711Encoder, alaw_table, ulaw_table
from .ima import IMA_BLOCK_BYTES, IMA_SAMPLES_PER_BLOCK, ImaEncoder
from .oki import OKI_SAFE_LIMIT, OKI_STEPS, OkiEncoder
from .pcm import S16Encoder, U8Encoder

__all__ = [
    "FORMATS",
    "FormatInfo",
    "Encoder",
    "make_encoder",
    "data_bytes",
    "max_samples",
    "alaw_table",
    "ulaw_table",
    "IMA_BLOCK_BYTES",
    "IMA_SAMPLES_PER_BLOCK",
    "OKI_STEPS",
    "OKI_SAFE_LIMIT",
]


@dataclass(frozen=True)
class FormatInfo:
    """Static description of one file encoding (mono).

    ``block_align`` bytes hold ``samples_per_block`` samples; ``has_fact`` says whether the
    WAV file carries a ``fact`` chunk; ``fmt_extra`` is the fmt-chunk extension after cbSize
    (``None``: a plain 16-byte PCM fmt chunk without cbSize).
    """

    name: str
    format_tag: int
    bits_per_sample: int
    block_align: int
    samples_per_block: int
    has_fact: bool
    fmt_extra: bytes | None
    description: str

    def avg_bytes_per_sec(self, rate: int) -> int:
        """nAvgBytesPerSec: ``rate * block_align / samples_per_block``, rounded down.

        Gives 4055 for IMA at 8 kHz (what libsndfile writes and sndfile-info expects) and
        5512 for OKI at 11025 Hz.
        """
        return rate * self.block_align // self.samples_per_block


FORMATS: dict[str, FormatInfo] = {
    "alaw": FormatInfo("alaw", 0x0006, 8, 1, 1, True, b"", "G.711 A-law"),
    "ulaw": FormatInfo("ulaw", 0x0007, 8, 1, 1, True, b"", "G.711 mu-law"),
    "s16bit": FormatInfo("s16bit", 0x0001, 16, 2, 1, False, None, "signed 16-bit PCM"),
    "u8bit": FormatInfo("u8bit", 0x0001, 8, 1, 1, False, None, "unsigned 8-bit PCM"),
    "ima": FormatInfo(
        "ima",
        0x0011,
        4,
        IMA_BLOCK_BYTES,
        IMA_SAMPLES_PER_BLOCK,
        True,
        struct.pack("<H", IMA_SAMPLES_PER_BLOCK),
        "IMA ADPCM (Microsoft/IMA WAV layout)",
    ),
    "oki": FormatInfo("oki", 0x0017, 4, 1, 2, True, b"", "Dialogic OKI ADPCM"),
}


def _info(fmt: str) -> FormatInfo:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}") from None


def data_bytes(fmt: str, n_samples: int) -> int:
    """Size of the data chunk (without pad byte) holding ``n_samples`` samples."""
    if n_samples < 0:
        raise ValueError("n_samples must be >= 0")
    info = _info(fmt)
    return math.ceil(n_samples / info.samples_per_block) * info.block_align


def max_samples(fmt: str, max_bytes: int) -> int:
    """Largest ``n`` with ``data_bytes(fmt, n) <= max_bytes`` (whole blocks for IMA).

    ``max_bytes == 0`` gives 0; the spec's "0 means no limit" is the recorder's business.
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must be >= 0")
    info = _info(fmt)
    return (max_bytes // info.block_align) * info.samples_per_block


def make_encoder(fmt: str) -> Encoder:
    """A fresh streaming encoder for ``fmt`` (one of :data:`FORMATS`)."""
    _info(fmt)
    if fmt == "alaw":
        return G711Encoder("alaw")
    if fmt == "ulaw":
        return G711Encoder("ulaw")
    if fmt == "s16bit":
        return S16Encoder()
    if fmt == "u8bit":
        return U8Encoder()
    if fmt == "ima":
        return ImaEncoder()
    return OkiEncoder()
