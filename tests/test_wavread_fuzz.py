"""Robustness of the independent WAV reader and decoders on hostile bytes.

Property: for any input, `parse_wav`, `validate_wav`, `check_wav` and `decode_wav` either return
or raise `WavFormatError`; they never raise anything else, never hang, and decoded output is
bounded by the input length. Inputs: random bytes, random chunk soups behind a valid RIFF
header, and valid files (libsndfile output plus hand-built OKI, odd-size and LIST-bearing files)
put through bit flips, truncation, chunk-size corruption, inserted/deleted/duplicated ranges and
header-field rewrites. The default run uses a few hundred hypothesis examples; the `slow` test
pushes >= 100,000 seeded mutations.
"""

from __future__ import annotations

import io
import random
import signal
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.decoders import OKI_VARIANTS, decode_wav
from conformance.wavread import ENCODINGS, WavFormatError, check_wav, parse_wav, validate_wav


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _riff(*chunks: bytes) -> bytes:
    payload = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def _seed_files() -> list[bytes]:
    """Small valid files of every kind the reader meets."""
    x = (np.sin(np.arange(700) * 0.21) * 20000).astype(np.int16)
    seeds = []
    for subtype in ("ALAW", "ULAW", "IMA_ADPCM", "PCM_U8", "PCM_16"):
        buf = io.BytesIO()
        sf.write(buf, x[:601], 8000, format="WAV", subtype=subtype)
        seeds.append(buf.getvalue())
    oki_fmt = struct.pack("<HHIIHHH", 0x17, 1, 8000, 4000, 1, 4, 0)
    codes = bytes(random.Random(1).randrange(256) for _ in range(151))
    seeds.append(_riff(_chunk(b"fmt ", oki_fmt), _chunk(b"fact", struct.pack("<I", 301)),
                       _chunk(b"data", codes)))  # fmt: skip
    u8_fmt = struct.pack("<HHIIHH", 1, 1, 11025, 11025, 1, 8)
    seeds.append(_riff(_chunk(b"fmt ", u8_fmt), _chunk(b"LIST", b"INFOISFT\x03\0\0\0ab\0"),
                       _chunk(b"data", bytes(range(77)))))  # fmt: skip
    return seeds


SEEDS = _seed_files()
_OUR_TAGS = (1, 6, 7, 0x10, 0x11, 0x17, 3, 0xFFFE)
_SIZES = (0, 1, 2, 3, 4, 15, 16, 17, 18, 19, 20, 255, 256, 257, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)


def _chunk_headers(raw: bytes) -> list[int]:
    """Offsets of chunk headers found by a naive walk (for targeted corruption)."""
    out: list[int] = []
    off = 12
    while off + 8 <= len(raw) and len(out) < 64:
        out.append(off)
        size = struct.unpack_from("<I", raw, off + 4)[0]
        off += 8 + size + (size & 1)
    return out


def mutate(raw: bytes, rnd: random.Random) -> bytes:
    """Apply 1-4 random structural or byte-level corruptions, then maybe fix the RIFF size."""
    b = bytearray(raw)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(10)
        n = len(b)
        heads = _chunk_headers(bytes(b))
        if op == 0 and n:  # bit flips
            for _ in range(rnd.randint(1, 8)):
                i = rnd.randrange(n)
                b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:  # truncation
            del b[rnd.randint(0, n) :]
        elif op == 2 and heads:  # chunk size corruption
            h = rnd.choice(heads)
            old = struct.unpack_from("<I", b, h + 4)[0]
            new = rnd.choice([*_SIZES, old + 1, max(old - 1, 0), rnd.getrandbits(32)])
            b[h + 4 : h + 8] = struct.pack("<I", new & 0xFFFFFFFF)
        elif op == 3:  # inserted chunk, declared size possibly wrong
            cid = rnd.choice([b"fmt ", b"data", b"fact", b"LIST", b"JUNK", bytes(rnd.randbytes(4))])
            body = rnd.randbytes(rnd.choice([0, 1, 3, 4, 16, 20, 40]))
            size = rnd.choice([len(body), len(body), rnd.getrandbits(16)])
            where = rnd.choice([*heads, n, rnd.randint(0, n)])
            b[where:where] = cid + struct.pack("<I", size) + body
        elif op == 4 and n:  # deleted range
            i = rnd.randrange(n)
            del b[i : i + rnd.randint(1, 16)]
        elif op == 5 and n:  # duplicated range
            i = rnd.randrange(n)
            j = min(n, i + rnd.randint(1, 64))
            b[i:i] = b[i:j]
        elif op == 6 and n >= 8:  # RIFF size corruption
            b[4:8] = struct.pack("<I", rnd.choice([*_SIZES, n - 8 + rnd.randint(-3, 3)]) % 2**32)
        elif op == 7 and n >= 36 and b[12:16] == b"fmt ":  # fmt field rewrite
            field = rnd.choice([(20, "<H", _OUR_TAGS), (22, "<H", (0, 1, 2, 255)),
                                (24, "<I", (0, 1, 8000, 2**32 - 1)), (28, "<I", (0, 4000, 2**32 - 1)),
                                (32, "<H", (0, 1, 2, 4, 5, 256, 1024, 65535)),
                                (34, "<H", (0, 4, 8, 16, 24, 32))])  # fmt: skip
            pos, code, values = field
            struct.pack_into(code, b, pos, rnd.choice(values))
        elif op == 8 and n:  # random byte overwrite
            i = rnd.randrange(n)
            b[i : i + 4] = rnd.randbytes(4)
        elif op == 9 and n:  # append garbage
            b += rnd.randbytes(rnd.randint(1, 9))
    if len(b) >= 8 and rnd.random() < 0.5:
        # Re-patch the RIFF size half the time, or the size check would stop most cases
        # before the deeper chunk, fmt and decoder paths.
        b[4:8] = struct.pack("<I", len(b) - 8)
    return bytes(b)


def exercise(raw: bytes) -> None:
    """Run every entry point; only WavFormatError may escape from parse/decode, nothing else."""
    try:
        info = parse_wav(raw)
    except WavFormatError as exc:
        assert exc.reason
        info = None
    for fmt in ENCODINGS:
        problems = validate_wav(raw, fmt, 8000, strict=True)
        assert all(isinstance(p, str) and p for p in problems)
        if info is None:
            assert len(problems) == 1
    check = check_wav(raw, "ima", 11025)
    assert (check.info is None) == (info is None)
    for variant in OKI_VARIANTS:
        try:
            _, samples = decode_wav(raw, oki_variant=variant)
        except WavFormatError as exc:
            assert exc.reason
        else:
            assert samples.dtype == np.int16
            assert samples.size <= 2 * len(raw) + 1  # work bounded by the input


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(raw: bytes) -> None:
    """Arbitrary bytes, with and without a RIFF/WAVE prefix."""
    exercise(raw)
    exercise(b"RIFF" + struct.pack("<I", len(raw) + 4) + b"WAVE" + raw)


_fmt_bodies = st.builds(
    lambda tag, ch, rate, avg, align, bits, ext: (
        struct.pack("<HHIIHH", tag, ch, rate, avg, align, bits) + ext
    ),
    st.sampled_from(_OUR_TAGS),
    st.integers(0, 3),
    st.sampled_from([0, 6000, 8000, 11025, 2**32 - 1]),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 1, 2, 3, 4, 5, 256, 1024, 65535]),
    st.sampled_from([0, 4, 8, 16]),
    st.sampled_from([b"", b"\0\0", b"\x02\0\xf9\x01", b"\x02\0\x00\x00", b"\x09\0", b"\x00"]),
)
_soup_chunk = st.one_of(
    st.builds(lambda body: _chunk(b"fmt ", body), _fmt_bodies),
    st.builds(lambda n: _chunk(b"fact", struct.pack("<I", n)), st.integers(0, 2**32 - 1)),
    st.builds(lambda body: _chunk(b"data", body), st.binary(max_size=600)),
    st.builds(
        lambda cid, body: _chunk(cid, body),
        st.binary(min_size=4, max_size=4),
        st.binary(max_size=30),
    ),  # fmt: skip
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_soup_chunk, max_size=6))
def test_chunk_soups_never_crash(chunks: list[bytes]) -> None:
    """Valid RIFF framing around arbitrary fmt/fact/data/unknown chunks in any order."""
    exercise(_riff(*chunks))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.randoms(use_true_random=False))
def test_mutated_valid_files_never_crash(seed_index: int, rnd: random.Random) -> None:
    """Valid files after bit flips, truncation, size corruption, inserted chunks and more."""
    exercise(mutate(SEEDS[seed_index], rnd))


def test_seeds_are_valid() -> None:
    """The fuzz seeds themselves parse and decode (so mutations start from real files)."""
    for raw in SEEDS:
        info, samples = decode_wav(raw)
        assert samples.size > 0 and info.data_bytes > 0


@contextmanager
def _hang_guard(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) if one input takes longer than ``seconds``."""

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"one input took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.slow
def test_hundred_thousand_mutations_never_crash() -> None:
    """ ""200,000 seeded mutated files and random RIFF prefixes; prints the runtime."""
    rnd = random.Random(20240601)
    makers: list[Callable[[], bytes]] = [
        lambda: mutate(rnd.choice(SEEDS), rnd),
        lambda: mutate(mutate(rnd.choice(SEEDS), rnd), rnd),
        lambda: b"RIFF" + rnd.randbytes(rnd.randint(0, 120)),
    ]
    start = time.perf_counter()
    worst = 0.0
    total = 200_000
    for i in range(total):
        raw = makers[0 if i % 10 < 7 else 1 if i % 10 < 9 else 2]()
        t0 = time.perf_counter()
        with _hang_guard(10.0):
            try:
                exercise(raw)
            except AssertionError as exc:
                raise AssertionError(f"case {i}: {raw.hex()}") from exc
        worst = max(worst, time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    print(f"\n{total} fuzz cases in {elapsed:.1f} s ({elapsed / total * 1e3:.2f} ms each, "
          f"worst {worst * 1e3:.1f} ms)")  # fmt: skip
