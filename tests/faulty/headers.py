"""Faulty recorders whose WAV header is wrong (family "formats": SPEC-WAV).

Modelled on reported bugs: headers never finalised (FreeSWITCH #1787, oboe #2108), data size
off by the header (llfbandit/record #96), byte rate for two channels (janus PR 262), the header
written over the first samples (mediastreamer2 PR 32).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from recorder import wav
from recorder.filerecorder import JobParams, _Job

from ._base import FaultyRecorder, WriterWrap

__all__ = ["HeaderNeverFinalised", "RiffSizeNotPatched", "DataSizeIncludesHeader",
           "ByteRateDoubled", "ImaBlockAlignWrong", "ImaFactMissing", "HeaderOverwritesSamples"]

# Offsets in our headers: RIFF size 4, fmt body at 20 (tag 20, channels 22, rate 24,
# avg bytes/s 28, block align 32, bits 34); the data chunk size is the header's last 4 bytes.


def _header_job(mangle: Callable[[bytes, bool, JobParams], bytes | None]) -> type[_Job]:
    class _Job_(_Job):
        def open(self) -> None:
            # the reference open(), with the writer wrapped before the provisional header
            p = self.params
            inner = self.rec._channel.store.open_write(p.filename)
            self.writer = WriterWrap(inner, lambda h, final: mangle(h, final, p))
            header = wav.wav_header(p.file_format, p.rate, 0)
            if p.cipher is not None:
                self.plain = bytearray(header)
            else:
                self.writer.write(header)

    return _Job_


def _put32(h: bytes, offset: int, value: int) -> bytes:
    return h[:offset] + struct.pack("<I", value) + h[offset + 4:]


def _put16(h: bytes, offset: int, value: int) -> bytes:
    return h[:offset] + struct.pack("<H", value) + h[offset + 2:]


def _u32(h: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", h, offset)[0])


class HeaderNeverFinalised(FaultyRecorder):
    """Bug: the provisional header (RIFF and data sizes for 0 samples) is never patched, so a
    long recording looks like an empty "44-byte" file.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"
    job_class = _header_job(lambda h, final, p: None if final else h)


class RiffSizeNotPatched(FaultyRecorder):
    """Bug: only the data chunk size is patched at the end; the RIFF size keeps its provisional
    value.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"

    @staticmethod
    def _mangle(h: bytes, final: bool, p: JobParams) -> bytes | None:
        return _put32(h, 4, len(h) - 8) if final else h

    job_class = _header_job(_mangle)


class DataSizeIncludesHeader(FaultyRecorder):
    """Bug: the data chunk size is the file size (header included), larger than the data.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"

    @staticmethod
    def _mangle(h: bytes, final: bool, p: JobParams) -> bytes | None:
        return _put32(h, len(h) - 4, _u32(h, len(h) - 4) + len(h)) if final else h

    job_class = _header_job(_mangle)


class ByteRateDoubled(FaultyRecorder):
    """Bug: nAvgBytesPerSec is computed for two channels (twice the true byte rate), so players
    show half the duration.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"

    @staticmethod
    def _mangle(h: bytes, final: bool, p: JobParams) -> bytes | None:
        return _put32(h, 28, 2 * _u32(h, 28))

    job_class = _header_job(_mangle)


class ImaBlockAlignWrong(FaultyRecorder):
    """Bug: IMA ADPCM files declare nBlockAlign 512 while the data has 256-byte blocks.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"

    @staticmethod
    def _mangle(h: bytes, final: bool, p: JobParams) -> bytes | None:
        return _put16(h, 32, 512) if p.file_format == "ima" else h

    job_class = _header_job(_mangle)


class ImaFactMissing(FaultyRecorder):
    """Bug: IMA ADPCM files are written without the ``fact`` chunk (a PCM header layout reused),
    so the true sample count is lost.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"

    @staticmethod
    def _mangle(h: bytes, final: bool, p: JobParams) -> bytes | None:
        if p.file_format != "ima":
            return h
        at = h.index(b"fact")
        out = h[:at] + h[at + 12:]
        return _put32(out, 4, _u32(h, 4) - 12)

    job_class = _header_job(_mangle)


class HeaderOverwritesSamples(FaultyRecorder):
    """Bug: no room is reserved for the header; the final header is written over the first
    bytes of audio, so the file is shorter than its header says and the first samples are lost.

    Breaks SPEC-WAV.
    """

    BREAKS = "SPEC-WAV"
    job_class = _header_job(lambda h, final, p: h if final else None)
