"""Signal processing of the fair recorder: frame levels, an in-band DTMF detector, OKI ADPCM,
WAV files and resampling; written for ``tests/fair/recorder.py`` from the vendor facts and the
usual public descriptions of each algorithm, importing only the contract plus numpy, scipy and
soundfile.

DTMF: a Goertzel filter at the 8 DTMF frequencies on every 10 ms window (80 samples), computed
for a whole block at once as one matrix product. Two neighbouring windows make a 20 ms *span*
(their partial DFTs added with the phase of the second window's offset), so spans hop by 10 ms
and each span ends in a known window (and so in a known 20 ms frame). A span is a *hit* for a
digit when one row and one column tone dominate it; ``K_ON`` hits in a row confirm a digit, and
the digit ends after ``OFF_SPANS`` spans without it. The onset of a confirmed digit is found to
the sample by fitting the two tones on the confirming spans and extending the fit backwards
(``estimate_onset``).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from callsim.contract import DBM0_RMS, FRAME, TICKS_PER_SECOND, dbm0_to_energy

__all__ = [
    "DtmfState",
    "WINDOW",
    "Confirmed",
    "encode_wav",
    "estimate_onset",
    "frame_active",
    "header_bytes",
    "oki_encode",
    "resample",
    "scan_dtmf",
    "span_labels",
]

WINDOW = FRAME // 2  # 10 ms
K_ON = 3  # hits that confirm a digit (a 40 ms stretch of tone)
OFF_SPANS = 3  # spans without the digit that end it
TAIL = 8 * WINDOW  # history kept for onset estimation

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = "123A456B789C*0#D"
_FREQS = np.array(ROWS + COLS)
_OMEGA = 2 * np.pi * _FREQS / TICKS_PER_SECOND
_BASIS = np.exp(-1j * np.outer(np.arange(WINDOW), _OMEGA))  # (80, 8)
_SHIFT = np.exp(-1j * _OMEGA * WINDOW)  # phase of the second window of a span
_SPAN = 2 * WINDOW
#: each tone at least -33 dBm0 (mean power of the sinusoid)
_TONE_MIN = DBM0_RMS**2 * 10 ** (-33 / 10)


# -- silence ------------------------------------------------------------------------------------

def frame_active(frames: np.ndarray, *, ten_ms: bool) -> np.ndarray:
    """Audio (True) or silence per 20 ms frame.

    Default: ``sum(x**2)`` of the frame at or above the energy of -45 dBm0 over 160 samples.
    ``ten_ms``: -40 dBm0 over either 10 ms half of the frame.
    """
    x = frames.astype(np.int64)
    if ten_ms:
        halves = x.reshape(len(x), 2, WINDOW)
        e = np.einsum("ijk,ijk->ij", halves, halves)
        return (e >= dbm0_to_energy(-40.0, WINDOW)).any(axis=1)
    return np.einsum("ij,ij->i", x, x) >= dbm0_to_energy(-45.0, FRAME)


# -- DTMF ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DtmfState:
    """Detector state between blocks (immutable, so a block may be scanned ahead)."""

    prev: Any = None  # partial DFT (8 complex) and energy of the last window, or None
    tail: Any = None  # the last TAIL samples before the next block
    on: int = -1  # digit sounding (reported, old or primed), -1 none
    off: int = 0  # spans since `on` was last seen
    cand: int = -1  # candidate digit
    run: int = 0  # its consecutive hits
    cand_w: int = 0  # absolute index of the window in which its first hit span ends


@dataclass(frozen=True)
class Confirmed:
    """A digit confirmed in a block: the span (window index in the block) and its first hit."""

    window: int  # window index within the block where the confirming span ends
    digit: str
    first_w: int  # absolute window index where the first hit span ended


def _windows(samples: np.ndarray, prev: Any) -> tuple[np.ndarray, np.ndarray]:
    """Span DFTs (m, 8) and span energies (m,) for the windows of ``samples``."""
    w = samples.reshape(-1, WINDOW).astype(np.float64)
    X = w @ _BASIS
    e = np.einsum("ij,ij->i", w, w)
    if prev is None:
        px, pe = np.zeros(8, complex), 0.0
    else:
        px, pe = prev
    Xp = np.vstack([px[None, :], X[:-1]])
    ep = np.concatenate([[pe], e[:-1]])
    return Xp + X * _SHIFT, ep + e


def span_labels(S: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Digit index 0..15 per span, or -1."""
    p = np.abs(S) ** 2 * (2.0 / _SPAN**2)  # mean power of each tone
    total = E / _SPAN
    rows, cols = p[:, :4], p[:, 4:]
    r, c = rows.argmax(axis=1), cols.argmax(axis=1)
    pr, pc = rows.max(axis=1), cols.max(axis=1)
    rs, cs = np.sort(rows, axis=1), np.sort(cols, axis=1)
    ok = (pr >= _TONE_MIN) & (pc >= _TONE_MIN)
    ok &= (pr + pc) >= 0.75 * total
    ok &= rs[:, -2] * 4.0 <= pr  # other rows at least 6 dB down
    ok &= cs[:, -2] * 4.0 <= pc
    twist = pc / np.maximum(pr, 1e-9)
    ok &= (twist >= 10 ** (-1.0)) & (twist <= 10 ** 0.6)  # -10 .. +6 dB
    return np.where(ok, r * 4 + c, -1)


def scan_dtmf(start: int, samples: np.ndarray, state: DtmfState, *, stop_at_new: bool,
              is_old: Any = None) -> tuple[Confirmed | None, DtmfState]:
    """Run the detector over ``samples`` (starting at tick ``start``, whole windows).

    Returns the first newly confirmed digit that ``is_old(confirmed, history)`` does not call
    old (and, with ``stop_at_new``, the state at that point), or None and the state after all
    of ``samples``. Confirmed digits that are old become the sounding digit and never fire.
    """
    S, E = _windows(samples, state.prev)
    labels = span_labels(S, E)
    w0 = start // WINDOW
    m = len(labels)
    # run-length segments of equal labels
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], change, [m]])
    on, off, cand, run, cand_w = state.on, state.off, state.cand, state.run, state.cand_w
    found: Confirmed | None = None
    for a, b in zip(bounds[:-1], bounds[1:]):
        a, b = int(a), int(b)
        lab = int(labels[a])
        length = b - a
        if lab < 0:
            cand, run = -1, 0
            if on >= 0:
                off += length
                if off >= OFF_SPANS:
                    on, off = -1, 0
            continue
        if lab == on:
            off, cand, run = 0, -1, 0
            continue
        prior = run if cand == lab else 0
        first = cand_w if prior else w0 + a
        need = K_ON - prior
        if length < need:
            cand, run, cand_w = lab, prior + length, first
            if on >= 0:
                off += length
                if off >= OFF_SPANS:
                    on, off = -1, 0
            continue
        at = a + need - 1  # the span that confirms
        conf = Confirmed(at, KEYS[lab], first)
        old = True if is_old is None else bool(is_old(conf, start, samples, state.tail))
        if not old and found is None:
            found = conf
            if stop_at_new:
                st = _state_after(samples, state, at, on=lab, off=0, cand=-1, run=0, cand_w=0)
                return found, st
        on, off, cand, run, cand_w = lab, 0, -1, 0, 0
    return found, _state_after(samples, state, m - 1, on=on, off=off, cand=cand, run=run, cand_w=cand_w)


def _state_after(samples: np.ndarray, state: DtmfState, last_window: int, **kw: Any) -> DtmfState:
    """The state once windows 0..last_window of ``samples`` are consumed."""
    upto = (last_window + 1) * WINDOW
    w = samples[last_window * WINDOW: upto].astype(np.float64)
    prev = (w @ _BASIS, float(w @ w))
    hist = samples[:upto] if state.tail is None else np.concatenate([state.tail, samples[:upto]])
    return replace(state, prev=prev, tail=np.array(hist[-TAIL:], dtype=np.int16), **kw)


def estimate_onset(digit: str, a: int, x: np.ndarray, fit: tuple[int, int], search: tuple[int, int]) -> int:
    """The sample at which the tone of ``digit`` began.

    ``x`` holds the samples from tick ``a``. The two tones are fitted (least squares) on
    ``fit`` = [f0, f1); then the onset s in ``search`` minimises the cost of explaining
    [s, f1) by the fitted tones and [search[0], s) by anything else: sum over [s, f1) of
    m**2 - 2*x*m.
    """
    k = KEYS.index(digit)
    freqs = (ROWS[k // 4], COLS[k % 4])
    lo = max(search[0], a)
    f1 = fit[1]
    t = np.arange(lo, f1, dtype=np.float64)
    cols = []
    for f in freqs:
        w = 2 * np.pi * f / TICKS_PER_SECOND
        cols += [np.cos(w * t), np.sin(w * t)]
    A = np.stack(cols, axis=1)
    xs = x[lo - a: f1 - a].astype(np.float64)
    sel = slice(fit[0] - lo, f1 - lo)
    coef, *_ = np.linalg.lstsq(A[sel], xs[sel], rcond=None)
    model = A @ coef
    g = model * model - 2.0 * xs * model
    suffix = np.cumsum(g[::-1])[::-1]  # suffix[i] = sum g[i:]
    hi = min(search[1], f1) - lo
    best = int(np.argmin(suffix[: hi + 1]))
    return lo + best


# -- OKI ADPCM ----------------------------------------------------------------------------------

_OKI_STEPS = (
    16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97, 107, 118,
    130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658,
    724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552,
)
_ADJUST = (-1, -1, -1, -1, 2, 4, 6, 8)
#: change of the 12-bit predictor for (step index, magnitude 0..7): ((2m + 1) * step) >> 3
_DIFF = tuple(tuple(((2 * m + 1) * s) >> 3 for m in range(8)) for s in _OKI_STEPS)
_NEXT = tuple(tuple(min(48, max(0, i + _ADJUST[m])) for m in range(8)) for i in range(49))


def oki_encode(pcm: np.ndarray, *, nearest: bool = False) -> bytes:
    """Dialogic/OKI ADPCM (4 bits, high nibble first) of int16 samples; an odd count gets a
    zero code for the last nibble. The 12-bit predictor is kept off its limits: a code that
    would drive it past [-2048, 2047] is replaced by the best code that does not. The magnitude
    is ``4|d| // step`` (truncation, as the Dialogic description computes it), or with
    ``nearest`` the magnitude whose change is closest to ``|d|`` (another valid encoder)."""
    x12 = (np.asarray(pcm, dtype=np.int16).astype(np.int32) >> 4).tolist()
    codes = bytearray(len(x12) + (len(x12) & 1))
    pred, idx = 0, 0
    diff, nxt = _DIFF, _NEXT
    for i, v in enumerate(x12):
        step = _OKI_STEPS[idx]
        d = v - pred
        neg = d < 0
        m = ((-d if neg else d) << 2) // step
        if m > 7:
            m = 7
        if nearest:
            ad = -d if neg else d
            m = min(range(8), key=lambda k: abs(ad - diff[idx][k]))
        new = pred - diff[idx][m] if neg else pred + diff[idx][m]
        if new > 2047 or new < -2048:
            best = None
            for mm in range(8):
                for sg in (1, -1):
                    cand = pred + sg * diff[idx][mm]
                    if -2048 <= cand <= 2047:
                        err = abs(v - cand)
                        if best is None or err < best[0]:
                            best = (err, mm, sg < 0, cand)
            assert best is not None
            _, m, neg, new = best
        codes[i] = m | (8 if neg else 0)
        pred = new
        idx = nxt[idx][m]
    c = np.frombuffer(bytes(codes), dtype=np.uint8)
    return ((c[0::2] << 4) | c[1::2]).astype(np.uint8).tobytes()


# -- WAV files ----------------------------------------------------------------------------------

_SUBTYPES = {"alaw": "ALAW", "ulaw": "ULAW", "s16bit": "PCM_16", "u8bit": "PCM_U8", "ima": "IMA_ADPCM"}
IMA_BLOCK, IMA_SAMPLES = 256, 505


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WAVE"
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _g711_nearest(pcm: np.ndarray, fmt: str) -> bytes:
    """G.711 codes of ``pcm`` chosen as the nearest codec level (libsndfile decodes the 256
    codes), not the level of the input's quantisation interval: another valid encoder, which
    differs near the segment boundaries."""
    levels, _ = sf.read(io.BytesIO(bytes(range(256))), format="RAW", subtype=_SUBTYPES[fmt], samplerate=8000,
                        channels=1, dtype="int16")
    order = np.argsort(levels, kind="stable")
    lv = levels[order].astype(np.int64)
    x = pcm.astype(np.int64)
    i = np.clip(np.searchsorted(lv, x), 1, lv.size - 1)
    pick = np.where(np.abs(lv[i] - x) < np.abs(x - lv[i - 1]), i, i - 1)
    return order[pick].astype(np.uint8).tobytes()


def encode_wav(pcm: np.ndarray, fmt: str, rate: int, *, oki_tag: int = 0x0017,
               extensible: bool = False, ima_fact_padded: bool = False, nearest: bool = False) -> bytes:
    """A mono WAV file of ``pcm`` (int16 at ``rate``) in ``fmt``; ``nearest``: G.711 and OKI
    codes chosen by another valid rule (see ``_g711_nearest``, ``oki_encode``)."""
    pcm = np.asarray(pcm, dtype=np.int16)
    if fmt == "oki":
        fmt_chunk = struct.pack("<HHIIHHH", oki_tag, 1, rate, rate // 2, 1, 4, 0)
        return _riff([(b"fmt ", fmt_chunk), (b"fact", struct.pack("<I", len(pcm))),
                      (b"data", oki_encode(pcm, nearest=nearest))])
    buf = io.BytesIO()
    container = "WAVEX" if extensible and fmt != "ima" else "WAV"
    sf.write(buf, pcm, rate, subtype=_SUBTYPES[fmt], format=container)
    data = buf.getvalue()
    if nearest and fmt in ("alaw", "ulaw") and len(pcm):
        at = data.rindex(b"data") + 8
        data = data[:at] + _g711_nearest(pcm, fmt) + data[at + len(pcm):]
    if fmt == "ima":
        # libsndfile's fact counts the last block's padding; ours states the true count
        n = -(-len(pcm) // IMA_SAMPLES) * IMA_SAMPLES if ima_fact_padded else len(pcm)
        at = data.index(b"fact", 12)
        data = data[: at + 8] + struct.pack("<I", n) + data[at + 12:]
    return data


_HEADERS: dict[tuple[str, int, int, bool], int] = {}


def header_bytes(fmt: str, rate: int, *, oki_tag: int = 0x0017, extensible: bool = False) -> int:
    """Length of the header (everything before the audio data) of ``encode_wav``'s files."""
    key = (fmt, rate, oki_tag, extensible)
    if key not in _HEADERS:
        _HEADERS[key] = len(encode_wav(np.zeros(0, np.int16), fmt, rate, oki_tag=oki_tag, extensible=extensible))
    return _HEADERS[key]


def data_bytes(fmt: str, n: int) -> int:
    """Data-chunk bytes for ``n`` samples."""
    if fmt == "s16bit":
        return 2 * n
    if fmt == "oki":
        return (n + 1) // 2
    if fmt == "ima":
        return -(-n // IMA_SAMPLES) * IMA_BLOCK
    return n


def max_samples(fmt: str, budget: int) -> int:
    """Most samples whose data fits ``budget`` bytes (whole samples, bytes or IMA blocks)."""
    if budget <= 0:
        return 0
    if fmt == "s16bit":
        return budget // 2
    if fmt == "oki":
        return budget * 2
    if fmt == "ima":
        return (budget // IMA_BLOCK) * IMA_SAMPLES
    return budget


# -- resampling -------------------------------------------------------------------------------

def ratio(rate: int) -> tuple[int, int]:
    r = Fraction(rate, TICKS_PER_SECOND)
    return r.numerator, r.denominator


def resample(pcm: np.ndarray, rate: int, *, long_filter: bool = False) -> np.ndarray:
    """8 kHz int16 to ``rate`` with scipy's polyphase filter, rounded and clipped to int16.
    ``long_filter``: another valid design instead of scipy's default, twice as long with a
    steeper Kaiser window (beta 8.6: about 86 dB stop band, a sharper band edge)."""
    if rate == TICKS_PER_SECOND or len(pcm) == 0:
        return np.asarray(pcm, dtype=np.int16)
    up, down = ratio(rate)
    m = max(up, down)
    window: Any = firwin(2 * 20 * m + 1, 1.0 / m, window=("kaiser", 8.6)) if long_filter else ("kaiser", 5.0)
    y = resample_poly(np.asarray(pcm, dtype=np.float64), up, down, window=window)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def out_samples(ticks: Any, rate: int) -> Any:
    """Samples at ``rate`` for ``ticks`` samples at 8 kHz: ceil(ticks * rate / 8000)."""
    return -(-(ticks * rate) // TICKS_PER_SECOND)
