"""Tests for the encoders behind recorder.codecs: bit rules per encoding, chunking invariance,
size arithmetic.

Oracles are independent of the code under test: CPython audioop (G.711 and IMA arithmetic),
libsndfile through soundfile (u8 conversion, IMA encoder bytes, RAW VOX decoding), and a small
OKI reference coder written here from the algorithm's definition.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder import codecs
from recorder.codecs import FORMATS, data_bytes, make_encoder, max_samples

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)

OKI_STEPS = [16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88, 97,
             107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449,
             494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552]  # fmt: skip
OKI_ADJ = [-1, -1, -1, -1, 2, 4, 6, 8]


def oki_reference_encode(x: np.ndarray) -> bytes:
    """Slow OKI encoder from the definition in the recorder.oki docstring (saturation-safe rule)."""
    p, i, codes = 0, 0, []
    for s in (x.astype(np.int64) >> 4).tolist() + ([0] if len(x) % 2 else []):
        step = OKI_STEPS[i]
        d = s - p
        mag = min(7, 4 * abs(d) // step)
        sign = 8 if d < 0 else 0
        candidates = [(sign, m) for m in range(mag, -1, -1)] + [(8 - sign, 0)]
        for sg, m in candidates:
            r = ((2 * m + 1) * step) >> 3
            q = p - r if sg else p + r
            if -2048 <= q <= 2047:
                break
        p, code = q, sg | m
        i = min(48, max(0, i + OKI_ADJ[m]))
        codes.append(code)
    return bytes((codes[k] << 4) | codes[k + 1] for k in range(0, len(codes), 2))


def oki_reference_decode(data: bytes) -> tuple[np.ndarray, bool]:
    """Decode a .vox stream; also report whether the predictor ever left 12 bits."""
    p, i, out, clipped = 0, 0, [], False
    for byte in data:
        for code in (byte >> 4, byte & 15):
            r = ((2 * (code & 7) + 1) * OKI_STEPS[i]) >> 3
            p = p - r if code & 8 else p + r
            if not -2048 <= p <= 2047:
                clipped = True
                p = max(-2048, min(2047, p))
            i = min(48, max(0, i + OKI_ADJ[code & 7]))
            out.append(p * 16)
    return np.array(out, dtype=np.int16), clipped


def ima_reference_decode(data: bytes) -> np.ndarray:
    """Decode WAV IMA blocks with audioop (nibble swap, state reset from each block header)."""
    swap = bytes(((b & 15) << 4) | (b >> 4) for b in range(256))
    out = []
    for k in range(0, len(data), 256):
        block = data[k : k + 256]
        first, index = struct.unpack("<hB", block[:3])
        pcm, _ = audioop.adpcm2lin(block[4:].translate(swap), 2, (first, index))
        out.append(np.array([first], dtype=np.int16))
        out.append(np.frombuffer(pcm, dtype=np.int16))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def encode_all(fmt: str, x: np.ndarray) -> bytes:
    enc = make_encoder(fmt)
    return enc.encode(x) + enc.flush()


def speechlike(n: int, seed: int, level: float = 3000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros(0, dtype=np.int16)
    w = np.cumsum(rng.standard_normal(n)) * 0.1 + rng.standard_normal(n)
    env = np.repeat(np.abs(rng.standard_normal(n // 800 + 1)), 800)[:n]
    y = (w - w.mean()) / (w.std() + 1e-9) * env * level
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def test_g711_alaw_matches_audioop_on_all_65536_inputs() -> None:
    assert encode_all("alaw", ALL_INT16) == audioop.lin2alaw(ALL_INT16.tobytes(), 2)


def test_g711_ulaw_matches_audioop_on_all_65536_inputs() -> None:
    assert encode_all("ulaw", ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)


@pytest.mark.parametrize("fmt", ["alaw", "ulaw"])
def test_g711_decode_error_is_within_half_a_quantisation_step(fmt: str) -> None:
    """Round trip through audioop's decoder stays within the segment's step size."""
    dec = audioop.alaw2lin if fmt == "alaw" else audioop.ulaw2lin
    y = np.frombuffer(dec(encode_all(fmt, ALL_INT16), 2), dtype=np.int16).astype(int)
    err = np.abs(y - ALL_INT16.astype(int))
    # Largest segment step is 1024 (A-law) / 1024 (mu-law); error at most one step.
    assert err.max() <= 1024
    small = np.abs(ALL_INT16.astype(int)) < 256
    assert err[small].max() <= 16


def test_u8_is_truncating_like_libsndfile() -> None:
    buf = io.BytesIO()
    sf.write(buf, ALL_INT16, 8000, format="RAW", subtype="PCM_U8")
    assert encode_all("u8bit", ALL_INT16) == buf.getvalue()
    assert encode_all("u8bit", np.array([-32768, -1, 0, 255, 256, 32767], np.int16)) == bytes(
        [0, 127, 128, 128, 129, 255]
    )


def test_s16_is_little_endian() -> None:
    assert encode_all("s16bit", np.array([1, -2, 0x1234], np.int16)) == b"\x01\x00\xfe\xff\x34\x12"


def test_ima_data_is_byte_identical_to_libsndfile_encoder() -> None:
    """libsndfile pads the last block with zeros too, so whole data chunks must be equal."""
    for n in (505, 1000, 3 * 505 + 17):
        x = speechlike(n, seed=n)
        buf = io.BytesIO()
        sf.write(buf, x, 8000, format="WAV", subtype="IMA_ADPCM")
        raw = buf.getvalue()
        pos = raw.index(b"data")
        size = struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        ours = encode_all("ima", x)
        assert len(ours) == data_bytes("ima", n) == size
        assert ours == raw[pos + 8 : pos + 8 + size]


def test_ima_block_layout_and_decode_quality() -> None:
    x = speechlike(5000, seed=3)
    data = encode_all("ima", x)
    assert len(data) == 10 * 256
    for k in range(10):
        first, index, reserved = struct.unpack("<hBB", data[k * 256 : k * 256 + 4])
        assert first == (x[k * 505] if k * 505 < len(x) else 0)
        assert 0 <= index <= 88 and reserved == 0
    y = ima_reference_decode(data)
    assert len(y) == 5050
    assert np.all(np.abs(y[5000:]) < 4096)  # zero padding decays towards silence
    snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum((y[:5000] - x.astype(float)) ** 2))
    assert snr > 15  # speech-like test signal; IMA gives ~17 dB on it


def test_ima_decoders_agree_libsndfile_vs_audioop_reference() -> None:
    x = np.concatenate([speechlike(3000, 5, 20000), np.full(700, 32767, np.int16)])
    data = encode_all("ima", x)
    from recorder.wav import wav_header

    wav = wav_header("ima", 8000, len(x)) + data
    y, rate = sf.read(io.BytesIO(wav), dtype="int16")
    ref = ima_reference_decode(data)
    assert rate == 8000
    assert np.array_equal(y[: len(ref)], ref[: len(y)])
    assert len(y) >= len(x)


@given(st.integers(0, 3000), st.integers(0, 2**31), st.booleans())
@settings(max_examples=40, deadline=None)
def test_oki_matches_reference_encoder(n: int, seed: int, loud: bool) -> None:
    """The table loop (pure path) equals the slow definition, including saturation cases."""
    x = speechlike(n, seed, 30000.0 if loud else 2000.0)
    assert encode_all("oki", x) == oki_reference_encode(x)


def test_oki_never_saturates_and_libsndfile_decodes_identically() -> None:
    rng = np.random.default_rng(11)
    square = np.tile(np.r_[np.full(20, 32767), np.full(20, -32768)], 100).astype(np.int16)
    noise = np.clip(rng.standard_normal(8000) * 25000, -32768, 32767).astype(np.int16)
    x = np.concatenate([square, noise, speechlike(8001, 2)])
    data = encode_all("oki", x)
    assert len(data) == data_bytes("oki", len(x)) == (len(x) + 1) // 2
    ref, clipped = oki_reference_decode(data)
    assert not clipped
    y, _ = sf.read(
        io.BytesIO(data), format="RAW", subtype="VOX_ADPCM", samplerate=8000, channels=1,
        dtype="int16",
    )  # fmt: skip
    assert np.array_equal(y, ref)
    tail = speechlike(8001, 2).astype(float)
    snr = 10 * np.log10(np.sum(tail**2) / np.sum((ref[-8002:-1] - tail) ** 2))
    assert snr > 15


def test_oki_odd_count_pads_with_one_zero_sample() -> None:
    x = speechlike(11, 4)
    data = encode_all("oki", x)
    assert len(data) == 6
    assert data == oki_reference_encode(np.r_[x, np.int16(0)])


FMTS = sorted(FORMATS)


@given(
    st.sampled_from(FMTS),
    st.integers(0, 2500),
    st.integers(0, 2**31),
    st.lists(st.integers(0, 2500), max_size=12),
    st.booleans(),
)
@settings(max_examples=120, deadline=None)
def test_any_chunking_equals_whole_encoding(
    fmt: str, n: int, seed: int, cuts: list[int], loud: bool
) -> None:
    x = speechlike(n, seed, 30000.0 if loud else 3000.0)
    whole = encode_all(fmt, x)
    enc = make_encoder(fmt)
    parts = []
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        parts.append(enc.encode(x[a:b]))
    parts.append(enc.encode(x[:0]))
    parts.append(enc.flush())
    assert b"".join(parts) == whole
    assert len(whole) == data_bytes(fmt, n)


def test_160_sample_frames_equal_whole_for_every_format() -> None:
    x = speechlike(8000 * 3 + 37, 9, 8000.0)
    for fmt in FMTS:
        enc = make_encoder(fmt)
        streamed = b"".join(enc.encode(x[k : k + 160]) for k in range(0, len(x), 160))
        assert streamed + enc.flush() == encode_all(fmt, x), fmt


def test_encoder_lifecycle() -> None:
    enc = make_encoder("ima")
    enc.encode(np.zeros(10, np.int16))
    assert len(enc.flush()) == 256
    assert enc.flush() == b""
    with pytest.raises(RuntimeError):
        enc.encode(np.zeros(1, np.int16))
    with pytest.raises(TypeError):
        make_encoder("alaw").encode(np.zeros(3, np.float64))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_encoder("mp3")


@pytest.mark.parametrize(
    ("fmt", "n", "expected"),
    [("alaw", 7, 7), ("ulaw", 0, 0), ("s16bit", 3, 6), ("u8bit", 5, 5), ("ima", 1, 256),
     ("ima", 505, 256), ("ima", 506, 512), ("oki", 3, 2), ("oki", 4, 2)],
)  # fmt: skip
def test_data_bytes_examples(fmt: str, n: int, expected: int) -> None:
    assert data_bytes(fmt, n) == expected


@given(st.sampled_from(FMTS), st.integers(0, 2_000_000))
def test_max_samples_is_the_largest_fitting_count(fmt: str, max_bytes: int) -> None:
    n = max_samples(fmt, max_bytes)
    assert data_bytes(fmt, n) <= max_bytes
    assert data_bytes(fmt, n + 1) > max_bytes or fmt == "ima"
    if fmt == "ima":
        assert n == (max_bytes // 256) * 505
    if fmt == "oki":
        assert n == 2 * max_bytes


def test_default_max_bytes_arithmetic_from_the_spec() -> None:
    """1,920,000 bytes is 120 s of 16-bit PCM and 240 s of A-law at 8 kHz."""
    assert max_samples("s16bit", 1_920_000) == 120 * 8000
    assert max_samples("alaw", 1_920_000) == 240 * 8000


def test_format_table() -> None:
    assert set(FORMATS) == {"alaw", "ulaw", "s16bit", "u8bit", "ima", "oki"}
    assert FORMATS["oki"].format_tag == 0x0017
    assert FORMATS["ima"].format_tag == 0x0011
    assert codecs.OKI_SAFE_LIMIT == 1853
