"""WAV (RIFF) header layout for the recorder's mono files.

This module owns the bytes before and after the data chunk: ``RIFF``/``WAVE``, the ``fmt ``
chunk, the ``fact`` chunk where the encoding needs one, the ``data`` chunk header, and the pad
byte that follows an odd-length data chunk. The data bytes themselves come from
:mod:`recorder.codecs`.

Layout decisions (pinned by ``tests/test_wav_header.py``):

* Chunk order ``fmt `` [``fact``] ``data``, nothing else (no LIST/INFO), so the header length
  depends only on the format and a writer can write a provisional header and patch it later:
  44 bytes for ``s16bit``/``u8bit`` (16-byte PCM fmt, no ``fact``), 58 for ``alaw``/``ulaw``/
  ``oki`` (18-byte fmt with cbSize 0, ``fact``), 60 for ``ima`` (20-byte fmt: cbSize 2 and
  wSamplesPerBlock 505, ``fact``).
* ``fact`` holds the **true** sample count (as sox writes; libsndfile writes the padded count
  for IMA). Decoders ignore it and return whole IMA blocks / whole OKI bytes.
* OKI uses tag 0x0017 (WAVE_FORMAT_DIALOGIC_OKI_ADPCM): 4 bits per sample, nBlockAlign 1,
  cbSize 0, nAvgBytesPerSec ``rate // 2``. Only ffmpeg reads this tag; the data chunk is a raw
  .vox stream that libsndfile (RAW/VOX_ADPCM) and ``sox -t vox`` decode.
* nAvgBytesPerSec is ``rate * nBlockAlign // samplesPerBlock`` (4055 for IMA at 8 kHz).
* RIFF even-padding: a data chunk of odd length is followed by one zero pad byte
  (:func:`data_pad`); the RIFF size counts it, the data chunk size does not.
"""

from __future__ import annotations

import struct

from callsim.contract import RATES

from .codecs import FORMATS, FormatInfo, data_bytes

__all__ = ["RATES", "header_size", "wav_header", "data_pad", "riff_size"]



def _info(fmt: str) -> FormatInfo:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}") from None


def _fmt_body(info: FormatInfo, rate: int) -> bytes:
    body = struct.pack(
        "<HHIIHH",
        info.format_tag,
        1,  # mono
        rate,
        info.avg_bytes_per_sec(rate),
        info.block_align,
        info.bits_per_sample,
    )
    if info.fmt_extra is not None:
        body += struct.pack("<H", len(info.fmt_extra)) + info.fmt_extra
    return body


def header_size(fmt: str) -> int:
    """Length in bytes of :func:`wav_header` for ``fmt`` (independent of rate and length)."""
    info = _info(fmt)
    fmt_len = 16 if info.fmt_extra is None else 18 + len(info.fmt_extra)
    return 12 + 8 + fmt_len + (12 if info.has_fact else 0) + 8


def data_pad(n_data_bytes: int) -> bytes:
    """The pad byte that must follow a data chunk of ``n_data_bytes`` (RIFF word alignment)."""
    return b"\x00" if n_data_bytes % 2 else b""


def riff_size(fmt: str, n_samples: int) -> int:
    """The RIFF chunk size field: everything after the first 8 bytes, pad byte included."""
    n_data = data_bytes(fmt, n_samples)
    return header_size(fmt) - 8 + n_data + len(data_pad(n_data))


def wav_header(fmt: str, rate: int, n_samples: int) -> bytes:
    """Complete mono WAV header for ``n_samples`` samples of ``fmt`` at ``rate`` Hz.

    The data chunk (``codecs.data_bytes(fmt, n_samples)`` bytes) follows directly, then
    :func:`data_pad` of its length.
    """
    if rate not in RATES:
        raise ValueError(f"unsupported rate {rate}; expected one of {RATES}")
    info = _info(fmt)
    if n_samples < 0:
        raise ValueError("n_samples must be >= 0")
    n_data = data_bytes(fmt, n_samples)
    if riff_size(fmt, n_samples) > 0xFFFFFFFF:
        raise ValueError("file too large for a RIFF header")
    body = _fmt_body(info, rate)
    out = bytearray(b"RIFF")
    out += struct.pack("<I", riff_size(fmt, n_samples))
    out += b"WAVE"
    out += b"fmt " + struct.pack("<I", len(body)) + body
    if info.has_fact:
        out += b"fact" + struct.pack("<II", 4, n_samples)
    out += b"data" + struct.pack("<I", n_data)
    assert len(out) == header_size(fmt)
    return bytes(out)
