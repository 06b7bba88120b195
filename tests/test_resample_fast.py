"""The resampler's polyphase matrix products and their exact fallback (recorder/resample.py).

``StreamResampler`` computes outputs with BLAS products (``_Polyphase``) and recomputes with
upfirdn only the outputs within ``tol`` of a rounding boundary. Pinned here: the products
equal upfirdn within a small fraction of ``tol`` on loud noise (the bound has margin), also at
the stream start where the filter reads the implicit zeros; the fallback alone reproduces the
reference when every output is forced through it, even from corrupted products; and long
streams in uneven chunks still equal the whole-signal reference at every rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import upfirdn

from recorder import resample
from recorder.resample import RATIOS, StreamResampler, resample_whole

RATES = [6000, 11000, 11025]


def _noise(n: int, seed: int, level: float = 20000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.normal(0.0, level, n)), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("rate", RATES)
def test_products_equal_upfirdn_well_within_tol(rate: int) -> None:
    """|product - upfirdn| <= tol / 16 over every output (start, middle, end of a window)."""
    sr = StreamResampler(rate)
    up, down = RATIOS[rate]
    x = _noise(30011, rate).astype(np.float64)
    x[::97] = 32767.0  # full-scale spikes: the largest |terms| the bound allows for
    ref = upfirdn(sr._h, x, up, down)
    b = (x.size * up) // down  # outputs whose support ends inside x
    got = sr._poly.outputs(x, 0, b)
    assert got.shape == (b,)
    assert np.max(np.abs(got - ref[:b])) <= sr._poly.tol / 16
    # An arbitrary sub-range keeps the same indexing (BLAS may sum a row differently when the
    # row count changes, hence the tolerance rather than equality).
    part = sr._poly.outputs(x, 1234, 5678)
    assert np.max(np.abs(part - ref[1234:5678])) <= sr._poly.tol / 16


@pytest.mark.parametrize("rate", RATES)
def test_fallback_alone_gives_the_reference(rate: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """tol = 0.5 flags every output; corrupted products must not leak into the result."""
    real = resample._Polyphase.outputs

    def corrupted(self: resample._Polyphase, x: np.ndarray, a: int, b: int) -> np.ndarray:
        y = real(self, x, a, b)
        return y + np.where(np.arange(y.size) % 2, 0.37, -0.41)

    monkeypatch.setattr(resample._Polyphase, "outputs", corrupted)
    x = _noise(20000, 7, 3000.0)
    sr = StreamResampler(rate)
    sr._poly.tol = 0.5
    y = np.concatenate([sr.process(x[:7001]), sr.process(x[7001:]), sr.flush()])
    np.testing.assert_array_equal(y, resample_whole(x, rate))


@pytest.mark.parametrize("rate", RATES)
def test_long_stream_uneven_chunks_equal_whole(rate: int) -> None:
    """Clipping-level noise, silence and odd chunk sizes: bit-identical to resample_whole."""
    rng = np.random.default_rng(rate)
    x = np.concatenate([_noise(50000, 1, 30000.0), np.zeros(3000, np.int16), _noise(30001, 2, 500.0)])
    sr = StreamResampler(rate)
    out, i = [], 0
    while i < x.size:
        n = int(rng.integers(1, 25000))
        out.append(sr.process(x[i : i + n]))
        i += n
    out.append(sr.flush())
    np.testing.assert_array_equal(np.concatenate(out), resample_whole(x, rate))
