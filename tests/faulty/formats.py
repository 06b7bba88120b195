"""Faulty recorders that write the wrong encoding or rate (family "formats")."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recorder import codecs
from recorder.filerecorder import JobParams, _Job

from ._base import EncoderWrap, FaultyRecorder

__all__ = ["RateIgnored", "RateHeaderLies", "UlawWrittenAsAlaw", "U8NotOffset", "S16BigEndian",
           "ImaNibblesSwapped"]


class _RateIgnoredJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, dataclasses.replace(params, rate=8000), first_tick)
        self.params = params  # the header still states the requested rate


class RateIgnored(FaultyRecorder):
    """Bug: the audio is never resampled (always 8000 samples/s) but the header states the
    requested rate, so 6/11/11.025 kHz files play at the wrong speed and length.

    Breaks SPEC-RATES.
    """

    BREAKS = "SPEC-RATES"
    job_class = _RateIgnoredJob


class _RateLiesJob(_Job):
    def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
        super().__init__(rec, params, first_tick)
        self.params = dataclasses.replace(params, rate=8000)  # header written for 8 kHz


class RateHeaderLies(FaultyRecorder):
    """Bug: the audio is resampled to the requested rate but the header says 8000 Hz.

    Breaks SPEC-RATES.
    """

    BREAKS = "SPEC-RATES"
    job_class = _RateLiesJob


def _fmt_job(fmt: str, make: Any) -> type[_Job]:
    class _Job_(_Job):
        def __init__(self, rec: Any, params: JobParams, first_tick: int) -> None:
            super().__init__(rec, params, first_tick)
            if params.file_format == fmt:
                self.encoder = make()

    return _Job_


def _xor80(b: bytes) -> bytes:
    return (np.frombuffer(b, np.uint8) ^ 0x80).tobytes()


def _byteswap16(b: bytes) -> bytes:
    return np.frombuffer(b, "<i2").astype(">i2").tobytes()


def _swap_ima_nibbles(b: bytes) -> bytes:
    # whole 256-byte blocks only (the encoder holds back partial blocks); keep the 4-byte headers
    a = np.frombuffer(b, np.uint8).reshape(-1, codecs.IMA_BLOCK_BYTES).copy()
    body = a[:, 4:]
    a[:, 4:] = ((body & 0x0F) << 4) | (body >> 4)
    return a.tobytes()


class UlawWrittenAsAlaw(FaultyRecorder):
    """Bug: ``ulaw`` files get the mu-law header but A-law data (one table for both).

    Breaks SPEC-FORMATS.
    """

    BREAKS = "SPEC-FORMATS"
    job_class = _fmt_job("ulaw", lambda: codecs.make_encoder("alaw"))


class U8NotOffset(FaultyRecorder):
    """Bug: ``u8bit`` stores the signed high byte without the +128 offset.

    Breaks SPEC-FORMATS.
    """

    BREAKS = "SPEC-FORMATS"
    job_class = _fmt_job("u8bit", lambda: EncoderWrap(codecs.make_encoder("u8bit"), _xor80))


class S16BigEndian(FaultyRecorder):
    """Bug: ``s16bit`` samples are written big-endian (``>i2``) in a little-endian RIFF file.

    Breaks SPEC-FORMATS.
    """

    BREAKS = "SPEC-FORMATS"
    job_class = _fmt_job("s16bit", lambda: EncoderWrap(codecs.make_encoder("s16bit"), _byteswap16))


class ImaNibblesSwapped(FaultyRecorder):
    """Bug: IMA ADPCM codes packed high nibble first (the OKI/.vox order) instead of low first.

    Breaks SPEC-FORMATS.
    """

    BREAKS = "SPEC-FORMATS"
    job_class = _fmt_job("ima", lambda: EncoderWrap(codecs.make_encoder("ima"), _swap_ima_nibbles))
