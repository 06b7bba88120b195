"""Far-end audio of a simulated call: segment generators and the timeline that mixes them.

This module owns everything the far end "says": silence, noise, tones, DTMF, speech clips and
arbitrary WAV files, as int16 samples at 8 kHz. Every generator is a pure function of the
absolute call position (plus the scenario seed and the segment's index in the timeline), so any
span ``[a, b)`` can be rendered at any time, and rendering ``[a, b)`` then ``[b, c)`` yields
exactly the samples of ``[a, c)``. Nothing long is ever materialised: a 24-hour noise segment
costs the same memory as a one-second one.

Level reference: 0 dBm0 is the contract's ``DBM0_RMS`` (16141.167 in 16-bit linear, sine peak
22827), the A-law digital-milliwatt convention of ITU-T G.711 as used by spandsp. Levels of tones and
DTMF are per tone; noise levels are the RMS of the whole signal; speech levels are the
*active* level defined in :func:`active_level_dbm0`.

Noise method (why it is fast and random-access): two unit-RMS tables of ``2**18`` samples are
built once per process from a fixed seed (white: Gaussian from PCG64's raw stream via
Box-Muller; pink: the same Gaussian spectrum shaped by ``1/sqrt(f)`` from 20 Hz to 4 kHz with a
circular FFT, so the table is exactly periodic and -3 dB/octave). A noise segment is cut into
chunks of 8192 samples; chunk ``c`` is a window of the table at an offset, and with a sign,
drawn from ``SeedSequence(seed, segment index, c)``. The first 256 samples of each chunk are
an equal-power (sine/cosine) cross-fade from the continuation of chunk ``c - 1``'s window, so
there is no step at chunk joins (which matters for pink noise), and the chunk is scaled so that
it, fade included, has exactly unit power: the level is exact over any whole chunk, not only
on average. A chunk therefore depends only on ``(seed, index, c - 1, c)`` and is made
independently; rendering is a few slice multiply-adds per chunk, and the per-chunk parameters
(two SeedSequence draws and a few dot products) sit in an LRU cache. Measured on the 2-core
dev box, 5 s blocks: white or pink noise about 28 000x realtime on first render (70 000x
re-rendered), speech about 100 000x, a two-tone Tone 8 000x, DTMF 9 000x.

Mixing: overlapping segments add in float64 in timeline order; the mix is rounded half to even
(``numpy.rint``) and clipped to ``[-32768, 32767]``. A :class:`Silence` segment adds zero and
never mutes another segment.
"""

from __future__ import annotations

import abc
import math
import operator
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, SupportsIndex

import numpy as np
import numpy.typing as npt

from callsim.contract.units import DBM0_RMS, TICKS_PER_SECOND, dbm0_to_rms, rms_to_dbm0

from .wavsource import WavInfo, WavInputError, check_wav, read_span

__all__ = [
    "DBM0_RMS",
    "DTMF_HIGH",
    "DTMF_KEYPAD",
    "DTMF_LOW",
    "NOISE_CHUNK",
    "SAMPLE_RATE",
    "SPEECH_ACTIVE_REL_DB",
    "SPEECH_CLIPS",
    "Dtmf",
    "Noise",
    "Segment",
    "Silence",
    "Speech",
    "Timeline",
    "Tone",
    "WavFile",
    "active_level_dbm0",
    "dbm0_to_rms",
    "dtmf_freqs",
    "load_wav",
    "rms_to_dbm0",
    "wav_info",
]

SAMPLE_RATE = TICKS_PER_SECOND

DTMF_LOW: tuple[float, ...] = (697.0, 770.0, 852.0, 941.0)
DTMF_HIGH: tuple[float, ...] = (1209.0, 1336.0, 1477.0, 1633.0)
# ITU-T Q.23 keypad: rows select the low tone, columns the high tone.
DTMF_KEYPAD: tuple[str, ...] = ("123A", "456B", "789C", "*0#D")

NOISE_CHUNK = 8192  # samples per independently generated noise chunk
_FADE = 256  # cross-fade at the start of each noise chunk (32 ms)
_TABLE_LEN = 1 << 18  # noise table period (32.8 s); power of two so offsets are unbiased
_TABLE_SEED = 0x63616C6C73696D  # "callsim": fixed, so every process builds the same tables
_PINK_LOW_HZ = 20.0  # pink shaping starts here; below it the table has no energy
_BLOCK = 1 << 16  # Timeline.render mixes in blocks of this size so memory stays flat

# Domain tags keep the per-chunk seeds of different generators apart.
_TAG_NOISE = 1
_TAG_SPEECH = 2

SPEECH_CLIPS: tuple[str, ...] = (
    "speech_en.wav",
    "speech_en_f3.wav",
    "speech_de.wav",
    "speech_fr.wav",
    "speech_es.wav",
)
SPEECH_ACTIVE_REL_DB = 40.0  # frames within this many dB of the loudest frame are "active"
#: The longest file read whole (a speech clip), in seconds at 8 kHz.
MAX_WHOLE_SECONDS = 60

FloatArray = npt.NDArray[np.float64]
Int16Array = npt.NDArray[np.int16]


# --------------------------------------------------------------------------- levels


def active_level_dbm0(x: npt.ArrayLike, rel_db: float = SPEECH_ACTIVE_REL_DB) -> float:
    """Active level of a speech signal, the definition :class:`Speech` scales to.

    The signal is cut into 20 ms frames of 160 samples aligned to its first sample (a trailing
    partial frame is ignored). A frame is *active* when its energy is within ``rel_db`` dB of the
    loudest frame's energy; the active level is the RMS over the active frames, in dBm0. The
    threshold is relative so that the set of active frames does not depend on the scale, which
    makes "scale the clip to an active level" exact.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.size // 160
    if n == 0:
        return -math.inf
    energy = np.einsum("ij,ij->i", a[: n * 160].reshape(n, 160), a[: n * 160].reshape(n, 160))
    peak = float(energy.max())
    if peak <= 0.0:
        return -math.inf
    active = energy >= peak * 10.0 ** (-rel_db / 10.0)
    return rms_to_dbm0(math.sqrt(float(energy[active].sum()) / (160.0 * int(active.sum()))))


def dtmf_freqs(digit: str) -> tuple[float, float]:
    """Nominal (low, high) frequencies in Hz of a DTMF digit (``0-9 * # A-D``)."""
    for row, keys in enumerate(DTMF_KEYPAD):
        col = keys.find(digit)
        if len(digit) == 1 and col >= 0:
            return DTMF_LOW[row], DTMF_HIGH[col]
    raise ValueError(f"not a DTMF digit: {digit!r}")


def _ticks(value: SupportsIndex, what: str) -> int:
    """A non-negative integer tick count; bools and floats are rejected (time is an int)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not bool")
    n = operator.index(value)
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    return n


def _ms_to_ticks(ms: float, what: str) -> int:
    """Whole ticks for a duration in ms; a value that is not a whole number of ticks is an error."""
    ticks = ms * SAMPLE_RATE / 1000.0
    if ticks < 0 or ticks != int(ticks):
        raise ValueError(f"{what}={ms} ms is not a whole, non-negative number of 125 us ticks")
    return int(ticks)


# --------------------------------------------------------------------------- seeds


def _words(value: int) -> tuple[int, int]:
    """Two 32-bit words of a 64-bit value: a fixed-length encoding keeps seed tuples injective."""
    return value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF


@lru_cache(maxsize=8192)
def _chunk_state(seed: int, index: int, chunk: int, tag: int) -> int:
    """64 random bits for one chunk, from ``SeedSequence((seed, index, chunk, tag))``.

    SeedSequence turns each int into a variable number of 32-bit words and zero-pads, so
    ``(1, 2)`` and ``(1, 2, 0)`` would collide; splitting every value into exactly two words
    makes the mapping from tuples to entropy injective.
    """
    entropy = [*_words(seed), *_words(index), *_words(chunk), tag]
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)
    return int(state[0])


def _check_seed(seed: int) -> int:
    seed = operator.index(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


# --------------------------------------------------------------------------- noise tables


@lru_cache(maxsize=2)
def _noise_table(color: str) -> FloatArray:
    """Unit-RMS periodic noise table, padded so any window plus fade continuation is a slice."""
    bits = np.random.PCG64(np.random.SeedSequence(_TABLE_SEED)).random_raw(_TABLE_LEN)
    # Box-Muller from the raw stream (its bits are stable across numpy versions, unlike the
    # ziggurat behind Generator.standard_normal).
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    half = _TABLE_LEN // 2
    radius = np.sqrt(-2.0 * np.log(u[:half]))
    angle = 2.0 * np.pi * u[half:]
    gauss = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
    if color == "white":
        table = gauss
    elif color == "pink":
        spectrum = np.fft.rfft(gauss)
        freqs = np.fft.rfftfreq(_TABLE_LEN, 1.0 / SAMPLE_RATE)
        shape = np.zeros_like(freqs)
        band = freqs >= _PINK_LOW_HZ
        shape[band] = 1.0 / np.sqrt(freqs[band])  # power ~ 1/f: -3.01 dB per octave
        table = np.fft.irfft(spectrum * shape, _TABLE_LEN)
    else:
        raise ValueError(f"unknown noise color {color!r}")
    table = table / math.sqrt(float(np.mean(table * table)))
    padded = np.concatenate([table, table[: NOISE_CHUNK + _FADE]])
    padded.setflags(write=False)
    return padded


@lru_cache(maxsize=1)
def _fade_curves() -> tuple[FloatArray, FloatArray]:
    """(fade-out, fade-in) weights whose squares sum to one: equal power for independent inputs."""
    theta = (np.arange(_FADE, dtype=np.float64) + 0.5) * (np.pi / 2.0 / _FADE)
    return np.cos(theta), np.sin(theta)


@lru_cache(maxsize=8192)
def _chunk_window(seed: int, index: int, chunk: int, color: str) -> tuple[int, float]:
    """(table offset, signed gain) of noise chunk ``chunk``'s window, the gain making that
    window alone unit power. Chunk ``c - 1``'s window continued past its end is the fade-out
    source of chunk ``c`` (``-1`` serves chunk 0, so every chunk is made the same way)."""
    state = _chunk_state(seed, index, chunk + 1, _TAG_NOISE)
    offset = state & (_TABLE_LEN - 1)
    sign = -1.0 if state >> 63 else 1.0
    window = _noise_table(color)[offset : offset + NOISE_CHUNK]
    return offset, sign / math.sqrt(float(np.dot(window, window)) / NOISE_CHUNK)


@lru_cache(maxsize=8192)
def _noise_chunk(seed: int, index: int, chunk: int, color: str) -> tuple[int, float, int, float]:
    """(offset, gain, previous offset, previous gain) that make noise chunk ``chunk``.

    The chunk is ``fade_out * prev_gain * table[prev_offset + CHUNK + j]
    + fade_in * gain * table[offset + j]`` for ``j < FADE`` and ``gain * table[offset + j]``
    after. ``gain`` (with the chunk's seeded sign) solves the quadratic that makes the whole
    chunk, fade included, exactly unit power, so the level over any whole chunk is exact
    instead of only right on average. It depends on chunk ``c - 1`` only through its window
    (never through its final gain), so there is no recursion and random access stays O(1).
    """
    offset, own = _chunk_window(seed, index, chunk, color)
    p_offset, p_gain = _chunk_window(seed, index, chunk - 1, color)
    table = _noise_table(color)
    fade_out, fade_in = _fade_curves()
    head = fade_in * table[offset : offset + _FADE]
    rest = table[offset + _FADE : offset + NOISE_CHUNK]
    tail = (p_gain * fade_out) * table[p_offset + NOISE_CHUNK : p_offset + NOISE_CHUNK + _FADE]
    a = float(np.dot(head, head) + np.dot(rest, rest))
    b = float(np.dot(head, tail))
    c = float(np.dot(tail, tail)) - NOISE_CHUNK
    if c >= 0.0:  # cannot happen with 256 of 8192 samples faded, but never divide badly
        return offset, own, p_offset, p_gain
    # a g^2 + 2 b g + c = 0 with c < 0 has one positive and one negative root; take the one
    # with the chunk's sign.
    root = math.sqrt(b * b - a * c)
    gain = (-b + root) / a if own > 0 else (-b - root) / a
    return offset, gain, p_offset, p_gain


# --------------------------------------------------------------------------- WAV loading


def wav_info(path: str | Path) -> WavInfo:
    """``simulator.wavsource.check_wav`` of ``path``, cached while the file is unchanged (its
    size and modification time are part of the key); ``WavInputError`` for a file it refuses."""
    p = Path(path).absolute()
    try:
        st = os.stat(p)
    except OSError as exc:
        raise WavInputError(f"cannot read {p}: {exc.strerror or exc}") from None
    return _wav_info_cached(str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _wav_info_cached(path: str, mtime_ns: int, size: int) -> WavInfo:
    return check_wav(path)


def load_wav(path: str | Path) -> FloatArray:
    """A whole WAV file as read-only float64 mono at 8 kHz in the int16 scale (cached per file).

    Channels are averaged; other rates go through ``scipy.signal.resample_poly`` with the
    reduced ratio (e.g. 320/441 from 11025 Hz), whose output has ``ceil(n * 8000 / rate)``
    samples. Values are not rounded here; the timeline rounds the final mix. The file is checked
    first (``simulator.wavsource.check_wav``); a file longer than ``MAX_WHOLE_SECONDS`` at 8 kHz
    is refused (``WavInputError``): long inputs are read by span (``WavFile``), never whole.
    """
    info = wav_info(path)
    return _load_whole(info)


@lru_cache(maxsize=32)
def _load_whole(info: WavInfo) -> FloatArray:
    if info.length > MAX_WHOLE_SECONDS * SAMPLE_RATE:
        raise WavInputError(f"{info.path} lasts {info.length / SAMPLE_RATE:.1f} s; a speech clip (read whole) "
                            f"lasts at most {MAX_WHOLE_SECONDS} s")
    out = np.array(read_span(info, 0, info.length))
    out.setflags(write=False)
    return out


def _resolve_clip(name: str) -> Path:
    """A clip given as an absolute path, or as the name of a bundled clip in
    ``callsim.fixtures.audio``; any other relative path is taken as given (the scenario loader
    has already made a scenario's own clips absolute, so for scenarios the current folder never
    matters)."""
    p = Path(name)
    if p.is_absolute():
        return p
    if name in SPEECH_CLIPS:
        from callsim.fixtures import audio_path  # local import: only speech needs the bundled clips

        return audio_path(name)
    return p


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True, kw_only=True)
class Segment(abc.ABC):
    """A span of far-end audio starting at tick ``start``; subclasses say what it sounds like.

    ``render(seed, index, a, b)`` returns float64 samples for absolute call positions
    ``[a, b)`` (length ``b - a``; zero where the segment does not reach). ``seed`` is the
    scenario seed and ``index`` the segment's position in its timeline; together they seed every
    random choice, so two segments in one call never share noise.
    """

    start: int

    def __post_init__(self) -> None:
        _ticks(self.start, "start")

    @property
    @abc.abstractmethod
    def end(self) -> int:
        """First tick after the segment."""

    @abc.abstractmethod
    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        """Add the segment's samples for ``[lo, hi)`` (already clipped to it) to ``out[lo-a:hi-a]``."""

    def render(self, seed: int, index: int, a: int, b: int) -> FloatArray:
        """Float64 samples of this segment alone for absolute positions ``[a, b)``."""
        a, b = _ticks(a, "a"), _ticks(b, "b")
        if b < a:
            raise ValueError(f"reversed span [{a}, {b})")
        out = np.zeros(b - a, dtype=np.float64)
        self._mix(out, a, _check_seed(seed), index)
        return out

    def _mix(self, out: FloatArray, a: int, seed: int, index: int) -> None:
        lo, hi = max(a, self.start), min(a + out.size, self.end)
        if lo < hi:
            self._add_into(out, a, lo, hi, seed, index)

    def active_spans(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int]]:
        """Ground-truth ``[start, end)`` spans inside ``[a, b)`` where this segment makes sound."""
        lo, hi = max(a, self.start), min(b, self.end)
        return [(lo, hi)] if lo < hi else []


@dataclass(frozen=True, kw_only=True)
class Silence(Segment):
    """Digital zero for ``duration`` ticks (adds nothing to the mix; documents intent)."""

    duration: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _ticks(self.duration, "duration")

    @property
    def end(self) -> int:
        return self.start + self.duration

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        return None

    def active_spans(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int]]:
        return []


@dataclass(frozen=True, kw_only=True)
class Noise(Segment):
    """White or pink (-3 dB/octave from 20 Hz) noise at an RMS level of ``level_dbm0``."""

    duration: int
    level_dbm0: float
    color: Literal["white", "pink"] = "white"

    def __post_init__(self) -> None:
        super().__post_init__()
        _ticks(self.duration, "duration")
        if self.color not in ("white", "pink"):
            raise ValueError(f"color must be 'white' or 'pink', got {self.color!r}")

    @property
    def end(self) -> int:
        return self.start + self.duration

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        table = _noise_table(self.color)
        fade_out, fade_in = _fade_curves()
        level = dbm0_to_rms(self.level_dbm0)
        rel_lo, rel_hi = lo - self.start, hi - self.start
        for chunk in range(rel_lo // NOISE_CHUNK, (rel_hi - 1) // NOISE_CHUNK + 1):
            base = chunk * NOISE_CHUNK
            j0, j1 = max(rel_lo - base, 0), min(rel_hi - base, NOISE_CHUNK)
            dst = out[base + j0 + self.start - a : base + j1 + self.start - a]
            offset, gain, p_offset, p_gain = _noise_chunk(seed, index, chunk, self.color)
            g = level * gain
            if j0 < _FADE:
                # Equal-power cross-fade from the previous chunk's window continued past its end.
                f1 = min(j1, _FADE)
                tail = table[p_offset + NOISE_CHUNK + j0 : p_offset + NOISE_CHUNK + f1]
                head = table[offset + j0 : offset + f1]
                dst[: f1 - j0] += (level * p_gain) * (fade_out[j0:f1] * tail) + g * (
                    fade_in[j0:f1] * head
                )
                j_mid = f1
            else:
                j_mid = j0
            if j_mid < j1:
                dst[j_mid - j0 :] += g * table[offset + j_mid : offset + j1]


def _add_sine(dst: FloatArray, n: FloatArray, freq: float, amp: float, reduce: bool, phase: float = 0.0) -> None:
    """``dst += amp * sin(2 pi (freq n / fs + phase))``, in place (no temporaries beyond one
    array); ``phase`` in cycles.

    With ``reduce`` the phase is first reduced to [0, 1) cycle (``x - floor(x)``, much faster
    than ``np.mod``) so that precision does not decay over a 24-hour call. Every sample is an
    elementwise function of its own ``n``, which is what makes chunked rendering exact.
    """
    x = n * (freq / SAMPLE_RATE)
    if phase:
        x += phase
    if reduce:
        x -= np.floor(x)
    x *= 2.0 * np.pi
    np.sin(x, out=x)
    x *= amp
    dst += x


@dataclass(frozen=True, kw_only=True)
class Tone(Segment):
    """Continuous sum of sines, each at ``level_dbm0``; sine ``i`` starts at ``start`` with phase
    ``phases_deg[i]`` (default zero). Sines all at phase zero sum to a waveform as loud below zero
    as above it; other phases make one that is not (one rail clipped, the other not)."""

    duration: int
    freqs: tuple[float, ...]
    level_dbm0: float = -10.0
    phases_deg: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _ticks(self.duration, "duration")
        object.__setattr__(self, "freqs", tuple(float(f) for f in self.freqs))
        object.__setattr__(self, "phases_deg", tuple(float(d) for d in self.phases_deg))
        for f in self.freqs:
            if not 0.0 < f < SAMPLE_RATE / 2:
                raise ValueError(f"tone frequency {f} Hz outside (0, {SAMPLE_RATE // 2})")
        if self.phases_deg and len(self.phases_deg) != len(self.freqs):
            raise ValueError(f"{len(self.phases_deg)} phases for {len(self.freqs)} frequencies")
        for d in self.phases_deg:
            if not 0.0 <= d < 360.0:
                raise ValueError(f"tone phase {d} degrees outside [0, 360)")

    @property
    def end(self) -> int:
        return self.start + self.duration

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        n = np.arange(lo - self.start, hi - self.start, dtype=np.float64)
        amp = math.sqrt(2.0) * dbm0_to_rms(self.level_dbm0)
        dst = out[lo - a : hi - a]
        for f, deg in zip(self.freqs, self.phases_deg or (0.0,) * len(self.freqs), strict=True):
            _add_sine(dst, n, f, amp, reduce=True, phase=deg / 360.0)


@dataclass(frozen=True, kw_only=True)
class Dtmf(Segment):
    """A string of DTMF digits: digit ``i`` sounds on ``[start + i*P, start + i*P + tone)``
    with ``P = tone + gap`` (ticks); the segment ends when the last tone ends.

    Levels are per tone: low tone at ``level_dbm0``, high tone at ``level_dbm0 + twist_db``
    (twist = level_high - level_low, so -8 dB means the high tone is 8 dB weaker).
    ``freq_offset_pct`` shifts both tones; ``low_offset_pct``/``high_offset_pct`` override it
    per group. Each burst starts at sine phase zero. With ``out_of_band`` the segment renders no
    audio and exists only through :meth:`dtmf_schedule` (RFC 4733-style events).

    Impurities a clean two-tone sender lacks (talk-off material for detector tests; ``None`` =
    absent): ``low_harmonic_db``/``high_harmonic_db`` add the second harmonic of the low/high
    tone at that level relative to its tone (a voice or an instrument has such partials);
    ``im3_below_db``/``im3_above_db`` add the third-order intermodulation product
    ``|2 f_low - f_high|`` / ``2 f_high - f_low`` at that level relative to the weaker tone (what
    a non-linear path or two harmonics of one voice give). Each starts at sine phase zero.
    """

    digits: str
    tone_ms: float = 50.0
    gap_ms: float = 50.0
    level_dbm0: float = -10.0
    twist_db: float = 0.0
    freq_offset_pct: float = 0.0
    low_offset_pct: float | None = None
    high_offset_pct: float | None = None
    out_of_band: bool = False
    low_harmonic_db: float | None = None
    high_harmonic_db: float | None = None
    im3_below_db: float | None = None
    im3_above_db: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.digits:
            raise ValueError("Dtmf needs at least one digit")
        for d in self.digits:
            dtmf_freqs(d)
            for f, _lvl, _rel in self.impurities(d):
                if not 0.0 < f < SAMPLE_RATE / 2:
                    raise ValueError(f"impurity at {f} Hz of digit {d!r} outside (0, {SAMPLE_RATE // 2})")
        if _ms_to_ticks(self.tone_ms, "tone_ms") == 0:
            raise ValueError("tone_ms must be > 0")
        _ms_to_ticks(self.gap_ms, "gap_ms")

    @property
    def tone_ticks(self) -> int:
        return _ms_to_ticks(self.tone_ms, "tone_ms")

    @property
    def gap_ticks(self) -> int:
        return _ms_to_ticks(self.gap_ms, "gap_ms")

    @property
    def duration(self) -> int:
        return len(self.digits) * (self.tone_ticks + self.gap_ticks) - self.gap_ticks

    @property
    def end(self) -> int:
        return self.start + self.duration

    def tone_freqs(self, digit: str) -> tuple[float, float]:
        """Actual (low, high) frequencies generated for ``digit``, offsets applied."""
        low, high = dtmf_freqs(digit)
        lo_pct = self.freq_offset_pct if self.low_offset_pct is None else self.low_offset_pct
        hi_pct = self.freq_offset_pct if self.high_offset_pct is None else self.high_offset_pct
        return low * (1.0 + lo_pct / 100.0), high * (1.0 + hi_pct / 100.0)

    def impurities(self, digit: str) -> list[tuple[float, float, float]]:
        """(frequency, level in dBm0, level relative to its reference tone in dB) of every
        impurity added to ``digit``'s tones, in order."""
        f_lo, f_hi = self.tone_freqs(digit)
        l_lo, l_hi = self.level_dbm0, self.level_dbm0 + self.twist_db
        weaker = min(l_lo, l_hi)
        out = []
        for f, base, rel in ((2.0 * f_lo, l_lo, self.low_harmonic_db), (2.0 * f_hi, l_hi, self.high_harmonic_db),
                             (abs(2.0 * f_lo - f_hi), weaker, self.im3_below_db),
                             (2.0 * f_hi - f_lo, weaker, self.im3_above_db)):
            if rel is not None:
                out.append((f, base + float(rel), float(rel)))
        return out

    def dtmf_schedule(self) -> list[tuple[int, int, str]]:
        """Ground truth ``(onset_tick, end_tick, digit)`` of every digit, in order."""
        period, tone = self.tone_ticks + self.gap_ticks, self.tone_ticks
        return [
            (self.start + i * period, self.start + i * period + tone, d)
            for i, d in enumerate(self.digits)
        ]

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        if self.out_of_band:
            return
        period, tone = self.tone_ticks + self.gap_ticks, self.tone_ticks
        amp_lo = math.sqrt(2.0) * dbm0_to_rms(self.level_dbm0)
        amp_hi = math.sqrt(2.0) * dbm0_to_rms(self.level_dbm0 + self.twist_db)
        # One slice per burst: the frequencies are constant within a burst, and the bursts a
        # block overlaps are found by arithmetic, so a 10 000-digit segment costs no more per
        # block than a one-digit one.
        for i in range((lo - self.start) // period, (hi - 1 - self.start) // period + 1):
            onset = self.start + i * period
            p0, p1 = max(lo, onset), min(hi, onset + tone)
            if p0 >= p1:
                continue  # the block only touches this digit's gap
            f_lo, f_hi = self.tone_freqs(self.digits[i])
            m = np.arange(p0 - onset, p1 - onset, dtype=np.float64)
            dst = out[p0 - a : p1 - a]
            # m < period, so the phase needs no reduction.
            _add_sine(dst, m, f_lo, amp_lo, reduce=False)
            _add_sine(dst, m, f_hi, amp_hi, reduce=False)
            for f, level, _rel in self.impurities(self.digits[i]):
                _add_sine(dst, m, f, math.sqrt(2.0) * dbm0_to_rms(level), reduce=False)

    def active_spans(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int]]:
        if self.out_of_band:
            return []
        return [(max(s, a), min(e, b)) for s, e, _ in self.dtmf_schedule() if s < b and e > a]


@dataclass(frozen=True)
class _ClipBank:
    """Speech clips scaled to one active level, and the fixed slot length that places them."""

    clips: tuple[FloatArray, ...]
    slot: int


@lru_cache(maxsize=16)
def _clip_bank(clips: tuple[str, ...], level_dbm0: float, max_pause: int) -> _ClipBank:
    target = dbm0_to_rms(level_dbm0)
    scaled = []
    for name in clips:
        x = load_wav(_resolve_clip(name))
        level = active_level_dbm0(x)
        if not math.isfinite(level):
            raise ValueError(f"speech clip {name!r} is silent")
        y = x * (target / dbm0_to_rms(level))
        y.setflags(write=False)
        scaled.append(y)
    return _ClipBank(tuple(scaled), max(c.size for c in scaled) + max_pause)


@dataclass(frozen=True, kw_only=True)
class Speech(Segment):
    """Bundled (or given) speech clips played one after another with seeded natural pauses.

    The segment is cut into fixed slots of ``longest clip + max_pause_ms``; slot ``k`` holds one
    clip chosen by ``SeedSequence(seed, index, k)`` and placed at an offset that leaves at least
    ``min_pause_ms`` before it, so any position is found in O(1). Each clip is scaled so its
    active level (:func:`active_level_dbm0`) is ``level_dbm0``. Clips are names of files in
    ``fixtures/audio`` or paths to WAV files.
    """

    duration: int
    level_dbm0: float = -20.0
    clips: tuple[str, ...] = SPEECH_CLIPS
    min_pause_ms: float = 200.0
    max_pause_ms: float = 1500.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _ticks(self.duration, "duration")
        object.__setattr__(self, "clips", tuple(str(c) for c in self.clips))
        if not self.clips:
            raise ValueError("Speech needs at least one clip")
        if _ms_to_ticks(self.max_pause_ms, "max_pause_ms") < _ms_to_ticks(
            self.min_pause_ms, "min_pause_ms"
        ):
            raise ValueError("max_pause_ms must be >= min_pause_ms")

    @property
    def end(self) -> int:
        return self.start + self.duration

    def _bank(self) -> _ClipBank:
        return _clip_bank(self.clips, self.level_dbm0, _ms_to_ticks(self.max_pause_ms, "max"))

    def placements(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int, str]]:
        """``(clip_start, clip_end, clip_name)`` of every clip overlapping ``[a, b)``, unclipped."""
        bank = self._bank()
        min_pause = _ms_to_ticks(self.min_pause_ms, "min_pause_ms")
        lo, hi = max(a, self.start), min(b, self.end)
        result: list[tuple[int, int, str]] = []
        if lo >= hi:
            return result
        for k in range((lo - self.start) // bank.slot, (hi - 1 - self.start) // bank.slot + 1):
            state = _chunk_state(seed, index, k, _TAG_SPEECH)
            c = (state & 0xFFFFFFFF) % len(bank.clips)
            length = bank.clips[c].size
            offset = min_pause + (state >> 32) % (bank.slot - length - min_pause + 1)
            s = self.start + k * bank.slot + offset
            if s < hi and s + length > lo and s < self.end:
                result.append((s, s + length, self.clips[c]))
        return result

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        bank = self._bank()
        for s, e, name in self.placements(seed, index, lo, hi):
            clip = bank.clips[self.clips.index(name)]
            p0, p1 = max(s, lo), min(e, hi)
            out[p0 - a : p1 - a] += clip[p0 - s : p1 - s]

    def active_spans(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int]]:
        lo, hi = max(a, self.start), min(b, self.end)
        return [(max(s, lo), min(e, hi)) for s, e, _ in self.placements(seed, index, lo, hi)]


@dataclass(frozen=True, kw_only=True)
class WavFile(Segment):
    """A WAV file (any rate and channel count soundfile reads), mono-mixed, at 8 kHz.

    ``duration`` defaults to the file's length at 8 kHz; longer durations loop the file when
    ``loop`` is set and are digital zero after its end otherwise. ``gain_db`` scales it.
    """

    path: str
    duration: int | None = None
    gain_db: float = 0.0
    loop: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "path", str(self.path))
        if self.duration is not None:
            _ticks(self.duration, "duration")

    def samples(self) -> FloatArray:
        """The whole file as float64 at 8 kHz in the int16 scale (cached, read-only; files longer
        than ``MAX_WHOLE_SECONDS`` are refused: rendering reads only the span it needs)."""
        return load_wav(self.path)

    def info(self) -> WavInfo:
        """The checked file (``wav_info``): rate, channels, frames, length at 8 kHz."""
        return wav_info(self.path)

    @property
    def end(self) -> int:
        return self.start + (self.info().length if self.duration is None else self.duration)

    def _add_into(self, out: FloatArray, a: int, lo: int, hi: int, seed: int, index: int) -> None:
        info = self.info()
        n = info.length
        if n == 0:
            return
        gain = 10.0 ** (self.gain_db / 20.0)
        rel = lo - self.start
        while rel < hi - self.start:
            pos = rel % n if self.loop else rel
            if pos >= n:
                break
            take = min(n - pos, hi - self.start - rel)
            out[rel + self.start - a : rel + self.start - a + take] += gain * read_span(info, pos, pos + take)
            rel += take

    def active_spans(self, seed: int, index: int, a: int, b: int) -> list[tuple[int, int]]:
        n = self.info().length
        stop = self.end if self.loop else min(self.end, self.start + n)
        lo, hi = max(a, self.start), min(b, stop)
        return [(lo, hi)] if lo < hi else []


# --------------------------------------------------------------------------- timeline


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open spans, sorted; touching spans are joined."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


@dataclass(frozen=True)
class Timeline:
    """The far-end audio of a call: segments mixed together, seeded by ``seed``.

    A segment's ``index`` (its position in ``segments``) is part of its seed, so reordering the
    segments changes the noise and the speech order but nothing else.
    """

    segments: tuple[Segment, ...]
    seed: int = 0
    _starts: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)
    _ends: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "seed", _check_seed(self.seed))
        for s in self.segments:
            if not isinstance(s, Segment):
                raise TypeError(f"not a Segment: {s!r}")
        # Arrays of bounds let render() find the overlapping segments with one vectorised test.
        object.__setattr__(self, "_starts", np.array([s.start for s in self.segments], np.int64))
        object.__setattr__(self, "_ends", np.array([s.end for s in self.segments], np.int64))

    @property
    def end(self) -> int:
        """First tick after the last segment (0 for an empty timeline)."""
        return int(self._ends.max()) if self.segments else 0

    def render_float(self, a: int, b: int) -> FloatArray:
        """Unrounded, unclipped mix of ``[a, b)`` as float64 (for tests and measurements)."""
        a, b = _ticks(a, "a"), _ticks(b, "b")
        if b < a:
            raise ValueError(f"reversed span [{a}, {b})")
        out = np.zeros(b - a, dtype=np.float64)
        hit = np.flatnonzero((self._starts < b) & (self._ends > a))
        for i in hit.tolist():  # ascending index: the summation order is fixed
            self.segments[i]._mix(out, a, self.seed, i)
        return out

    def render(self, a: int, b: int) -> Int16Array:
        """The call's far-end samples for ticks ``[a, b)``: int16, length ``b - a``.

        Uncovered time is digital zero. The mix is rounded half to even and clipped. Long spans
        are mixed in blocks so memory stays bounded by the block size, not the span.
        """
        a, b = _ticks(a, "a"), _ticks(b, "b")
        if b < a:
            raise ValueError(f"reversed span [{a}, {b})")
        out = np.empty(b - a, dtype=np.int16)
        for p in range(a, b, _BLOCK):
            q = min(p + _BLOCK, b)
            mix = self.render_float(p, q)
            np.rint(mix, out=mix)
            np.clip(mix, -32768.0, 32767.0, out=mix)
            out[p - a : q - a] = mix
        return out

    def dtmf_events(self) -> list[tuple[int, int, str, bool]]:
        """Ground truth ``(onset_tick, end_tick, digit, out_of_band)`` of every DTMF digit,
        sorted by onset (then by timeline order)."""
        events = [
            (on, off, d, seg.out_of_band)
            for seg in self.segments
            if isinstance(seg, Dtmf)
            for on, off, d in seg.dtmf_schedule()
        ]
        return sorted(events, key=lambda e: e[0])

    def active_spans(self, a: int = 0, b: int | None = None) -> list[tuple[int, int]]:
        """Merged ``[start, end)`` spans inside ``[a, b)`` where some segment makes sound.

        This is ground truth by construction, not by detection: noise and tones count for their
        whole duration (however quiet), DTMF only during its tones (never when out of band),
        speech during each clip placement (a clip's own short pauses are inside its span), WAV
        files while the file lasts, silence never.
        """
        stop = self.end if b is None else b
        spans: list[tuple[int, int]] = []
        hit = np.flatnonzero((self._starts < stop) & (self._ends > a))
        for i in hit.tolist():
            spans.extend(self.segments[i].active_spans(self.seed, i, a, stop))
        return _merge(spans)
