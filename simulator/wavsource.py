"""WAV input files (``kind = "file"`` audio and speech clips): checked before use, read by span.

This module owns reading audio files from disk. ``check_wav(path)`` refuses anything that is not
a readable regular WAV file of a supported layout *before* libsndfile sees it: a missing file,
a folder, a FIFO, a device or a socket (``os.stat`` and ``stat.S_ISREG`` on the opened
descriptor: a FIFO is opened non-blocking, so nothing can hang), a file libsndfile cannot read,
a container other than WAV / WAVE_FORMAT_EXTENSIBLE / RF64, more than ``MAX_CHANNELS``
channels, or a sample rate outside ``[MIN_RATE, MAX_RATE]`` Hz or whose ratio to 8000 Hz does
not reduce to terms of at most ``MAX_RATIO_TERM`` (a polyphase resampler's filter grows with the
terms). Each refusal is a ``WavInputError`` whose message says why in one line.

``read_span(info, a, b)`` returns the file's samples ``[a, b)`` at 8 kHz (float64, mono, int16
scale) and never reads more of the file than that span needs: the 8 kHz signal is cut into
blocks of ``BLOCK`` samples; block ``k`` is made from the input frames its filter support
covers, read with ``SoundFile.seek``/``read`` in pieces of at most ``_READ_VALUES`` values and
mixed to mono piece by piece, then resampled with ``scipy.signal.resample_poly`` over that
window only. The window starts at a multiple of the reduced ratio's ``down``, so every output
sample is the same polyphase sum over the same input samples as resampling the whole file at
once (``tests/test_hostile.py`` checks it against ``resample_poly`` of the whole file). A block
depends only on the file and ``k``, so any render order gives the same bytes, and memory is a
few blocks (an LRU cache of ``_CACHE_BLOCKS``) whatever the file's size or length.

Samples that are not finite (a float WAV may hold NaN or infinity) are read as 0, so no NaN ever
reaches the mix.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.signal import resample_poly

from callsim.contract.units import TICKS_PER_SECOND

__all__ = [
    "BLOCK",
    "MAX_CHANNELS",
    "MAX_RATE",
    "MAX_RATIO_TERM",
    "MIN_RATE",
    "WAV_FORMATS",
    "WavInfo",
    "WavInputError",
    "check_wav",
    "read_span",
]

SAMPLE_RATE = TICKS_PER_SECOND
#: Sample rates a WAV input may have (Hz).
MIN_RATE, MAX_RATE = 1000, 384_000
#: The reduced resampling ratio ``up/down`` (``rate`` to 8000 Hz) may have no larger term: the
#: polyphase filter has ``20 * max(up, down) + 1`` taps. Every common rate qualifies (11025 Hz
#: is 320/441, 44100 Hz 80/441, 48000 Hz 1/6); a rate such as 44101 Hz (8000/44101) does not.
MAX_RATIO_TERM = 2000
MAX_CHANNELS = 64
#: libsndfile's container names this module reads.
WAV_FORMATS = ("WAV", "WAVEX", "RF64")
#: Samples at 8 kHz per cached block.
BLOCK = 1 << 15
_CACHE_BLOCKS = 48  # at most 48 * 256 KiB of cached blocks
_READ_VALUES = 1 << 18  # frames * channels read from the file at once


class WavInputError(ValueError):
    """A file that cannot serve as WAV input; the message says why (one line)."""


@dataclass(frozen=True)
class WavInfo:
    """What ``check_wav`` learnt about a file: its identity (path, size, mtime: the block cache
    key, so an edited file is read afresh) and its layout."""

    path: str
    rate: int
    channels: int
    frames: int
    size: int
    mtime_ns: int

    @property
    def ratio(self) -> tuple[int, int]:
        """The reduced resampling ratio (up, down) from ``rate`` to 8000 Hz."""
        g = math.gcd(self.rate, SAMPLE_RATE)
        return SAMPLE_RATE // g, self.rate // g

    @property
    def length(self) -> int:
        """Samples at 8 kHz: ``ceil(frames * 8000 / rate)`` (``resample_poly``'s output length)."""
        up, down = self.ratio
        return -(-self.frames * up // down)


def _open_regular(path: str) -> tuple[int, os.stat_result]:
    """An open read-only descriptor of ``path`` and its stat, refusing a non-regular file.

    The path is stat'ed first (a folder or a device is refused without opening it) and the
    opened descriptor again (``O_NONBLOCK``: opening a FIFO never waits for a writer), so a file
    swapped for a FIFO in between is refused too."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise WavInputError(f"file not found: {path}") from None
    except OSError as exc:
        raise WavInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    _require_regular(path, st)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise WavInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    try:
        _require_regular(path, st)
    except WavInputError:
        os.close(fd)
        raise
    return fd, st


def _require_regular(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise WavInputError(f"{path} is a folder, not a WAV file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise WavInputError(f"{path} is {kind}, not a WAV file")


@contextmanager
def _soundfile(path: str) -> Iterator[tuple[sf.SoundFile, os.stat_result]]:
    """The open ``SoundFile`` of a regular file ``path`` (and its stat); the descriptor is ours
    and closed on exit, whatever libsndfile did."""
    fd, st = _open_regular(path)
    try:
        try:
            f = sf.SoundFile(fd, closefd=False)
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors (LibsndfileError, RuntimeError, ...)
            detail = "the file is empty" if st.st_size == 0 else " ".join(str(exc).split()) or type(exc).__name__
            detail = re.sub(r"^Error opening \S+: ", "libsndfile: ", detail)  # the \S+ is our descriptor
            raise WavInputError(f"{path} is not a readable WAV file ({detail})") from None
        with f:
            yield f, st
    finally:
        os.close(fd)


def check_wav(path: str | os.PathLike[str]) -> WavInfo:
    """Check that ``path`` is a WAV file this module can read and resample; ``WavInputError``
    (one line, naming the path and the reason) otherwise."""
    p = str(Path(path).absolute())
    with _soundfile(p) as (f, st):
        fmt, rate, channels, frames = f.format, int(f.samplerate), int(f.channels), int(f.frames)
    if fmt not in WAV_FORMATS:
        raise WavInputError(f"{p} is a {fmt} file, not a WAV file (WAV, WAVE_FORMAT_EXTENSIBLE or RF64)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise WavInputError(f"{p} has a sample rate of {rate} Hz; WAV input must be {MIN_RATE} to {MAX_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise WavInputError(f"{p} has {channels} channels; WAV input has 1 to {MAX_CHANNELS}")
    info = WavInfo(p, rate, channels, max(frames, 0), st.st_size, st.st_mtime_ns)
    up, down = info.ratio
    if max(up, down) > MAX_RATIO_TERM:
        raise WavInputError(f"{p} has a sample rate of {rate} Hz, whose ratio to 8000 Hz ({up}/{down}) is too "
                            "fine to resample; convert the file to a common rate (8000, 11025, 16000, 44100, "
                            "48000 Hz, ...)")
    return info


def read_span(info: WavInfo, a: int, b: int) -> npt.NDArray[np.float64]:
    """The file's 8 kHz samples ``[a, b)`` (zero past its end), float64 mono in the int16 scale."""
    out = np.zeros(max(b - a, 0), dtype=np.float64)
    lo, hi = max(a, 0), min(b, info.length)
    if lo >= hi:
        return out
    for k in range(lo // BLOCK, (hi - 1) // BLOCK + 1):
        block = _block(info, k)
        s, e = max(lo, k * BLOCK), min(hi, k * BLOCK + block.size)
        out[s - a : e - a] = block[s - k * BLOCK : e - k * BLOCK]
    return out


def _read_mono(f: sf.SoundFile, channels: int, start: int, stop: int) -> npt.NDArray[np.float64]:
    """Input frames ``[start, stop)`` mixed to mono (channel mean) in the int16 scale, read in
    pieces of at most ``_READ_VALUES`` values; non-finite samples read as 0."""
    out = np.empty(stop - start, dtype=np.float64)
    step = max(1, _READ_VALUES // channels)
    f.seek(start)
    pos = start
    while pos < stop:
        piece = f.read(min(step, stop - pos), dtype="float64", always_2d=True)
        n = piece.shape[0]
        if n == 0:  # the file holds fewer frames than its header said: the rest is zero
            out[pos - start :] = 0.0
            break
        mono = piece.mean(axis=1) * 32768.0  # back to the int16 scale soundfile divided by
        out[pos - start : pos - start + n] = mono
        pos += n
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


@lru_cache(maxsize=_CACHE_BLOCKS)
def _block(info: WavInfo, k: int) -> npt.NDArray[np.float64]:
    """8 kHz samples ``[k*BLOCK, (k+1)*BLOCK)`` (shorter at the end of the file), read-only."""
    up, down = info.ratio
    m0, m1 = k * BLOCK, min((k + 1) * BLOCK, info.length)
    with _soundfile(info.path) as (f, _st):
        if up == down == 1:
            y = _read_mono(f, info.channels, m0, min(m1, info.frames))
        else:
            half = 10 * max(up, down)  # resample_poly's filter half-length (upsampled samples)
            # Input frames whose filter support reaches outputs [m0, m1), widened to a start at
            # a multiple of down (same polyphase phase as the whole file) and clipped to the file.
            i0 = max(0, (m0 * down - half) // up - 1)
            i0 -= i0 % down
            i1 = min(info.frames, -(-(m1 * down + half) // up) + 1)
            x = _read_mono(f, info.channels, i0, i1)
            offset = i0 // down * up  # the output index of the window's first sample
            y = resample_poly(x, up, down)[m0 - offset : m1 - offset]
            if y.size < m1 - m0:  # cannot happen with the window above; never return short
                y = np.concatenate([y, np.zeros(m1 - m0 - y.size)])
    y = np.ascontiguousarray(y, dtype=np.float64)
    y.setflags(write=False)
    return y
