"""Tests for conformance.decoders: the suite's independent decoders against external oracles.

Oracles: libsndfile (through soundfile) for every encoding, sox and ffmpeg when installed. The
G.711 tables are checked on all 256 codes; ADPCM decoders on encoded signals and on random code
streams (which exercise index and predictor saturation).
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.decoders import (
    ALAW_TABLE,
    FORMATS,
    OKI_VARIANTS,
    ULAW_TABLE,
    clamp_add_scan,
    decode,
    decode_wav,
    encoding_of,
)
from conformance.wavread import WavFormatError, parse_wav

HAVE_SOX = shutil.which("sox") is not None
HAVE_FFMPEG = shutil.which("ffmpeg") is not None
needs_sox = pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")

RATES = (6000, 8000, 11000, 11025)


def _riff(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF/WAVE file from (id, body) pairs, pad bytes added (test-local builder)."""
    parts = []
    for cid, body in chunks:
        parts.append(cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b""))
    payload = b"WAVE" + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def _oki_wav(codes: bytes, n_samples: int, rate: int = 8000) -> bytes:
    """Hand-built Dialogic OKI ADPCM (tag 0x0017) WAV: 4 bits, block align 1, cbSize 0."""
    fmt = struct.pack("<HHIIHHH", 0x0017, 1, rate, rate // 2, 1, 4, 0)
    return _riff((b"fmt ", fmt), (b"fact", struct.pack("<I", n_samples)), (b"data", codes))


def _ima_wav(body: bytes, n_samples: int, rate: int = 8000) -> bytes:
    """Hand-built IMA ADPCM (tag 0x0011) WAV with 256-byte blocks."""
    fmt = struct.pack("<HHIIHHHH", 0x0011, 1, rate, rate * 256 // 505, 256, 4, 2, 505)
    return _riff((b"fmt ", fmt), (b"fact", struct.pack("<I", n_samples)), (b"data", body))


def _test_signal(n: int, seed: int = 7, peak: float = 12000.0) -> np.ndarray:
    """Tones plus noise, kept under full scale so no encoder overloads."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = peak * 0.6 * np.sin(2 * np.pi * 440 * t / 8000) + peak * 0.3 * np.sin(
        2 * np.pi * 1777 * t / 8000
    )
    x += rng.standard_normal(n) * peak * 0.1
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _sf_raw_decode(raw: bytes, subtype: str) -> np.ndarray:
    data, _ = sf.read(
        io.BytesIO(raw), format="RAW", subtype=subtype, samplerate=8000, channels=1, dtype="int16"
    )
    return np.asarray(data, dtype=np.int16)


def _random_ima_body(rng: np.random.Generator, blocks: int) -> bytes:
    """Random 256-byte blocks with valid headers (any predictor, step index 0..88)."""
    body = rng.integers(0, 256, size=(blocks, 256), dtype=np.uint8)
    body[:, 2] = rng.integers(0, 89, size=blocks)
    body[:, 3] = 0
    return body.tobytes()


# --- G.711 -------------------------------------------------------------------------------


@pytest.mark.parametrize("law,table", [("ALAW", ALAW_TABLE), ("ULAW", ULAW_TABLE)])
def test_g711_tables_equal_libsndfile_on_all_256_codes(law: str, table: np.ndarray) -> None:
    """Each of the 256 codes decodes to libsndfile's value."""
    ref = _sf_raw_decode(bytes(range(256)), law)
    np.testing.assert_array_equal(table, ref)


@needs_sox
@pytest.mark.parametrize("law,enc,table", [("a", "a-law", ALAW_TABLE), ("u", "u-law", ULAW_TABLE)])
def test_g711_tables_equal_sox_on_all_256_codes(
    tmp_path: Path, law: str, enc: str, table: np.ndarray
) -> None:
    """sox -e a-law/u-law decodes every code to our table value."""
    src, dst = tmp_path / "codes.raw", tmp_path / "out.raw"
    src.write_bytes(bytes(range(256)))
    _run(["sox", "-t", "raw", "-e", enc, "-b", "8", "-c", "1", "-r", "8000", str(src),
          "-t", "raw", "-e", "signed", "-b", "16", "-L", str(dst)])  # fmt: skip
    np.testing.assert_array_equal(table, np.fromfile(dst, dtype="<i2"))


@needs_ffmpeg
@pytest.mark.parametrize("law,table", [("alaw", ALAW_TABLE), ("mulaw", ULAW_TABLE)])
def test_g711_tables_equal_ffmpeg_on_all_256_codes(
    tmp_path: Path, law: str, table: np.ndarray
) -> None:
    """ffmpeg -f alaw/mulaw decodes every code to our table value."""
    src, dst = tmp_path / "codes.raw", tmp_path / "out.raw"
    src.write_bytes(bytes(range(256)))
    _run(["ffmpeg", "-y", "-v", "error", "-f", law, "-ar", "8000", "-ac", "1", "-i", str(src),
          "-f", "s16le", "-c:a", "pcm_s16le", str(dst)])  # fmt: skip
    np.testing.assert_array_equal(table, np.fromfile(dst, dtype="<i2"))


def test_g711_tables_known_points_and_symmetry() -> None:
    """Sign symmetry, end points, A-law's +-8 idle codes and mu-law's two zeros."""
    codes = np.arange(256)
    np.testing.assert_array_equal(ALAW_TABLE[codes ^ 0x80], -ALAW_TABLE)
    np.testing.assert_array_equal(ULAW_TABLE[codes ^ 0x80], -ULAW_TABLE)
    assert ALAW_TABLE[0xD5] == 8 and ALAW_TABLE[0x55] == -8
    assert ALAW_TABLE[0xAA] == 32256 and ALAW_TABLE[0x2A] == -32256
    assert ULAW_TABLE[0xFF] == 0 and ULAW_TABLE[0x7F] == 0
    assert ULAW_TABLE[0x80] == 32124 and ULAW_TABLE[0x00] == -32124
    # 128 distinct magnitudes per law (mu-law has +0 and -0).
    assert len(set(np.abs(ALAW_TABLE).tolist())) == 128
    assert len(set(ULAW_TABLE.tolist())) == 255


# --- PCM and G.711 files written by libsndfile --------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    "subtype,fmt", [("ALAW", "alaw"), ("ULAW", "ulaw"), ("PCM_U8", "u8bit"), ("PCM_16", "s16bit")]
)
def test_decode_wav_equals_soundfile(subtype: str, fmt: str, rate: int) -> None:
    """decode_wav of a libsndfile-written file equals soundfile.read(dtype='int16') exactly."""
    buf = io.BytesIO()
    sf.write(buf, _test_signal(1001, peak=30000.0), rate, format="WAV", subtype=subtype)
    raw = buf.getvalue()
    info, ours = decode_wav(raw)
    ref, _ = sf.read(io.BytesIO(raw), dtype="int16")
    assert encoding_of(info) == fmt and info.sample_rate == rate
    np.testing.assert_array_equal(ours, ref)


def test_u8_and_s16_decode_rules() -> None:
    """u8bit is (b - 128) << 8; s16bit is little-endian int16."""
    np.testing.assert_array_equal(decode("u8bit", bytes([0, 1, 127, 128, 255])),
                                  [-32768, -32512, -256, 0, 32512])  # fmt: skip
    np.testing.assert_array_equal(decode("s16bit", b"\x01\x80\xff\x7f\x00\x00"), [-32767, 32767, 0])


# --- IMA ADPCM ---------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("n", [1, 504, 505, 506, 3000])
def test_ima_equals_soundfile(rate: int, n: int) -> None:
    """IMA files written by libsndfile decode bit-exactly to soundfile's samples."""
    buf = io.BytesIO()
    sf.write(buf, _test_signal(n, seed=n), rate, format="WAV", subtype="IMA_ADPCM")
    raw = buf.getvalue()
    info, ours = decode_wav(raw)
    ref, _ = sf.read(io.BytesIO(raw), dtype="int16")
    assert info.fact_samples is not None and ours.size == info.fact_samples
    np.testing.assert_array_equal(ours, ref[: ours.size])


def test_ima_random_codes_equal_soundfile() -> None:
    """Random IMA blocks (saturating predictor and step index) decode as libsndfile does."""
    rng = np.random.default_rng(11)
    body = _random_ima_body(rng, 40)
    raw = _ima_wav(body, 40 * 505)
    _, ours = decode_wav(raw)
    ref, _ = sf.read(io.BytesIO(raw), dtype="int16")
    np.testing.assert_array_equal(ours, ref)
    assert ours.max() == 32767 and ours.min() == -32768  # saturation was exercised


@needs_sox
def test_ima_equals_sox(tmp_path: Path) -> None:
    """sox-written IMA (fact = true count) and random blocks decode as sox decodes them."""
    src = tmp_path / "in.wav"
    sf.write(src, _test_signal(5000), 8000, subtype="PCM_16")
    enc, dec = tmp_path / "ima.wav", tmp_path / "dec.raw"
    _run(["sox", str(src), "-e", "ima-adpcm", str(enc)])
    info, ours = decode_wav(enc.read_bytes())
    assert info.fact_samples == 5000 and ours.size == 5000
    _run(["sox", str(enc), "-t", "raw", "-e", "signed", "-b", "16", "-L", str(dec)])
    np.testing.assert_array_equal(ours, np.fromfile(dec, dtype="<i2")[:5000])

    rnd = tmp_path / "rnd.wav"
    rnd.write_bytes(_ima_wav(_random_ima_body(np.random.default_rng(5), 20), 20 * 505))
    _run(["sox", str(rnd), "-t", "raw", "-e", "signed", "-b", "16", "-L", str(dec)])
    np.testing.assert_array_equal(decode_wav(rnd.read_bytes())[1], np.fromfile(dec, dtype="<i2"))


@needs_ffmpeg
def test_ima_close_to_ffmpeg(tmp_path: Path) -> None:
    """ffmpeg's IMA decoder uses other arithmetic: allowed to differ by up to 40 LSB."""
    src = tmp_path / "in.wav"
    sf.write(src, _test_signal(5000), 8000, subtype="IMA_ADPCM")
    dec = tmp_path / "dec.raw"
    _run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-f", "s16le", "-c:a", "pcm_s16le",
          str(dec)])  # fmt: skip
    _, ours = decode_wav(src.read_bytes())
    theirs = np.fromfile(dec, dtype="<i2")[: ours.size]
    assert theirs.size == ours.size
    assert np.abs(ours.astype(np.int32) - theirs).max() <= 40


def test_ima_partial_last_block_is_a_prefix_of_the_whole_block() -> None:
    """A final partial block decodes to the first samples of the complete block."""
    body = _random_ima_body(np.random.default_rng(3), 3)
    whole = decode("ima", body)
    for cut in (4, 5, 100, 255):
        part = decode("ima", body[: 512 + cut])
        assert part.size == 2 * 505 + 1 + 2 * (cut - 4)
        np.testing.assert_array_equal(part, whole[: part.size])


def test_ima_bad_headers_raise() -> None:
    """Step index > 88 and a partial block shorter than its header are WavFormatErrors."""
    body = bytearray(_random_ima_body(np.random.default_rng(4), 2))
    body[256 + 2] = 89
    with pytest.raises(WavFormatError, match="block 1 header has step index 89"):
        decode("ima", bytes(body))
    with pytest.raises(WavFormatError, match="partial block"):
        decode("ima", bytes(body[:258]))


# --- OKI / Dialogic ADPCM ----------------------------------------------------------------


def _sf_vox_encode(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, 8000, format="RAW", subtype="VOX_ADPCM")
    return buf.getvalue()


def test_oki_equals_soundfile_on_encoded_signal() -> None:
    """libsndfile VOX_ADPCM round trip: our decode (both variants) equals soundfile's."""
    codes = _sf_vox_encode(_test_signal(8000))
    ref = _sf_raw_decode(codes, "VOX_ADPCM")
    for variant in OKI_VARIANTS:
        np.testing.assert_array_equal(decode("oki", codes, oki_variant=variant), ref)
    assert np.all(ref % 16 == 0)


def test_oki_random_codes_match_each_peer_family() -> None:
    """On overloading random codes, 'sndfile' equals libsndfile; 'dialogic' stays on 16s."""
    codes = np.random.default_rng(9).integers(0, 256, 6000, dtype=np.uint8).tobytes()
    ref = _sf_raw_decode(codes, "VOX_ADPCM")
    np.testing.assert_array_equal(decode("oki", codes, oki_variant="sndfile"), ref)
    dialogic = decode("oki", codes)
    assert np.all(dialogic % 16 == 0) and dialogic.max() == 32752 and dialogic.min() == -32768
    assert not np.array_equal(dialogic, ref)  # the peers really differ after +overload


@needs_sox
def test_oki_equals_sox_vox(tmp_path: Path) -> None:
    """sox -t vox decodes the same samples (signal: all variants; random: 'sndfile')."""
    dec = tmp_path / "dec.raw"
    for name, codes, variant in [
        ("sig.vox", _sf_vox_encode(_test_signal(4000)), "dialogic"),
        ("rnd.vox", np.random.default_rng(2).integers(0, 256, 3000, np.uint8).tobytes(), "sndfile"),
    ]:
        src = tmp_path / name
        src.write_bytes(codes)
        _run(["sox", "-t", "vox", "-r", "8000", str(src), "-t", "raw", "-e", "signed", "-b",
              "16", "-L", str(dec)])  # fmt: skip
        np.testing.assert_array_equal(
            decode("oki", codes, oki_variant=variant), np.fromfile(dec, dtype="<i2")
        )


@needs_ffmpeg
def test_oki_wav_0x0017_equals_ffmpeg(tmp_path: Path) -> None:
    """A hand-built tag 0x0017 WAV decodes as ffmpeg's adpcm_ima_oki decodes it."""
    dec = tmp_path / "dec.raw"
    for name, codes in [
        ("sig.wav", _sf_vox_encode(_test_signal(4000))),
        ("rnd.wav", np.random.default_rng(8).integers(0, 256, 3000, np.uint8).tobytes()),
    ]:
        src = tmp_path / name
        n = 2 * len(codes) - 1  # odd count: the last low nibble is padding
        src.write_bytes(_oki_wav(codes, n))
        _run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-f", "s16le", "-c:a", "pcm_s16le",
              str(dec)])  # fmt: skip
        info, ours = decode_wav(src.read_bytes())
        assert info.format_tag == 0x17 and ours.size == n
        np.testing.assert_array_equal(ours, np.fromfile(dec, dtype="<i2")[:n])


# --- API behaviour ------------------------------------------------------------------------


def test_decode_trims_and_refuses_overlong_counts() -> None:
    """n_samples trims; asking for more than the data holds is a WavFormatError."""
    assert decode("alaw", b"\xd5" * 10, 4).tolist() == [8] * 4
    assert decode("oki", b"\x00" * 3, 5).size == 5
    with pytest.raises(WavFormatError, match="holds only 6"):
        decode("oki", b"\x00" * 3, 7)
    with pytest.raises(WavFormatError, match="odd length"):
        decode("s16bit", b"\x00" * 3)
    with pytest.raises(ValueError, match="unknown encoding"):
        decode("gsm", b"")
    for fmt in FORMATS:
        assert decode(fmt, b"").dtype == np.int16


def test_decode_wav_refuses_what_it_cannot_decode() -> None:
    """Stereo, float and fact counts beyond the data raise WavFormatError."""
    stereo = struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16)
    with pytest.raises(WavFormatError, match="2 channels"):
        decode_wav(_riff((b"fmt ", stereo), (b"data", b"\0" * 8)))
    flt = struct.pack("<HHIIHHH", 3, 1, 8000, 32000, 4, 32, 0)
    with pytest.raises(WavFormatError, match="unsupported format"):
        decode_wav(_riff((b"fmt ", flt), (b"data", b"\0" * 8)))
    ima3 = struct.pack("<HHIIHHHH", 0x11, 1, 8000, 4055, 256, 3, 2, 505)
    with pytest.raises(WavFormatError, match=r"tag 0x0011 \(IMA ADPCM\) with 3 bits"):
        decode_wav(_riff((b"fmt ", ima3), (b"data", b"\0" * 256)))
    with pytest.raises(WavFormatError, match="requested"):
        decode_wav(_oki_wav(b"\x11" * 4, 9))
    body = _random_ima_body(np.random.default_rng(1), 1)
    with pytest.raises(WavFormatError, match="requested"):
        decode_wav(_ima_wav(body, 506))
    assert parse_wav(_ima_wav(body, 505)).samples_per_block == 505


def _naive_scan(add: list[int], lo: list[int], hi: list[int], x0: int) -> list[int]:
    out, x = [], x0
    for a, low, high in zip(add, lo, hi, strict=True):
        x = min(max(x + a, low), high)
        out.append(x)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-5000, 5000), st.integers(-3000, 3000), st.integers(0, 6000),
            st.booleans(),
        ),
        max_size=300,
    ),
    st.integers(-3000, 3000),
)  # fmt: skip
def test_clamp_add_scan_equals_the_sequential_loop(
    steps: list[tuple[int, int, int, bool]], x0: int
) -> None:
    """The prefix-scan evaluation equals the plain sequential clamp-add loop."""
    add = [a for a, _, _, _ in steps]
    lo = [low for _, low, _, _ in steps]
    # A third of the steps are constants (lo == hi), like ADPCM block headers.
    hi = [low if const else low + width for _, low, width, const in steps]
    got = clamp_add_scan(np.array(add, dtype=np.int64), lo, hi, x0)
    assert got.tolist() == _naive_scan(add, lo, hi, x0)


def test_clamp_add_scan_carries_across_chunks() -> None:
    """Inputs longer than one scan chunk give the same result as the loop."""
    rng = np.random.default_rng(0)
    n = 40_000
    add = rng.integers(-900, 900, n)
    lo = np.full(n, -2048)
    hi = np.full(n, 2047)
    const = rng.random(n) < 0.001
    hi[const] = lo[const] = rng.integers(-2048, 2048, int(const.sum()))
    got = clamp_add_scan(add, lo, hi, 5)
    assert got.tolist() == _naive_scan(add.tolist(), lo.tolist(), hi.tolist(), 5)
