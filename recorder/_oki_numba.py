"""The optional compiled OKI encoder loop (numba, the ``fast`` extra) and when to load it.

This module owns the compiled twin of the recurrence in :mod:`recorder.oki` and the decision to
use it. The OKI encoder is a serial recurrence: its pure-Python table loop costs about 0.1 to
0.3 us per sample on speech, compiled it costs about 10 ns. When ``numba`` is importable,
:func:`oki_kernel` (the checked, saturation-safe encoder, every sample, written as plain Python
over arrays so numba can compile it) is compiled once per machine; ``cache=True`` keeps the
machine code in ``__pycache__`` (or numba's user-wide cache when that is read-only).

numba is optional: without it, with ``CALLSIM_NUMBA=0``, with ``NUMBA_DISABLE_JIT=1`` (the
"compiled" kernel would then be the uncompiled Python function, far slower than the table loop
of :mod:`recorder.oki`) or if compiling fails, :func:`load` returns None and the encoder uses
its pure path. Both give identical bytes (``tests/test_oki_numba.py``).

Importing numba costs 0.15-0.25 s (and compiling about 1 s once per machine), so
:func:`kernel` only loads it once a stream has seen :data:`MIN_SAMPLES` samples; short
recordings never pay for it unless another encoder already loaded it. This module does not
import :mod:`recorder.oki`: the step and index tables are passed in, so there is one copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_SAMPLES", "Kernel", "kernel", "load", "oki_kernel"]

#: Signature of :func:`oki_kernel` and of its compiled form:
#: ``(pcm, predictor, step_index, steps, index_adjust, codes_out) -> (predictor, step_index)``.
Kernel = Callable[
    [
        npt.NDArray[np.int16],
        int,
        int,
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.uint8],
    ],
    tuple[int, int],
]

#: Samples a stream must have seen before numba is loaded: 2 minutes of 8 kHz audio, about
#: 0.1 s of pure-path encoding, against the 0.15-0.25 s numba import.
MIN_SAMPLES = 8000 * 120

_compiled: Any = None  # the compiled kernel once loaded; False after a failed or disabled attempt


def oki_kernel(
    pcm: npt.NDArray[np.int16],
    p: int,
    i: int,
    steps: npt.NDArray[np.int64],
    adjust: npt.NDArray[np.int64],
    codes: npt.NDArray[np.uint8],
) -> tuple[int, int]:
    """Codes of ``pcm`` into ``codes`` from state (p, i); returns the new state.

    The arithmetic of :mod:`recorder.oki` written out for a compiler: nearest code, then the
    largest smaller magnitude that keeps the predictor in [-2048, 2047], else magnitude 0 the
    other way. Uncompiled it is only a test subject (about 30x slower than the table loop).
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


def load() -> Kernel | None:
    """The numba-compiled :func:`oki_kernel`, or None when numba is absent, disabled or fails.

    Tried once per process; the result (or the failure) is remembered.
    """
    global _compiled
    if _compiled is None:
        _compiled = False
        if os.environ.get("CALLSIM_NUMBA", "1") != "0":
            try:
                import numba  # optional accelerator (extra "fast")

                if not getattr(numba.config, "DISABLE_JIT", False):
                    fn = numba.njit(cache=True, nogil=True)(oki_kernel)
                    # Compile (or load from the cache) now, so a failure shows here.
                    fn(
                        np.zeros(1, dtype=np.int16),
                        0,
                        0,
                        np.full(49, 16, dtype=np.int64),
                        np.zeros(8, dtype=np.int64),
                        np.zeros(1, dtype=np.uint8),
                    )
                    _compiled = fn
            except Exception:  # noqa: BLE001 - any failure means: use the pure path
                _compiled = False
    return _compiled or None


def kernel(samples_seen: int) -> Kernel | None:
    """The compiled kernel for a stream that has seen ``samples_seen`` samples, or None.

    Loads numba only for long streams (:data:`MIN_SAMPLES`); once loaded, every stream uses it.
    """
    if _compiled is None and samples_seen < MIN_SAMPLES:
        return None
    return load()
