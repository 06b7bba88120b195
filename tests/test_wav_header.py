"""Tests for recorder.wav: header fields, and that real readers accept our files.

Each format x rate file (header + codecs data + pad) is read back by libsndfile (soundfile),
sox, ffmpeg and sndfile-info where the tool supports the encoding; decodes are compared with
each other and with the input within the codec's error bound.
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

from recorder.codecs import FORMATS, data_bytes, make_encoder
from recorder.wav import RATES, data_pad, header_size, wav_header

FMTS = sorted(FORMATS)
SOX = shutil.which("sox")
FFMPEG = shutil.which("ffmpeg")
SNDFILE_INFO = shutil.which("sndfile-info")

# Worst-case decode error (16-bit LSB) on the loud speech-like test signal, per codec.
ERROR_BOUND = {"s16bit": 0, "u8bit": 256, "alaw": 1024, "ulaw": 1024}
SNR_BOUND_DB = {"ima": 12.0, "oki": 12.0}


def signal(n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    rng = np.random.default_rng(rate)
    y = 9000 * np.sin(2 * np.pi * 440 * t) + 3000 * rng.standard_normal(n)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def build(fmt: str, rate: int, x: np.ndarray) -> bytes:
    enc = make_encoder(fmt)
    data = enc.encode(x) + enc.flush()
    return wav_header(fmt, rate, len(x)) + data + data_pad(len(data))


def chunks(raw: bytes) -> dict[bytes, bytes]:
    """Independent minimal RIFF walker."""
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    assert struct.unpack("<I", raw[4:8])[0] == len(raw) - 8
    out, pos = {}, 12
    while pos < len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        out[cid] = raw[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    assert pos == len(raw)
    return out


@pytest.mark.parametrize("fmt", FMTS)
def test_header_length_depends_only_on_format(fmt: str) -> None:
    sizes = {len(wav_header(fmt, r, n)) for r in RATES for n in (0, 1, 505, 12345)}
    assert sizes == {header_size(fmt)}
    assert header_size(fmt) == {"s16bit": 44, "u8bit": 44, "alaw": 58, "ulaw": 58,
                                "oki": 58, "ima": 60}[fmt]  # fmt: skip


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("rate", RATES)
def test_header_fields(fmt: str, rate: int) -> None:
    n = 1001  # odd: exercises the pad byte for byte-per-sample formats
    raw = build(fmt, rate, signal(n, rate))
    c = chunks(raw)
    tag, ch, sr, avg, align, bits = struct.unpack("<HHIIHH", c[b"fmt "][:16])
    info = FORMATS[fmt]
    assert (tag, ch, sr, align, bits) == (
        info.format_tag, 1, rate, info.block_align, info.bits_per_sample
    )  # fmt: skip
    expected_avg = {"s16bit": 2 * rate, "u8bit": rate, "alaw": rate, "ulaw": rate,
                    "oki": rate // 2, "ima": rate * 256 // 505}[fmt]  # fmt: skip
    assert avg == expected_avg
    if fmt in ("s16bit", "u8bit"):
        assert len(c[b"fmt "]) == 16 and b"fact" not in c
    else:
        assert struct.unpack("<I", c[b"fact"])[0] == n
    if fmt == "ima":
        assert c[b"fmt "][16:] == struct.pack("<HH", 2, 505)
    if fmt in ("alaw", "ulaw", "oki"):
        assert c[b"fmt "][16:] == b"\x00\x00"
    assert len(c[b"data"]) == data_bytes(fmt, n)
    assert list(c)[-1] == b"data" and raw[header_size(fmt) - 8 : header_size(fmt) - 4] == b"data"
    assert len(raw) % 2 == 0


@pytest.mark.parametrize("fmt", ["alaw", "ulaw", "s16bit", "u8bit"])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("n", [0, 1, 2001])
def test_header_is_byte_identical_to_libsndfile(fmt: str, rate: int, n: int) -> None:
    subtype = {"alaw": "ALAW", "ulaw": "ULAW", "s16bit": "PCM_16", "u8bit": "PCM_U8"}[fmt]
    buf = io.BytesIO()
    sf.write(buf, np.zeros(n, np.int16), rate, format="WAV", subtype=subtype)
    raw = buf.getvalue()
    assert raw[: header_size(fmt)] == wav_header(fmt, rate, n)
    assert len(raw) == header_size(fmt) + data_bytes(fmt, n) + len(data_pad(data_bytes(fmt, n)))


def test_data_pad() -> None:
    assert data_pad(0) == b"" and data_pad(1) == b"\x00" and data_pad(256) == b""


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        wav_header("alaw", 16000, 1)
    with pytest.raises(ValueError):
        wav_header("gsm", 8000, 1)
    with pytest.raises(ValueError):
        wav_header("alaw", 8000, -1)


def check_decode(fmt: str, x: np.ndarray, y: np.ndarray) -> None:
    """``y`` (a tool's decode, possibly with block padding) against input ``x``."""
    assert len(y) >= len(x)
    assert len(y) - len(x) < FORMATS[fmt].samples_per_block
    y = y[: len(x)].astype(float)
    if fmt in ERROR_BOUND:
        assert np.max(np.abs(y - x)) <= ERROR_BOUND[fmt]
    else:
        snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum((y - x) ** 2))
        assert snr >= SNR_BOUND_DB[fmt]


@pytest.mark.parametrize("fmt", [f for f in FMTS if f != "oki"])
@pytest.mark.parametrize("rate", RATES)
def test_soundfile_reads_rate_frames_and_content(fmt: str, rate: int) -> None:
    n = rate // 2 + 3
    x = signal(n, rate)
    with sf.SoundFile(io.BytesIO(build(fmt, rate, x))) as f:
        assert f.samplerate == rate and f.channels == 1 and f.format == "WAV"
        y = f.read(dtype="int16")
    if fmt == "ima":
        assert len(y) == data_bytes("ima", n) // 256 * 505  # libsndfile returns whole blocks
    else:
        assert len(y) == n
    check_decode(fmt, x, y)


@pytest.mark.parametrize("rate", RATES)
def test_oki_data_chunk_decodes_as_raw_vox(rate: int) -> None:
    n = rate // 2 + 1
    x = signal(n, rate)
    data = chunks(build("oki", rate, x))[b"data"]
    y, _ = sf.read(
        io.BytesIO(data), format="RAW", subtype="VOX_ADPCM", samplerate=rate, channels=1,
        dtype="int16",
    )  # fmt: skip
    assert len(y) == n + 1
    check_decode("oki", x, y)


def run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, capture_output=True, timeout=60, check=False)


def sox_decode(path: Path, extra: list[str] | None = None) -> np.ndarray:
    r = run([SOX or "sox", *(extra or []), str(path), "-t", "raw", "-e", "signed", "-b", "16",
             "-"])  # fmt: skip
    assert r.returncode == 0, r.stderr
    return np.frombuffer(r.stdout, dtype="<i2")


def ffmpeg_decode(path: Path) -> np.ndarray:
    r = run([FFMPEG or "ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-"])
    assert r.returncode == 0 and not r.stderr, r.stderr
    return np.frombuffer(r.stdout, dtype="<i2")


@pytest.mark.tools
@pytest.mark.skipif(SOX is None, reason="sox not installed")
@pytest.mark.parametrize("fmt", [f for f in FMTS if f != "oki"])
@pytest.mark.parametrize("rate", RATES)
def test_sox_info_and_decode_agree_with_libsndfile(tmp_path: Path, fmt: str, rate: int) -> None:
    n = rate // 4 + 1
    path = tmp_path / "x.wav"
    path.write_bytes(build(fmt, rate, signal(n, rate)))
    info = run([SOX or "sox", "--i", str(path)])
    assert info.returncode == 0 and b"WARN" not in info.stderr, info.stderr
    assert f"Sample Rate    : {rate}".encode() in info.stdout
    assert b"Channels       : 1" in info.stdout
    ref, _ = sf.read(str(path), dtype="int16")
    got = sox_decode(path)
    # sox trims IMA to the fact count, libsndfile returns whole blocks: compare the overlap.
    m = min(len(ref), len(got))
    assert m >= n
    assert np.array_equal(got[:m], ref[:m])


@pytest.mark.tools
@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("rate", RATES)
def test_ffmpeg_decode(tmp_path: Path, fmt: str, rate: int) -> None:
    """Exact for PCM, G.711 and OKI (0x0017); IMA within ffmpeg's known rounding drift."""
    n = rate // 4 + 1
    x = signal(n, rate)
    raw = build(fmt, rate, x)
    path = tmp_path / "x.wav"
    path.write_bytes(raw)
    got = ffmpeg_decode(path)
    if fmt == "oki":
        data = chunks(raw)[b"data"]
        ref, _ = sf.read(
            io.BytesIO(data), format="RAW", subtype="VOX_ADPCM", samplerate=rate, channels=1,
            dtype="int16",
        )  # fmt: skip
    else:
        ref, _ = sf.read(io.BytesIO(raw), dtype="int16")
    m = min(len(ref), len(got))
    assert m >= n
    if fmt == "ima":
        assert np.max(np.abs(got[:m].astype(int) - ref[:m])) <= 64
    else:
        assert np.array_equal(got[:m], ref[:m])
    check_decode(fmt, x, got)


@pytest.mark.tools
@pytest.mark.skipif(SOX is None, reason="sox not installed")
def test_oki_data_chunk_decodes_with_sox_vox(tmp_path: Path) -> None:
    x = signal(4001, 8000)
    data = chunks(build("oki", 8000, x))[b"data"]
    path = tmp_path / "x.vox"
    path.write_bytes(data)
    got = sox_decode(path, ["-t", "vox", "-r", "8000"])
    ref, _ = sf.read(
        io.BytesIO(data), format="RAW", subtype="VOX_ADPCM", samplerate=8000, channels=1,
        dtype="int16",
    )  # fmt: skip
    assert np.array_equal(got, ref)


@pytest.mark.tools
@pytest.mark.skipif(SNDFILE_INFO is None, reason="sndfile-info not installed")
@pytest.mark.parametrize("fmt", [f for f in FMTS if f != "oki"])
@pytest.mark.parametrize("rate", RATES)
def test_sndfile_info_reports_no_warnings(tmp_path: Path, fmt: str, rate: int) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(build(fmt, rate, signal(rate // 4 + 1, rate)))
    r = run([SNDFILE_INFO or "sndfile-info", str(path)])
    text = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, text
    # sndfile-info prints this note for every odd-length data chunk, libsndfile's own files
    # included (it writes the same size + pad byte layout as we do, per RIFF): not a defect.
    text = text.replace("*** 'data' chunk should be an even number of bytes in length.", "")
    assert "should be" not in text and "*** " not in text and "Warning" not in text, text
    assert f"Sample Rate : {rate}" in text
