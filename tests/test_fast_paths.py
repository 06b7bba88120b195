"""Exactness of the recorder's OKI table loop against the slow definition.

Covers ``recorder.oki.oki_codes``: the precomputed per-step-index table rows, the error-form
loop that skips the clip check for samples that cannot clip, and the checked loop with the
saturation-safe fallback for loud runs. Its codes must equal, byte for byte, the slow reference
coder in ``tests/test_codecs.py`` -- with digital silence, quiet and loud (saturating)
passages, and the input cut into calls at arbitrary points with the state carried across
(including cuts inside loud runs and at the edges between quiet and loud runs).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder import codecs, oki
from tests.test_codecs import oki_reference_encode, speechlike


def _mixed(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = speechlike(n, seed, float(rng.choice([300.0, 3000.0, 30000.0])))
    cut = sorted(rng.integers(0, n, 4).tolist())
    x[cut[0] : cut[1]] = 0  # digital silence
    x[cut[2] : cut[3]] //= 64  # near silence
    return x


def _pack(codes: list[int]) -> bytes:
    c = np.asarray(codes, dtype=np.uint8)
    if c.size % 2:
        c = np.append(c, np.uint8(0))
    return ((c[0::2] << 4) | c[1::2]).tobytes()


@given(st.integers(1, 6000), st.integers(0, 2**31), st.lists(st.integers(0, 6000), max_size=8))
@settings(max_examples=40, deadline=None)
def test_table_loop_equals_the_reference_across_calls(n: int, seed: int, cuts: list[int]) -> None:
    """State (predictor, step index) carried between calls cut anywhere, loud runs included."""
    x = _mixed(n, seed)
    if seed % 2:
        x[n // 3 : n // 2] = np.where(np.arange(n // 2 - n // 3) % 5 < 2, 32767, -32768)
    s = x.astype(np.int64) >> 4
    p, i, codes = 0, 0, []
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part, p, i = oki.oki_codes(s[a:b], p, i)
        codes += part
    assert len(codes) == n
    even = n - n % 2
    assert _pack(codes[:even]) == oki_reference_encode(x[:even])
    assert -2048 <= p <= 2047 and 0 <= i < len(oki.OKI_STEPS)


def test_long_stream_equals_reference() -> None:
    """Long chunks, then small ones, then flush: same bytes as the definition."""
    x = np.concatenate([_mixed(30000, 1), _mixed(20001, 2), np.zeros(9000, np.int16), _mixed(5, 3)])
    enc = codecs.make_encoder("oki")
    bounds = [0, 20000, 20160, 45000, x.size]
    out = b"".join(enc.encode(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    out += enc.flush()
    assert out == oki_reference_encode(np.r_[x, np.int16(0)] if x.size % 2 else x)
