"""The suite's sample-by-sample codec check (``conformance.quantisation``) on hand-made data."""

from __future__ import annotations

import struct

import numpy as np

from conformance.decoders import decode
from conformance.quantisation import adpcm_check, adpcm_states
from recorder.ima import IMA_BLOCK_BYTES, IMA_SAMPLES_PER_BLOCK, ImaEncoder


def _ima(x: np.ndarray) -> bytes:
    enc = ImaEncoder()
    return enc.encode(x) + enc.flush()


def test_ima_block_headers_share_the_fail_line() -> None:
    """A block header sends its sample verbatim: the input passes, a header off by more than
    the decoder's step from the previous block's state is counted beyond the FAIL line (the
    mutant ``ima.py:59``, whose headers repeat an earlier sample, fails this way)."""
    t = np.arange(20 * IMA_SAMPLES_PER_BLOCK)
    x = np.round(3000 * np.sin(2 * np.pi * 440 * t / 8000)).astype(np.int16)
    raw = _ima(x)
    d = decode("ima", raw, x.size).astype(np.float64)
    far, _ = adpcm_check(adpcm_states("ima", raw), x.astype(np.float64), d)
    assert far.count == 0
    bad = bytearray(raw)
    for k in range(1, len(raw) // IMA_BLOCK_BYTES):  # every header but the first: 9000 units off
        at = k * IMA_BLOCK_BYTES
        (h,) = struct.unpack_from("<h", bad, at)
        struct.pack_into("<h", bad, at, h + 9000 if h < 0 else h - 9000)
    d_bad = decode("ima", bytes(bad), x.size).astype(np.float64)
    far, _ = adpcm_check(adpcm_states("ima", bytes(bad)), x.astype(np.float64), d_bad)
    assert far.count >= len(raw) // IMA_BLOCK_BYTES - 1
    assert far.first is not None and far.first[0] == IMA_SAMPLES_PER_BLOCK
