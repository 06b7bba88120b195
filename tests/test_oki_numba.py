"""The optional numba-compiled OKI encoder loop gives the same bytes as the pure path.

``recorder.codecs`` compiles ``_oki_kernel`` with numba when numba is importable and an encoder
has seen ``_OKI_NUMBA_MIN`` samples. These tests pin: the compiled kernel against the slow
reference coder of ``tests/test_codecs.py`` (quiet, digital silence, loud saturating input);
whole streams through the compiled path against the pure path (``_oki_compiled = False``) in
odd chunkings with flush; the pure kernel function itself against the reference (so the
fallback source stays the same algorithm); and that short streams never load numba.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder import codecs
from tests.test_codecs import oki_reference_encode
from tests.test_fast_paths import _mixed

needs_numba = pytest.mark.skipif(
    importlib.util.find_spec("numba") is None, reason="numba not installed (optional extra)"
)


def _kernel_bytes(fn: object, x: np.ndarray) -> bytes:
    """Run a kernel on ``x`` (plus the zero pad sample of an odd count) and pack the nibbles."""
    x = np.r_[x, np.int16(0)] if x.size % 2 else x
    c = np.empty(x.size, np.uint8)
    fn(x, 0, 0, codecs._OKI_STEPS_ARR, codecs._OKI_ADJUST_ARR, c)  # type: ignore[operator]
    return ((c[0::2] << 4) | c[1::2]).tobytes()


def _encode(x: np.ndarray, bounds: list[int]) -> bytes:
    enc = codecs.make_encoder("oki")
    out = b"".join(enc.encode(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    return out + enc.flush()


def test_pure_kernel_equals_reference() -> None:
    """The uncompiled ``_oki_kernel`` (what numba compiles) is the reference algorithm."""
    x = np.concatenate([_mixed(3000, 5), np.array([32767, -32768] * 50, np.int16), _mixed(1001, 6)])
    assert _kernel_bytes(codecs._oki_kernel, x) == oki_reference_encode(x)


@needs_numba
@given(st.integers(1, 20000), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_compiled_kernel_equals_reference(n: int, seed: int) -> None:
    """Compiled loop, every level including clipping full-scale square waves."""
    fn = codecs._get_oki_compiled()
    assert fn is not None, "numba is installed but the kernel did not compile"
    x = _mixed(n, seed)
    if seed % 3 == 0:
        x[: n // 2] = np.where(np.arange(n // 2) % 7 < 3, 32767, -32768)  # saturating
    assert _kernel_bytes(fn, x) == oki_reference_encode(x)


@needs_numba
def test_stream_compiled_equals_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long stream in uneven chunks: compiled path (forced on) == pure path, byte for byte."""
    x = np.concatenate([_mixed(90001, 11), np.zeros(9000, np.int16), _mixed(40000, 12)])
    bounds = [0, 7, 20000, 20160, 70001, 70002, 110000, x.size]
    monkeypatch.setattr(codecs, "_oki_compiled", False)  # pure path only
    pure = _encode(x, bounds)
    monkeypatch.setattr(codecs, "_oki_compiled", None)
    monkeypatch.setattr(codecs, "_OKI_NUMBA_MIN", 10)  # switch after the first chunk
    fast = _encode(x, bounds)
    assert codecs._oki_compiled, "compiled path was not taken"
    assert fast == pure
    assert fast == oki_reference_encode(np.r_[x, np.int16(0)] if x.size % 2 else x)


def test_short_stream_does_not_load_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below ``_OKI_NUMBA_MIN`` samples the loader is never called (short runs stay cheap)."""
    monkeypatch.setattr(codecs, "_oki_compiled", None)

    def boom() -> None:
        raise AssertionError("numba loaded for a short stream")

    monkeypatch.setattr(codecs, "_get_oki_compiled", boom)
    x = _mixed(codecs._OKI_NUMBA_MIN // 2, 3)
    assert _encode(x, [0, x.size // 2, x.size]) == oki_reference_encode(x)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``CALLSIM_NUMBA=0`` makes the loader return None (pure path)."""
    monkeypatch.setattr(codecs, "_oki_compiled", None)
    monkeypatch.setenv("CALLSIM_NUMBA", "0")
    assert codecs._get_oki_compiled() is None
