"""OKI / Dialogic ADPCM (WAV tag 0x0017): the encoder recurrence and its streaming encoder.

This module owns how int16 PCM becomes OKI ADPCM nibbles:

* 12-bit samples ``s = x >> 4``, the 49-step table :data:`OKI_STEPS`,
  ``code = min(7, 4|d| // step)`` for ``d = s - p`` with sign bit 8, reconstruction
  ``((2c+1)*step) >> 3``, step index moved by ``(-1, -1, -1, -1, 2, 4, 6, 8)[c]`` within
  [0, 48]; initial state predictor 0 / index 0; **high nibble first** (the raw .vox stream).
* **Saturation-safe**: the encoder never emits a code whose reconstruction leaves
  [-2048, 2047], because decoders disagree once the predictor clips (libsndfile and sox keep
  going differently from ffmpeg). When the nearest code would clip it takes the largest smaller
  magnitude of the same sign that fits, else magnitude 0 of the opposite sign. Since
  ``r <= |d| + step/8 <= |d| + 194``, no code can clip while ``|s| <= OKI_SAFE_LIMIT`` (1853).
* An odd sample count is completed by **one zero-valued pad sample** in the low nibble of the
  last byte (libsndfile's convention); the WAV ``fact`` chunk carries the true count.

There is one pure implementation of the recurrence, :func:`oki_codes`, plus its optional
compiled twin in :mod:`recorder._oki_numba`. ``tests/test_oki_numba.py`` proves the two
bit-identical for any chunking; ``tests/test_codecs.py``, ``tests/test_fast_paths.py`` and
``tests/test_oki_numba.py`` check them against a slow coder written from the rules above.

How :func:`oki_codes` is fast without a compiler: the whole encoder step is precomputed as a
table per step index, ``row[d] -> (code, s - p_next, next_row)``, and the loop tracks the
error ``e = s_n - p_{n+1}`` instead of the predictor, so ``d_{n+1} = (s_{n+1} - s_n) + e`` and
each sample costs one addition and one list lookup. The table always gives the nearest code;
only samples louder than :data:`OKI_SAFE_LIMIT` can need another one, so only runs of those
pay for the clip check (checking every sample made speech about 1.8x slower). Vectorising
across segments (running them from candidate start states and repairing the joins) was
measured slower than this loop on speech and noise at 8 kHz, so there is no such path.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _oki_numba
from .encoder import StreamEncoder

__all__ = ["OKI_SAFE_LIMIT", "OKI_STEPS", "OkiEncoder", "oki_codes"]

OKI_STEPS: tuple[int, ...] = (
    16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
    130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658,
    724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552,
)  # fmt: skip
_INDEX_ADJUST: tuple[int, ...] = (-1, -1, -1, -1, 2, 4, 6, 8)
_MIN, _MAX = -2048, 2047
_TOP = len(OKI_STEPS) - 1
#: Largest |s| (12-bit) for which no code can clip: reconstruction overshoots s by <= step/8.
OKI_SAFE_LIMIT = _MAX - (OKI_STEPS[-1] >> 3)  # 1853

# The same tables as arrays, for the compiled kernel.
_STEPS_ARR = np.asarray(OKI_STEPS, dtype=np.int64)
_ADJUST_ARR = np.asarray(_INDEX_ADJUST, dtype=np.int64)

# A table row: 8191 entries ``(code, s - p_next, next row)``, one per d in [-4095, 4095].
_Row = list[tuple[int, int, Any]]


class _Tables:
    """One row per step index: ``row[d] -> (nearest code, d - r, row of the next index)``.

    ``d`` in [-4095, 4095]; negative ``d`` index from the end, which is what Python list
    indexing does, so the loop needs no offset. ``index_of`` maps a row back to its step index.
    """

    def __init__(self) -> None:
        self.rows: list[_Row] = [[] for _ in OKI_STEPS]
        d = np.concatenate((np.arange(0, 4096), np.arange(-4095, 0)))  # list order of indices
        for i, step in enumerate(OKI_STEPS):
            mag = np.minimum(7, (4 * np.abs(d)) // step)
            recon = ((2 * mag + 1) * step) >> 3
            neg = d < 0
            codes = (mag | np.where(neg, 8, 0)).tolist()
            errs = (d - np.where(neg, -recon, recon)).tolist()
            nxt = [self.rows[min(_TOP, max(0, i + adj))] for adj in _INDEX_ADJUST]
            self.rows[i].extend(zip(codes, errs, [nxt[m] for m in mag.tolist()], strict=True))
        self.index_of = {id(row): i for i, row in enumerate(self.rows)}


_tables: _Tables | None = None


def _get_tables() -> _Tables:
    # Built on first use (about 0.3 s of CPU), not at import: most recordings are not OKI.
    global _tables
    if _tables is None:
        _tables = _Tables()
    return _tables


def _fit(tables: _Tables, code: int, p: int, s: int, i: int) -> tuple[int, int, _Row]:
    """The saturation-safe step when the nearest ``code`` would clip: ``(code, s - p_next,
    next row)`` for sample ``s`` at predictor ``p`` and step index ``i``."""
    step = OKI_STEPS[i]
    sign, mag = code & 8, code & 7
    while mag:
        mag -= 1
        r = ((2 * mag + 1) * step) >> 3
        q = p - r if sign else p + r
        if _MIN <= q <= _MAX:
            break
    else:
        # Magnitude 0 the other way always fits: it moves away from the edge by <= 194.
        sign = 8 - sign
        r = step >> 3
        q = p - r if sign else p + r
    return sign | mag, s - q, tables.rows[min(_TOP, max(0, i + _INDEX_ADJUST[mag]))]


def oki_codes(s: npt.NDArray[np.int64], p: int, i: int) -> tuple[list[int], int, int]:
    """Codes of the 12-bit samples ``s`` from predictor ``p`` and step index ``i``.

    Returns ``(codes, p, i)`` with the state after the last sample, so a stream can continue.
    """
    if not s.size:
        return [], p, i
    tables = _get_tables()
    index_of = tables.index_of
    row = tables.rows[i]
    ds = np.diff(s, prepend=p).tolist()
    loud = np.abs(s) > OKI_SAFE_LIMIT
    edges = [0, *(np.flatnonzero(np.diff(loud)) + 1).tolist(), s.size]
    e = 0  # s_prev - p: with d_n = ds_n + e the loop never needs the predictor itself
    codes: list[int] = []
    append = codes.append
    for a, b in pairwise(edges):
        if not loud[a]:
            for dd in ds[a:b]:  # no code can clip here: the table's nearest code is the code
                code, e, row = row[dd + e]
                append(code)
            continue
        for dd, x in zip(ds[a:b], s[a:b].tolist(), strict=True):
            d = dd + e
            code, e, nxt = row[d]
            if not _MIN <= x - e <= _MAX:  # x - e is the new predictor
                code, e, nxt = _fit(tables, code, x - d, x, index_of[id(row)])
            row = nxt
            append(code)
    return codes, int(s[-1]) - e, index_of[id(row)]


class OkiEncoder(StreamEncoder):
    """Dialogic OKI ADPCM, high nibble first; holds back one code of an odd count."""

    def __init__(self) -> None:
        super().__init__()
        self._p = 0  # predictor (12-bit)
        self._i = 0  # step index
        self._high: int | None = None  # code waiting for its low-nibble partner
        self._seen = 0  # samples encoded so far (numba is loaded only for long streams)

    def _pack(self, codes: npt.NDArray[np.uint8]) -> bytes:
        if self._high is not None:
            codes = np.concatenate((np.array([self._high], dtype=np.uint8), codes))
            self._high = None
        if codes.size % 2:
            self._high = int(codes[-1])
            codes = codes[:-1]
        return ((codes[0::2] << 4) | codes[1::2]).tobytes()

    def _encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        if not pcm.size:
            return b""
        self._seen += pcm.size
        fn = _oki_numba.kernel(self._seen)
        if fn is not None:
            codes = np.empty(pcm.size, dtype=np.uint8)
            self._p, self._i = fn(pcm, self._p, self._i, _STEPS_ARR, _ADJUST_ARR, codes)
            return self._pack(codes)
        c, self._p, self._i = oki_codes(pcm.astype(np.int64) >> 4, self._p, self._i)
        return self._pack(np.asarray(c, dtype=np.uint8))

    def _flush(self) -> bytes:
        if self._high is None:
            return b""
        # One zero-valued pad sample completes the last byte (libsndfile's convention).
        c, self._p, self._i = oki_codes(np.zeros(1, dtype=np.int64), self._p, self._i)
        return self._pack(np.asarray(c, dtype=np.uint8))
