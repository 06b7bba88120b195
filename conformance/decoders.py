"""Independent decoders for the six recording encodings, used by the conformance suite.

This module owns turning a recorded file's data chunk back into 16-bit linear samples:
`decode` for raw data of one encoding and `decode_wav` for a whole file (through the
independent reader in `conformance.wavread`).

Independence: written from the codec descriptions, not from any implementation, and sharing no
code with the reference recorder's encoders (``recorder/g711.py``, ``ima.py``, ``oki.py``, ``pcm.py``):

* G.711 A-law and mu-law: the decode tables are built from the standard's segment description
  (8 segments per sign; each segment's start and quantisation step; the decoded value is the
  middle of the quantisation interval), scaled from the 13-bit (A-law) / 14-bit (mu-law) linear
  range to 16 bits. The tests pin all 256 codes to libsndfile, sox and ffmpeg.
* ``s16bit``: little-endian int16. ``u8bit``: ``(b - 128) << 8``.
* ``ima``: WAV tag 0x0011 blocks: per block a 4-byte header (int16 LE first sample, step index
  0..88, reserved byte) then 4-bit codes, low nibble first; the IMA/DVI step (89 entries) and
  index-adjust tables; the predictor saturates to int16. Output is trimmed to the ``fact`` count.
* ``oki``: Dialogic/OKI ADPCM: one continuous stream (no blocks), predictor and step index
  starting at 0, 4-bit codes high nibble first, 49-entry step table, change
  ``((2|c|+1) * step) >> 3``, 12-bit predictor saturating to [-2048, 2047], output scaled by 16
  (ffmpeg's rule). libsndfile and sox saturate in 16-bit units instead, which differs only
  after a positive overload; ``oki_variant="sndfile"`` reproduces them.

Speed: both ADPCM recurrences are "add, then clamp" on a small state, and functions of the form
``x -> min(max(x + a, lo), hi)`` are closed under composition, so each recurrence is evaluated as
a parallel prefix scan in numpy (log2 of the chunk length passes) instead of a Python loop per
sample; a block header is the constant function ``lo == hi``. See `clamp_add_scan`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callsim.contract import FORMATS
from conformance.wavread import (
    TAG_ALAW,
    TAG_DIALOGIC_OKI,
    TAG_IMA_ADPCM,
    TAG_OKI_ADPCM,
    TAG_PCM,
    TAG_ULAW,
    WavFormatError,
    WavInfo,
    ima_samples_per_block,
    parse_wav,
    tag_name,
)

__all__ = [
    "ALAW_TABLE",
    "FORMATS",
    "IMA_STEPS",
    "OKI_STEPS",
    "OKI_VARIANTS",
    "ULAW_TABLE",
    "clamp_add_scan",
    "decode",
    "decode_wav",
    "encoding_of",
]


#: OKI saturation rules (see `_decode_oki`): "dialogic" (12-bit, ffmpeg) is the default.
OKI_VARIANTS: tuple[str, ...] = ("dialogic", "sndfile")

Int16Array = npt.NDArray[np.int16]
Int64Array = npt.NDArray[np.int64]


# --- G.711 ---------------------------------------------------------------------------------


def _alaw_table() -> Int16Array:
    """A-law code -> int16, from the segment description.

    On the 13-bit scale (magnitudes 0..4095) segment 0 spans 0..31 and segment s >= 1 spans
    2**(s+4) .. 2**(s+5) - 1; both segment 0 and 1 use a quantisation step of 2, segment s >= 2 a
    step of 2**s. The decoded value is the middle of interval m (0..15) of the segment. The
    transmitted code has its even bits inverted (XOR 0x55); bit 7 set means positive.
    16-bit output = 13-bit value * 8.
    """
    table = np.empty(256, dtype=np.int16)
    for code in range(256):
        c = code ^ 0x55
        seg = (c >> 4) & 7
        m = c & 15
        start = 0 if seg == 0 else 1 << (seg + 4)
        step = 2 if seg == 0 else 1 << seg
        magnitude = start + m * step + step // 2
        table[code] = magnitude * 8 if c & 0x80 else -magnitude * 8
    table.setflags(write=False)
    return table


def _ulaw_table() -> Int16Array:
    """mu-law code -> int16, from the segment description.

    On the 14-bit scale (magnitudes 0..8159) segment s (0..7) ends at 2**(s+6) - 33 (31, 95,
    223, ..., 8159) and has a quantisation step of 2**(s+1), so it starts at 2**(s+5) - 33; the
    decoded value is the middle of interval m (0..15). Segment 0's first interval straddles
    zero (-1..1) and so decodes to 0. The transmitted code is the one's complement; bit 7 (after
    complementing) set means negative. 16-bit output = 14-bit value * 4.
    """
    table = np.empty(256, dtype=np.int16)
    for code in range(256):
        c = ~code & 0xFF
        seg = (c >> 4) & 7
        m = c & 15
        start = (1 << (seg + 5)) - 33
        step = 1 << (seg + 1)
        magnitude = start + m * step + step // 2
        table[code] = -magnitude * 4 if c & 0x80 else magnitude * 4
    table.setflags(write=False)
    return table


ALAW_TABLE: Int16Array = _alaw_table()
ULAW_TABLE: Int16Array = _ulaw_table()


# --- ADPCM machinery ------------------------------------------------------------------------

IMA_STEPS: tuple[int, ...] = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60,
    66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
    408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707,
    1878, 2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132,
    7845, 8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623,
    27086, 29794, 32767,
)  # fmt: skip

OKI_STEPS: tuple[int, ...] = (
    16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
    130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658,
    724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552,
)  # fmt: skip

# Step-index change per code magnitude (the sign bit does not matter); same for IMA and OKI.
_INDEX_ADJUST = np.array([-1, -1, -1, -1, 2, 4, 6, 8] * 2, dtype=np.int64)


def _ima_diff_table(steps: tuple[int, ...]) -> Int64Array:
    """IMA: signed predictor change for (step index, 4-bit code), flattened as index * 16 + code.

    The change is step/8 + (bit2: step) + (bit1: step/2) + (bit0: step/4), each term an integer
    shift as in the IMA/DVI description; bit 3 is the sign.
    """
    st = np.asarray(steps, dtype=np.int64)[:, None]
    code = np.arange(16, dtype=np.int64)[None, :]
    mag = (
        (st >> 3)
        + np.where(code & 4, st, 0)
        + np.where(code & 2, st >> 1, 0)
        + np.where(code & 1, st >> 2, 0)
    )
    table = np.where(code & 8, -mag, mag).ravel()
    table.setflags(write=False)
    return table


def _oki_diff_table(steps: tuple[int, ...]) -> Int64Array:
    """OKI: signed predictor change for (step index, 4-bit code), flattened as index * 16 + code.

    The change is ((2 * magnitude + 1) * step) >> 3 with magnitude = code & 7; bit 3 is the
    sign. This single rounding is what libsndfile, sox and ffmpeg decode with (measured: the
    IMA-style sum of separately shifted terms differs by 1 on some steps, e.g. step 45).
    """
    st = np.asarray(steps, dtype=np.int64)[:, None]
    code = np.arange(16, dtype=np.int64)[None, :]
    mag = ((2 * (code & 7) + 1) * st) >> 3
    table = np.where(code & 8, -mag, mag).ravel()
    table.setflags(write=False)
    return table


_IMA_DIFF = _ima_diff_table(IMA_STEPS)
_OKI_DIFF = _oki_diff_table(OKI_STEPS)

# Chunk length of the prefix scan: bounds memory and keeps log2(chunk) passes cheap.
_SCAN_CHUNK = 1 << 14


def clamp_add_scan(
    add: npt.ArrayLike, lo: npt.ArrayLike, hi: npt.ArrayLike, x0: int = 0
) -> Int64Array:
    """Evaluate ``x[k] = min(max(x[k-1] + add[k], lo[k]), hi[k])`` with ``x[-1] = x0``.

    Each step is the function f(x) = clamp(x + a, lo, hi); the composition "f1 then f2" is
    clamp(x + a1 + a2, clamp(lo1 + a2, lo2, hi2), clamp(hi1 + a2, lo2, hi2)), again of that
    form, so a Hillis-Steele inclusive scan computes every prefix composition in log2(n)
    vectorised passes. ``lo[k] <= hi[k]`` is required (a constant is ``lo == hi``).
    """
    a_all = np.asarray(add, dtype=np.int64)
    l_all = np.asarray(lo, dtype=np.int64)
    h_all = np.asarray(hi, dtype=np.int64)
    n = a_all.size
    out = np.empty(n, dtype=np.int64)
    carry = int(x0)
    for start in range(0, n, _SCAN_CHUNK):
        stop = min(start + _SCAN_CHUNK, n)
        a = a_all[start:stop].copy()
        lo_ = l_all[start:stop].copy()
        hi_ = h_all[start:stop].copy()
        shift = 1
        size = stop - start
        while shift < size:
            a2 = a[shift:]
            new_lo = np.minimum(np.maximum(lo_[:-shift] + a2, lo_[shift:]), hi_[shift:])
            new_hi = np.minimum(np.maximum(hi_[:-shift] + a2, lo_[shift:]), hi_[shift:])
            new_a = a[:-shift] + a2
            a[shift:] = new_a
            lo_[shift:] = new_lo
            hi_[shift:] = new_hi
            shift <<= 1
        res = np.minimum(np.maximum(carry + a, lo_), hi_)
        out[start:stop] = res
        carry = int(res[-1])
    return out


def _adpcm_steps(
    codes: Int64Array,
    index: Int64Array,
    value: Int64Array,
    reset: npt.NDArray[np.bool_] | None,
    diff_table: Int64Array,
    max_index: int,
    vmin: int,
    vmax: int,
) -> tuple[Int64Array, Int64Array]:
    """One chunk of an IMA-style ADPCM decoder; returns (value, step index) after each event.

    Event k is a 4-bit code ``codes[k]``, or, where ``reset[k]``, a reset: the state becomes
    ``value[k]`` with step index ``index[k]`` (an IMA block header; its value is an output
    sample). Elsewhere ``index[0]`` and ``value[0]`` hold the state before the chunk.
    """
    index0, value0 = int(index[0]), int(value[0])
    if reset is None:
        idx_add = _INDEX_ADJUST[codes]
        idx_lo = np.zeros_like(codes)
        idx_hi = np.full_like(codes, max_index)
    else:
        idx_add = np.where(reset, 0, _INDEX_ADJUST[codes])
        idx_lo = np.where(reset, index, 0)
        idx_hi = np.where(reset, index, max_index)
    idx_after = clamp_add_scan(idx_add, idx_lo, idx_hi, index0)
    # A code uses the step index in force *before* it.
    idx_before = np.empty_like(idx_after)
    idx_before[0] = index0
    idx_before[1:] = idx_after[:-1]
    diff = diff_table[idx_before * 16 + codes]
    if reset is None:
        v_lo = np.full_like(codes, vmin)
        v_hi = np.full_like(codes, vmax)
    else:
        diff = np.where(reset, 0, diff)
        v_lo = np.where(reset, value, vmin)
        v_hi = np.where(reset, value, vmax)
    return clamp_add_scan(diff, v_lo, v_hi, value0), idx_after


def _decode_ima(raw: bytes, block_align: int) -> Int16Array:
    """Decode WAV 0x0011 mono IMA ADPCM blocks; a final partial block (>= 4 bytes) is decoded."""
    if block_align < 5:
        raise WavFormatError(f"IMA ADPCM block align {block_align} is too small (needs >= 5)")
    n_full, rest = divmod(len(raw), block_align)
    if 0 < rest < 4:
        raise WavFormatError(
            f"IMA ADPCM data ends with a {rest}-byte partial block, shorter than its 4-byte header"
        )
    buf = np.frombuffer(raw, dtype=np.uint8)
    headers = buf[: n_full * block_align].reshape(n_full, block_align)[:, 2]
    if rest:
        headers = np.append(headers, buf[n_full * block_align + 2])
    bad = np.flatnonzero(headers > 88)
    if bad.size:
        raise WavFormatError(
            f"IMA ADPCM block {int(bad[0])} header has step index {int(headers[bad[0]])} > 88"
        )
    # Blocks are independent (each header resets the state), so decode them in groups of about
    # one scan chunk: bounded memory, and each group is a single vectorised pass.
    group = max(1, _SCAN_CHUNK // block_align)
    pieces: list[tuple[int, int]] = [
        (start, min(start + group, n_full)) for start in range(0, n_full, group)
    ]
    parts: list[Int16Array] = []
    for lo_block, hi_block in pieces:
        parts.append(_ima_blocks(buf[lo_block * block_align : hi_block * block_align], block_align))
    if rest:
        parts.append(_ima_blocks(buf[n_full * block_align :], rest))
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(parts)


def _ima_blocks(flat: npt.NDArray[np.uint8], width: int) -> Int16Array:
    """Decode consecutive IMA blocks of ``width`` bytes each (validated headers)."""
    blocks = flat.reshape(-1, width)
    nb = blocks.shape[0]
    pred = blocks[:, 0].astype(np.int64) | (blocks[:, 1].astype(np.int64) << 8)
    pred = np.where(pred >= 0x8000, pred - 0x10000, pred)  # int16 little-endian
    body = blocks[:, 4:].astype(np.int64)
    per = 2 * (width - 4) + 1  # header sample + two codes per byte, low nibble first
    codes = np.zeros((nb, per), dtype=np.int64)
    codes[:, 1::2] = body & 15
    codes[:, 2::2] = body >> 4
    reset = np.zeros((nb, per), dtype=bool)
    reset[:, 0] = True
    r_index = np.zeros((nb, per), dtype=np.int64)
    r_index[:, 0] = blocks[:, 2]
    r_value = np.zeros((nb, per), dtype=np.int64)
    r_value[:, 0] = pred
    out, _ = _adpcm_steps(
        codes.ravel(), r_index.ravel(), r_value.ravel(), reset.ravel(), _IMA_DIFF, 88,
        -32768, 32767,
    )  # fmt: skip
    return out.astype(np.int16)


def _decode_oki(raw: bytes, variant: str) -> Int16Array:
    """Decode a Dialogic/OKI ADPCM stream (high nibble first) to int16.

    ``variant`` picks the saturation rule, the only place the peers differ (measured on
    random codes): ``"dialogic"`` keeps the 12-bit predictor in [-2048, 2047] and outputs
    16 * predictor (ffmpeg's ``adpcm_ima_oki``; always a multiple of 16); ``"sndfile"`` keeps
    the predictor in 16-bit units (16 * the 12-bit value) saturated to [-32768, 32767], so a
    positive overload leaves it at 32767 and later samples off the multiple-of-16 grid
    (libsndfile's RAW VOX_ADPCM and ``sox -t vox``). Both give identical output as long as the
    positive limit is never reached.
    """
    if variant == "dialogic":
        diff, vmin, vmax, scale = _OKI_DIFF, -2048, 2047, 16
    elif variant == "sndfile":
        diff, vmin, vmax, scale = _OKI_DIFF * 16, -32768, 32767, 1
    else:
        raise ValueError(f"unknown OKI variant {variant!r}; expected one of {OKI_VARIANTS}")
    buf = np.frombuffer(raw, dtype=np.uint8)
    out = np.empty(2 * buf.size, dtype=np.int16)
    index, value = 0, 0  # the decoder starts from predictor 0, step index 0
    step = _SCAN_CHUNK // 2
    # One continuous stream: chunks carry (index, value) from one to the next.
    for start in range(0, buf.size, step):
        body = buf[start : start + step].astype(np.int64)
        codes = np.empty(2 * body.size, dtype=np.int64)
        codes[0::2] = body >> 4
        codes[1::2] = body & 15
        state_i = np.full(1, index, dtype=np.int64)
        state_v = np.full(1, value, dtype=np.int64)
        vals, idx = _adpcm_steps(
            codes, state_i, state_v, None, diff, len(OKI_STEPS) - 1, vmin, vmax
        )
        out[2 * start : 2 * start + vals.size] = vals * scale
        index, value = int(idx[-1]), int(vals[-1])
    return out


# --- public API -----------------------------------------------------------------------------


def decode(
    fmt: str,
    data_bytes: bytes | bytearray | memoryview,
    n_samples: int | None = None,
    *,
    block_align: int = 256,
    oki_variant: str = "dialogic",
) -> Int16Array:
    """Decode the raw data of one encoding to int16 samples.

    ``n_samples`` trims the output (the ``fact`` count: IMA decodes whole blocks, OKI whole
    bytes); asking for more samples than the data holds raises `WavFormatError`, as does data
    that cannot be decoded exactly (odd-length 16-bit PCM, an IMA header step index > 88).
    ``block_align`` is the IMA block size; ``oki_variant`` the OKI saturation rule
    (`OKI_VARIANTS`). An unknown ``fmt`` raises `ValueError`.
    """
    raw = bytes(data_bytes)
    if fmt == "alaw":
        out = ALAW_TABLE[np.frombuffer(raw, dtype=np.uint8)]
    elif fmt == "ulaw":
        out = ULAW_TABLE[np.frombuffer(raw, dtype=np.uint8)]
    elif fmt == "u8bit":
        out = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif fmt == "s16bit":
        if len(raw) % 2:
            raise WavFormatError(f"16-bit PCM data has an odd length ({len(raw)} bytes)")
        out = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif fmt == "ima":
        out = _decode_ima(raw, block_align)
    elif fmt == "oki":
        out = _decode_oki(raw, oki_variant)
    else:
        raise ValueError(f"unknown encoding {fmt!r}; expected one of {FORMATS}")
    if n_samples is not None:
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if n_samples > out.size:
            raise WavFormatError(
                f"{n_samples} samples requested but the {fmt} data holds only {out.size}"
            )
        out = out[:n_samples]
    return np.ascontiguousarray(out, dtype=np.int16)


def encoding_of(info: WavInfo) -> str:
    """Name the encoding a parsed header uses, or raise `WavFormatError` if we cannot decode it."""
    if info.channels != 1:
        raise WavFormatError(f"{info.channels} channels: only mono files are decoded")
    tag, bits = info.effective_tag, info.bits_per_sample
    # Each codec is decoded only at the sample width it is defined for (IMA also exists as a
    # 3-bit variant, which these tables would silently misread).
    names = {
        (TAG_ALAW, 8): "alaw",
        (TAG_ULAW, 8): "ulaw",
        (TAG_PCM, 16): "s16bit",
        (TAG_PCM, 8): "u8bit",
        (TAG_IMA_ADPCM, 4): "ima",
        (TAG_DIALOGIC_OKI, 4): "oki",
        (TAG_OKI_ADPCM, 4): "oki",
    }
    if (tag, bits) in names:
        return names[(tag, bits)]
    raise WavFormatError(f"unsupported format: tag {tag_name(tag)} with {bits} bits per sample")


def decode_wav(
    data: bytes | bytearray | memoryview, *, oki_variant: str = "dialogic"
) -> tuple[WavInfo, Int16Array]:
    """Parse a WAV file and decode its data chunk to int16 samples.

    The sample count is the data size for G.711 and PCM (``fact`` is not used there; its
    consistency is `conformance.wavread.check_wav`'s job), and the ``fact`` count for IMA and
    OKI when present (else every decoded sample). Raises `WavFormatError` for anything that
    cannot be decoded.
    """
    raw = bytes(data)
    info = parse_wav(raw)
    fmt = encoding_of(info)
    body = raw[info.data_offset : info.data_offset + info.data_bytes]
    n: int | None = None
    if fmt == "ima":
        spb = ima_samples_per_block(info.block_align)
        if info.samples_per_block is not None and info.samples_per_block != spb:
            raise WavFormatError(
                f"wSamplesPerBlock {info.samples_per_block} does not match block align "
                f"{info.block_align} (which gives {spb})"
            )
        n = info.fact_samples
        return info, decode(fmt, body, n, block_align=info.block_align)
    if fmt == "oki":
        n = info.fact_samples
    return info, decode(fmt, body, n, oki_variant=oki_variant)
