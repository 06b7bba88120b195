"""The OKI encoder's two implementations give the same bytes, for any input and any chunking.

``recorder.oki.oki_codes`` is the one pure implementation (a table loop);
``recorder._oki_numba.oki_kernel`` is the same recurrence written for numba, compiled when
numba is importable and a stream has seen ``MIN_SAMPLES`` samples. These tests pin: both
paths through the streaming encoder give identical bytes on speech-like, loud clipping and
near-full-scale signals, for random chunkings and for the whole input in one call; the
compiled and the uncompiled kernel against the slow reference coder of
``tests/test_codecs.py``; switching to the compiled path in the middle of a stream; and when
numba is (not) loaded. Without numba the property test runs the uncompiled kernel, so the
fallback source stays the same algorithm either way.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder import _oki_numba, codecs, oki
from tests.test_codecs import oki_reference_encode, speechlike
from tests.test_fast_paths import _mixed

needs_numba = pytest.mark.skipif(
    importlib.util.find_spec("numba") is None, reason="numba not installed (optional extra)"
)


def _kernel_bytes(fn: Any, x: np.ndarray) -> bytes:
    """Run a kernel on ``x`` (plus the zero pad sample of an odd count) and pack the nibbles."""
    x = np.r_[x, np.int16(0)] if x.size % 2 else x
    c = np.empty(x.size, np.uint8)
    fn(x, 0, 0, oki._STEPS_ARR, oki._ADJUST_ARR, c)
    return ((c[0::2] << 4) | c[1::2]).tobytes()


def _encode(x: np.ndarray, bounds: list[int]) -> bytes:
    enc = codecs.make_encoder("oki")
    out = b"".join(enc.encode(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    return out + enc.flush()


@pytest.fixture(autouse=True, scope="module")
def _restore_loader_state() -> Iterator[None]:
    """Loading the kernel here must not switch other test modules to the compiled path."""
    saved = _oki_numba._compiled
    yield
    _oki_numba._compiled = saved


@contextmanager
def _path(kernel: Any) -> Iterator[None]:
    """Encoders use ``kernel`` for every chunk (False: the pure table loop) inside the block."""
    saved = _oki_numba._compiled
    _oki_numba._compiled = kernel
    try:
        yield
    finally:
        _oki_numba._compiled = saved


def _any_kernel() -> Any:
    """The compiled kernel, or the uncompiled one when numba is absent or disabled."""
    return _oki_numba.load() or _oki_numba.oki_kernel


def _signal(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "speech":
        return speechlike(n, seed, 3000.0)
    if kind == "loud":  # clipped speech: long runs at the rails
        return speechlike(n, seed, 60000.0)
    if kind == "fullscale":  # square wave at full scale plus noise, within 2 % of the rails
        period = int(rng.integers(2, 80))
        sq = np.where(np.arange(n) % period < period // 2, 32767, -32768)
        jitter = rng.integers(0, 650, n)
        return np.where(sq > 0, sq - jitter, sq + jitter).astype(np.int16)
    return _mixed(n, seed)


@given(
    st.sampled_from(["speech", "loud", "fullscale", "mixed"]),
    st.integers(1, 12000),
    st.integers(0, 2**31),
    st.lists(st.integers(0, 12000), max_size=10),
)
@settings(max_examples=40, deadline=None)
def test_pure_and_kernel_streams_identical_for_any_chunking(
    kind: str, n: int, seed: int, cuts: list[int]
) -> None:
    """Pure path and kernel path, chunked at random and whole: four identical byte strings."""
    x = _signal(kind, n, seed)
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    with _path(False):
        pure_chunked, pure_whole = _encode(x, bounds), _encode(x, [0, n])
    with _path(_any_kernel()):
        fast_chunked, fast_whole = _encode(x, bounds), _encode(x, [0, n])
    assert pure_whole == pure_chunked == fast_chunked == fast_whole
    assert len(pure_whole) == codecs.data_bytes("oki", n)


def test_pure_kernel_equals_reference() -> None:
    """The uncompiled ``oki_kernel`` (what numba compiles) is the reference algorithm."""
    x = np.concatenate([_mixed(3000, 5), np.array([32767, -32768] * 50, np.int16), _mixed(1001, 6)])
    assert _kernel_bytes(_oki_numba.oki_kernel, x) == oki_reference_encode(x)


@needs_numba
@given(st.integers(1, 20000), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_compiled_kernel_equals_reference(n: int, seed: int) -> None:
    """Compiled loop, every level including clipping full-scale square waves."""
    fn = _oki_numba.load()
    assert fn is not None, "numba is installed but the kernel did not compile"
    x = _mixed(n, seed)
    if seed % 3 == 0:
        x[: n // 2] = np.where(np.arange(n // 2) % 7 < 3, 32767, -32768)  # saturating
    assert _kernel_bytes(fn, x) == oki_reference_encode(x)


@needs_numba
def test_stream_switches_to_compiled_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long stream in uneven chunks, numba loaded after the first chunk: same bytes."""
    x = np.concatenate([_mixed(90001, 11), np.zeros(9000, np.int16), _mixed(40000, 12)])
    bounds = [0, 7, 20000, 20160, 70001, 70002, 110000, x.size]
    with _path(False):
        pure = _encode(x, bounds)
    monkeypatch.setattr(_oki_numba, "_compiled", None)
    monkeypatch.setattr(_oki_numba, "MIN_SAMPLES", 10)  # switch after the first chunk
    fast = _encode(x, bounds)
    assert _oki_numba._compiled, "compiled path was not taken"
    assert fast == pure
    assert fast == oki_reference_encode(np.r_[x, np.int16(0)] if x.size % 2 else x)


def test_short_stream_does_not_load_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below ``MIN_SAMPLES`` samples the loader is never called (short runs stay cheap)."""
    monkeypatch.setattr(_oki_numba, "_compiled", None)

    def boom() -> None:
        raise AssertionError("numba loaded for a short stream")

    monkeypatch.setattr(_oki_numba, "load", boom)
    x = _mixed(_oki_numba.MIN_SAMPLES // 2, 3)
    assert _encode(x, [0, x.size // 2, x.size]) == oki_reference_encode(x)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``CALLSIM_NUMBA=0`` makes the loader return None (pure path)."""
    monkeypatch.setattr(_oki_numba, "_compiled", None)
    monkeypatch.setenv("CALLSIM_NUMBA", "0")
    assert _oki_numba.load() is None


@needs_numba
def test_disable_jit_means_pure_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """With numba's JIT disabled the uncompiled kernel would be ~30x slower than the table
    loop, so the loader returns None instead of it."""
    import numba

    monkeypatch.setattr(_oki_numba, "_compiled", None)
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    assert _oki_numba.load() is None
