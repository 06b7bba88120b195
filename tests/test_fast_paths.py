"""Exactness of the recorder's vectorised fast paths against their slow definitions.

Covers the parallel OKI encoder (``recorder.codecs._OkiEncoder._codes_parallel``): segments
encoded from candidate states and repaired at the joins must give the same codes, byte for byte,
as the slow reference coder in ``tests/test_codecs.py`` -- with digital silence (where the
predictor's parity classes never merge), quiet and loud (saturating) passages, tiny segment
lengths (many joins) and streaming in chunks long enough to take the parallel path.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder import codecs
from tests.test_codecs import oki_reference_encode, speechlike


def _mixed(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = speechlike(n, seed, float(rng.choice([300.0, 3000.0, 30000.0])))
    cut = sorted(rng.integers(0, n, 4).tolist())
    x[cut[0] : cut[1]] = 0  # digital silence
    x[cut[2] : cut[3]] //= 64  # near silence
    return x


def _pack(codes: np.ndarray) -> bytes:
    c = np.asarray(codes, dtype=np.uint8)
    if c.size % 2:
        c = np.append(c, np.uint8(0))
    return ((c[0::2] << 4) | c[1::2]).tobytes()


@given(st.integers(1, 6000), st.integers(0, 2**31), st.integers(1, 300))
@settings(max_examples=40, deadline=None)
def test_parallel_oki_codes_equal_the_reference(n: int, seed: int, seg: int) -> None:
    """Any segment length, including 1 and lengths above n (everything in the scalar tail)."""
    x = _mixed(n, seed)
    enc = codecs.make_encoder("oki")
    codes = enc._codes_parallel(x.astype(np.int64) >> 4, seg)  # type: ignore[attr-defined]
    assert codes.size == n
    even = n - n % 2
    assert _pack(codes[:even]) == oki_reference_encode(x[:even])


def test_parallel_path_in_streaming_equals_reference() -> None:
    """Chunks above the parallel threshold, then small ones, then flush: same bytes."""
    x = np.concatenate([_mixed(30000, 1), _mixed(20001, 2), np.zeros(9000, np.int16), _mixed(5, 3)])
    enc = codecs.make_encoder("oki")
    bounds = [0, 20000, 20160, 45000, x.size]
    out = b"".join(enc.encode(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    out += enc.flush()
    assert out == oki_reference_encode(np.r_[x, np.int16(0)] if x.size % 2 else x)
