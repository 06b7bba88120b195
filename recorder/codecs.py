"""Streaming encoders for the recorder's six file encodings, and their size arithmetic.

This module owns the registry of file encodings (:data:`FORMATS`), the size arithmetic of a
data chunk (``n`` samples take :func:`data_bytes` bytes) and :func:`make_encoder`. G.711
(``alaw``, ``ulaw``) lives in :mod:`recorder.g711`, linear PCM (``s16bit``, ``u8bit``) in
:mod:`recorder.pcm`, IMA ADPCM in :mod:`recorder.ima` and the encoder contract in
:mod:`recorder.encoder`; the OKI encoder is still here. Header layout lives in
:mod:`recorder.wav`.

Contract: ``make_encoder(fmt)`` returns an :class:`Encoder`; ``encode(pcm)`` may hold back a
partial block (IMA) or half a byte (OKI), ``flush()`` returns the rest and ends the stream. The
concatenation of all outputs for any chunking of the input equals encoding it in one call.

Decisions (each pinned by a test in ``tests/test_codecs.py``):

* **OKI / Dialogic ADPCM (tag 0x0017)**: 12-bit samples ``s = x >> 4``, 49-step table,
  ``code = min(7, 4|d| // step)`` with sign bit 8, reconstruction ``((2c+1)*step) >> 3``,
  initial state predictor 0 / index 0, **high nibble first** (the raw .vox stream). The
  encoder is *saturation-safe*: it never emits a code whose reconstruction leaves
  [-2048, 2047], because decoders disagree once the predictor clips (libsndfile and sox keep
  going differently from ffmpeg; measured). When the nearest code would clip it takes the
  largest smaller magnitude of the same sign that fits, else magnitude 0 of the opposite sign.
  Since ``r <= |d| + step/8 <= |d| + 194``, no clipping is possible while ``|s| <= 1853``; the
  fast loop relies on that and a checked loop handles louder calls. An odd sample count is
  completed by **one zero-valued pad sample** in the low nibble of the last byte (libsndfile's
  convention); ``fact`` carries the true count.

Speed (1 h of speech-like noise, one core, realtime factor, whole / 160-sample chunks):
G.711 ~46 000 / 15 000, s16 ~125 000 / 50 000, u8 ~80 000 / 13 000, IMA ~8 400 / 5 500
(audioop per block), OKI ~1 500 / 770 (pure-Python table loop; below the 3000x target; the
rate falls with signal level because the table lookups miss the cache more). With the optional
``numba`` installed, OKI streams longer than ``_OKI_NUMBA_MIN`` run a compiled loop, ~11 000x
in 10 s blocks (identical bytes; see ``_oki_kernel``).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .encoder import Encoder, StreamEncoder
from .g711 import G711Encoder, alaw_table, ulaw_table
from .ima import IMA_BLOCK_BYTES, IMA_SAMPLES_PER_BLOCK, ImaEncoder
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


OKI_STEPS: tuple[int, ...] = (
    16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
    130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658,
    724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552,
)  # fmt: skip
_OKI_INDEX_ADJUST = (-1, -1, -1, -1, 2, 4, 6, 8)
_OKI_MIN, _OKI_MAX = -2048, 2047
# Largest |s| (12-bit) for which no code can clip: reconstruction overshoots s by <= step/8.
OKI_SAFE_LIMIT = _OKI_MAX - (OKI_STEPS[-1] >> 3)  # 1853


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


def _oki_reconstruct(code: int, step: int) -> int:
    r = ((2 * (code & 7) + 1) * step) >> 3
    return -r if code & 8 else r


def _oki_code(d: int, step: int) -> int:
    """Nearest-reconstruction code for difference ``d`` (no saturation handling)."""
    c = min(7, (4 * abs(d)) // step)
    return c | 8 if d < 0 else c


def _oki_safe_code(p: int, s: int, step: int) -> int:
    """The encoder's code for sample ``s`` at predictor ``p``, never leaving [-2048, 2047]."""
    code = _oki_code(s - p, step)
    mag, sign = code & 7, code & 8
    while True:
        q = p + _oki_reconstruct(sign | mag, step)
        if _OKI_MIN <= q <= _OKI_MAX:
            return sign | mag
        if mag == 0:
            return 8 - sign  # magnitude 0 the other way always fits (step/8 <= 194)
        mag -= 1


class _OkiTables:
    """Rows for the fast loop: ``row[d] -> (code, d - r, next_row)`` for d in [-4095, 4095].

    A row is a list of 8191 entries; negative ``d`` index from the end, which is what Python
    list indexing does, so the loop needs no offset. One row per step index.
    """

    def __init__(self) -> None:
        self.rows: list[list[tuple[int, int, list[Any]]]] = [[] for _ in OKI_STEPS]
        d = np.concatenate((np.arange(0, 4096), np.arange(-4095, 0)))  # list order of indices
        for i, step in enumerate(OKI_STEPS):
            mag = np.minimum(7, (4 * np.abs(d)) // step)
            recon = ((2 * mag + 1) * step) >> 3
            neg = d < 0
            codes = (mag | np.where(neg, 8, 0)).tolist()
            errs = (d - np.where(neg, -recon, recon)).tolist()
            nxt = [self.rows[min(48, max(0, i + adj))] for adj in _OKI_INDEX_ADJUST]
            self.rows[i].extend(zip(codes, errs, [nxt[m] for m in mag.tolist()], strict=True))
        self.index_of = {id(row): i for i, row in enumerate(self.rows)}


_oki_tables: _OkiTables | None = None


def _get_oki_tables() -> _OkiTables:
    global _oki_tables
    if _oki_tables is None:
        _oki_tables = _OkiTables()
    return _oki_tables


# -- vectorised OKI: many segments in parallel, then exact repair at the joins -----------------
#
# The encoder state before a sample is (predictor p, step index i). Encoded as one integer
# ``v = (s_prev - p) + i * _OKI_ROW + 4095`` (``s_prev`` the previous 12-bit sample, taken as 0
# at a segment's start), the step for a sample whose difference from the previous one is ``ds``
# is two array operations: ``idx = ds + v`` (which is ``d + i * _OKI_ROW + 4095`` with
# ``d = s - p``), then ``v = _OKI_V[idx]``; the code is ``_OKI_C[idx]``. ``idx`` identifies the
# state, so two runs over the same samples that ever have equal ``idx`` at the same sample are
# identical from there on (they have *coalesced*).
#
# ``_codes_parallel`` cuts the signal into K segments of L samples and runs every segment from
# four candidate start states at once (step index 0, predictor 0, 1, 2 or 3: at step index 0 a
# code moves the predictor by 2 mod 4, so trajectories in quiet passages fall into those four
# classes and otherwise never meet). Then each segment is re-run from its predecessor's end
# until it coalesces with one of its candidates (usually within a step or two), repeated while
# any end changes. A final walk keeps a segment's codes only when its start state is exactly
# the true one; any other segment, and any segment holding a sample that could saturate, is
# encoded by the scalar loops. The output is identical to the scalar encoder's by construction.
_OKI_ROW = 8191  # one table row per step index: d in [-4095, 4095]
_OKI_CANDIDATES = (0, 1, 2, 3)  # candidate start predictors (step index 0)
_OKI_PAR_MIN = 8192  # shorter inputs: the scalar loop is cheaper than the set-up
_OKI_PROBE = 64  # the transfer map is probed at least this many steps ...
_OKI_FEW_PAIRS = 64  # ... and beyond them while this many pairs are still open


@dataclass(frozen=True)
class _OkiVecTables:
    """``v`` transition table and code table, indexed by ``d + i*ROW + 4095``; ``v_list`` for
    the scalar finish."""

    v: npt.NDArray[np.int32]
    c: npt.NDArray[np.uint8]
    v_list: list[int]


_oki_vec: _OkiVecTables | None = None


def _get_oki_vec() -> _OkiVecTables:
    global _oki_vec
    if _oki_vec is None:
        d = np.arange(-4095, 4096)
        n = len(OKI_STEPS)
        v = np.empty(n * _OKI_ROW, dtype=np.int32)
        c = np.empty(n * _OKI_ROW, dtype=np.uint8)
        adjust = np.asarray(_OKI_INDEX_ADJUST)
        for i, step in enumerate(OKI_STEPS):
            mag = np.minimum(7, (4 * np.abs(d)) // step)
            recon = ((2 * mag + 1) * step) >> 3
            neg = d < 0
            err = d - np.where(neg, -recon, recon)  # s - p_next
            nxt = np.clip(i + adjust[mag], 0, n - 1)
            v[i * _OKI_ROW : (i + 1) * _OKI_ROW] = err + nxt * _OKI_ROW + 4095
            c[i * _OKI_ROW : (i + 1) * _OKI_ROW] = mag | np.where(neg, 8, 0)
        _oki_vec = _OkiVecTables(v, c, v.tolist())
    return _oki_vec


# -- optional compiled OKI loop (numba) --------------------------------------------------------
#
# The scalar encoder is a serial recurrence; in C it costs a few ns per sample, in Python ~100.
# When ``numba`` is importable the same loop (``_oki_kernel``: the checked, saturation-safe
# encoder, every sample) is compiled once per machine (``cache=True`` keeps the machine code in
# ``__pycache__``, or numba's user-wide cache when that is read-only). numba is optional: without
# it, or with ``CALLSIM_NUMBA=0``, or if compiling fails, the pure numpy/Python path runs.
# Both give identical bytes (tests/test_oki_numba.py). Importing numba costs ~0.15-0.25 s (and
# compiling ~1 s once per machine), so an encoder only loads it after ``_OKI_NUMBA_MIN``
# samples; short recordings never pay for it unless another encoder already loaded it.
_OKI_NUMBA_MIN = 8000 * 120  # 2 minutes of audio (~0.1 s of pure-path encoding)
_OKI_STEPS_ARR = np.asarray(OKI_STEPS, dtype=np.int64)
_OKI_ADJUST_ARR = np.asarray(_OKI_INDEX_ADJUST, dtype=np.int64)
_oki_compiled: Any = None  # the compiled kernel once loaded; False after a failed attempt


def _oki_kernel(
    pcm: npt.NDArray[np.int16],
    p: int,
    i: int,
    steps: npt.NDArray[np.int64],
    adjust: npt.NDArray[np.int64],
    codes: npt.NDArray[np.uint8],
) -> tuple[int, int]:
    """Codes of ``pcm`` into ``codes`` from state (p, i); returns the new state.

    Plain Python over arrays so numba can compile it; the same arithmetic as
    ``_oki_safe_code`` / ``_oki_reconstruct`` (nearest code, then the largest smaller magnitude
    that stays in [-2048, 2047], else magnitude 0 the other way).
    """
    for n in range(pcm.shape[0]):
        d = (np.int64(pcm[n]) >> 4) - p
        step = steps[i]
        sign = 0
        if d < 0:
            sign = 8
            d = -d
        mag = min(7, (4 * d) // step)
        while True:
            r = ((2 * mag + 1) * step) >> 3
            q = p - r if sign else p + r
            if -2048 <= q <= 2047:
                break
            if mag == 0:
                sign = 8 - sign
                q = p + r if sign == 0 else p - r
                break
            mag -= 1
        p = q
        i = min(48, max(0, i + adjust[mag]))
        codes[n] = sign | mag
    return p, i


def _get_oki_compiled() -> Any:
    """The numba-compiled ``_oki_kernel``, or None when numba is absent, disabled or fails."""
    global _oki_compiled
    if _oki_compiled is None:
        _oki_compiled = False
        if os.environ.get("CALLSIM_NUMBA", "1") != "0":
            try:
                import numba  # optional accelerator (extra "fast")

                fn = numba.njit(cache=True, nogil=True)(_oki_kernel)
                probe = np.zeros(1, dtype=np.uint8)
                fn(np.zeros(1, dtype=np.int16), 0, 0, _OKI_STEPS_ARR, _OKI_ADJUST_ARR, probe)
                _oki_compiled = fn
            except Exception:  # noqa: BLE001 - any failure means: use the pure path
                _oki_compiled = False
    return _oki_compiled or None


def _oki_segment_length(n: int) -> int:
    # Enough lanes to keep each numpy call busy; longer segments coalesce more often.
    return max(64, min(1024, n // 256))


class _OkiEncoder(StreamEncoder):
    """Dialogic OKI ADPCM, high nibble first; holds back one code of an odd count."""

    def __init__(self) -> None:
        super().__init__()
        self._tables = _get_oki_tables()
        self._p = 0  # predictor (12-bit)
        self._i = 0  # step index
        self._high: int | None = None  # code waiting for its low-nibble partner
        self._seen = 0  # samples encoded so far (numba is loaded only for long streams)

    def _codes_fast(self, s: npt.NDArray[np.int64]) -> list[int]:
        # Tracks e = s_n - p_{n+1}; then d_{n+1} = (s_{n+1} - s_n) + e, so the loop body is a
        # single table lookup. Valid because |s| <= OKI_SAFE_LIMIT: no code can saturate.
        ds = np.diff(s, prepend=self._p).tolist()
        rows = self._tables.rows
        row = rows[self._i]
        e = 0
        codes: list[int] = []
        append = codes.append
        for dd in ds:
            code, e, row = row[dd + e]
            append(code)
        self._p = int(s[-1]) - e
        self._i = self._tables.index_of[id(row)]
        return codes

    def _codes_checked(self, s: npt.NDArray[np.int64]) -> list[int]:
        p, i = self._p, self._i
        codes: list[int] = []
        for x in s.tolist():
            step = OKI_STEPS[i]
            code = _oki_safe_code(p, x, step)
            p += _oki_reconstruct(code, step)
            i = min(48, max(0, i + _OKI_INDEX_ADJUST[code & 7]))
            codes.append(code)
        self._p, self._i = p, i
        return codes

    def _codes_scalar(self, s: npt.NDArray[np.int64]) -> list[int]:
        """Codes of ``s`` from the current state (advancing it), one sample at a time."""
        if not s.size:
            return []
        loud = np.abs(s) > OKI_SAFE_LIMIT
        if not loud.any():
            return self._codes_fast(s)
        # Alternate runs of safe samples (fast loop) and loud samples (checked loop).
        edges = [0, *(np.flatnonzero(np.diff(loud)) + 1).tolist(), s.size]
        codes: list[int] = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            run = s[a:b]
            codes += self._codes_checked(run) if loud[a] else self._codes_fast(run)
        return codes

    def _codes_parallel(self, s: npt.NDArray[np.int64], seg: int) -> npt.NDArray[np.uint8]:
        """Codes of ``s`` from the current state (advancing it); segments of ``seg`` samples."""
        tab = _get_oki_vec()
        row, m = _OKI_ROW, len(_OKI_CANDIDATES)
        k = s.size // seg
        if k < 2:
            return np.asarray(self._codes_scalar(s), dtype=np.uint8)
        body = s[: k * seg].reshape(k, seg)
        loud = np.abs(body).max(axis=1) > OKI_SAFE_LIMIT
        # Lanes with a loud sample run on zeros (keeps every index inside the table); the walk
        # encodes those segments with the checked loop.
        safe = np.where(loud[:, None], 0, body).astype(np.int32)
        diffs = np.empty_like(safe)
        diffs[:, 0] = safe[:, 0]  # start form: v holds (0 - p), so ds_0 is s_0 itself
        np.subtract(safe[:, 1:], safe[:, :-1], out=diffs[:, 1:])
        dt = np.ascontiguousarray(diffs.T)  # (seg, k): one contiguous row per step
        last = safe[:, -1]
        # idx[j, c, lane]: state before step j of candidate c; slot m: the segment's own run.
        # (Lanes last: every numpy call then runs one long inner loop.)
        idx = np.empty((seg, m + 1, k), dtype=np.int32)
        cand = idx[:, :m, :]
        v = np.empty((m, k), dtype=np.int32)
        v[:] = (4095 - np.asarray(_OKI_CANDIDATES, dtype=np.int32))[:, None]
        for j in range(seg):
            np.add(dt[j], v, out=cand[j])
            np.take(tab.v, cand[j], out=v)
        cend = np.ascontiguousarray(v.T)  # (k, m)
        # Transfer map: starting segment k from the end of candidate a of segment k - 1, the run
        # coalesces with candidate trans[k, a] after tj[k, a] steps (-1: not found; the walk
        # then runs that segment itself). Pairs (a, k) still open are kept compacted.
        pre = np.empty((seg, m, k), dtype=np.int32)
        trans = np.full((k, m), -1, dtype=np.int64)
        tj = np.zeros((k, m), dtype=np.int64)
        pa = np.repeat(np.arange(m), k - 1)
        pl = np.tile(np.arange(1, k), m)
        w = (cend[pl - 1, pa] - last[pl - 1]).astype(np.int32)  # start form
        for j in range(seg):
            if pl.size < _OKI_FEW_PAIRS and j >= _OKI_PROBE:
                break
            cur = dt[j, pl] + w
            pre[j, pa, pl] = cur
            hit = cand[j][:, pl] == cur  # (m, pairs)
            got = hit.any(axis=0)
            if got.any():
                trans[pl[got], pa[got]] = hit[:, got].argmax(axis=0)
                tj[pl[got], pa[got]] = j
                keep = ~got
                pa, pl, cur = pa[keep], pl[keep], cur[keep]
                if not pl.size:
                    break
            w = tab.v[cur]
        trans_l, tj_l, loud_l = trans.tolist(), tj.tolist(), loud.tolist()
        sel_m = np.full(k, m, dtype=np.int64)  # candidate taken after the own/prefix steps
        sel_j = np.zeros(k, dtype=np.int64)  # steps taken from slot m first
        pre_a = np.full(k, -1, dtype=np.int64)  # prefix from pre[:, k, a] (mapped segments)
        scalar_codes: dict[int, list[int]] = {}
        p_true, i_true = self._p, self._i
        cls = -1  # candidate class the previous segment ended in (-1: state in p_true, i_true)
        for lane in range(k):
            if loud_l[lane]:
                if cls >= 0:
                    p_true, i_true = self._state_of(cend, last, lane - 1, cls)
                self._p, self._i = p_true, i_true
                scalar_codes[lane] = self._codes_scalar(body[lane])
                p_true, i_true = self._p, self._i
                sel_m[lane] = 0  # any valid slot: these codes are replaced below
                cls = -1
                continue
            if cls >= 0 and trans_l[lane][cls] >= 0:
                pre_a[lane] = cls
                sel_j[lane] = tj_l[lane][cls]
                cls = sel_m[lane] = trans_l[lane][cls]
                continue
            if cls >= 0:
                p_true, i_true = self._state_of(cend, last, lane - 1, cls)
            got_c, got_j, v_end = self._walk_lane(tab, dt, idx, lane, 4095 - p_true + i_true * row)
            sel_j[lane] = got_j
            if got_c >= 0:
                cls = sel_m[lane] = got_c
            else:
                cls = -1
                ve = int(v_end)
                p_true, i_true = int(body[lane, -1]) - (ve % row - 4095), ve // row
        if cls >= 0:
            p_true, i_true = self._state_of(cend, last, k - 1, cls)
        self._p, self._i = p_true, i_true
        mapped = np.flatnonzero(pre_a >= 0)
        if mapped.size:
            idx[:, m, mapped] = pre[:, pre_a[mapped], mapped]
        steps = np.arange(seg)[:, None]
        choice = np.where(steps < sel_j[None, :], m, sel_m[None, :])
        chosen = np.take_along_axis(idx, choice[:, None, :], axis=1)[:, 0, :]
        codes = np.ascontiguousarray(tab.c[chosen].T)  # (k, seg), time order within each row
        for lane, lc in scalar_codes.items():
            codes[lane] = lc
        out = codes.reshape(-1)
        if k * seg < s.size:
            tail = np.asarray(self._codes_scalar(s[k * seg :]), dtype=np.uint8)
            out = np.concatenate((out, tail))
        return out

    @staticmethod
    def _state_of(
        cend: npt.NDArray[np.int32], last: npt.NDArray[np.int32], lane: int, c: int
    ) -> tuple[int, int]:
        """(p, i) at the end of candidate ``c`` of segment ``lane``."""
        ve = int(cend[lane, c])
        return int(last[lane]) - (ve % _OKI_ROW - 4095), ve // _OKI_ROW

    @staticmethod
    def _walk_lane(
        tab: _OkiVecTables,
        dt: npt.NDArray[np.int32],
        idx: npt.NDArray[np.int32],
        lane: int,
        v: int,
    ) -> tuple[int, int, int]:
        """Run one segment from start state ``v`` one sample at a time into slot m until it
        coalesces with a candidate: (candidate or -1, steps in slot m, end state if -1)."""
        seg, m = idx.shape[0], idx.shape[1] - 1
        vl = tab.v_list
        j0 = 0
        width = 8
        while j0 < seg:
            j1 = min(seg, j0 + width)
            ds = dt[j0:j1, lane].tolist()
            cands = idx[j0:j1, :m, lane].tolist()
            own: list[int] = []
            for dd, cs in zip(ds, cands, strict=True):
                cur = dd + v
                if cur in cs:
                    if own:
                        idx[j0 : j0 + len(own), m, lane] = own
                    return cs.index(cur), j0 + len(own), 0
                own.append(cur)
                v = vl[cur]
            idx[j0:j1, m, lane] = own
            j0 = j1
            width *= 4
        return -1, seg, v

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
        if _oki_compiled or (_oki_compiled is None and self._seen >= _OKI_NUMBA_MIN):
            fn = _get_oki_compiled()
            if fn is not None:
                codes = np.empty(pcm.size, dtype=np.uint8)
                self._p, self._i = fn(
                    pcm, self._p, self._i, _OKI_STEPS_ARR, _OKI_ADJUST_ARR, codes
                )
                return self._pack(codes)
        s = pcm.astype(np.int64) >> 4
        if s.size >= _OKI_PAR_MIN:
            codes = self._codes_parallel(s, _oki_segment_length(s.size))
        else:
            codes = np.asarray(self._codes_scalar(s), dtype=np.uint8)
        return self._pack(codes)

    def _flush(self) -> bytes:
        if self._high is None:
            return b""
        # One zero-valued pad sample completes the last byte (libsndfile's convention).
        return self._pack(np.asarray(self._codes_fast(np.zeros(1, dtype=np.int64)), dtype=np.uint8))


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
    return _OkiEncoder()
