"""Tests for conformance.wavread: the suite's independent WAV parser and format validator.

Real files come from libsndfile (soundfile), sox and ffmpeg (LIST chunk before data, data not at
offset 44); malformed files are built byte by byte here, each expected to fail with its own
reason; the validator is checked for each of the six encodings at each rate.
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

import conformance.wavread as wavread
from conformance.wavread import (
    WavFormatError,
    check_wav,
    parse_wav,
    validate_wav,
)

HAVE_SOX = shutil.which("sox") is not None
HAVE_FFMPEG = shutil.which("ffmpeg") is not None
RATES = (6000, 8000, 11000, 11025)


def _chunk(cid: bytes, body: bytes, size: int | None = None, pad: bool = True) -> bytes:
    n = len(body) if size is None else size
    return cid + struct.pack("<I", n) + body + (b"\0" if pad and len(body) % 2 else b"")


def _riff(*chunks: bytes, riff_size: int | None = None) -> bytes:
    payload = b"WAVE" + b"".join(chunks)
    n = len(payload) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", n) + payload


def _fmt(tag: int, rate: int, avg: int, align: int, bits: int, ext: bytes | None = None,
         channels: int = 1) -> bytes:  # fmt: skip
    body = struct.pack("<HHIIHH", tag, channels, rate, avg, align, bits)
    if ext is not None:
        body += struct.pack("<H", len(ext)) + ext
    return _chunk(b"fmt ", body)


def _fact(n: int) -> bytes:
    return _chunk(b"fact", struct.pack("<I", n))


def _valid_file(fmt: str, rate: int, n: int = 1001) -> bytes:
    """A correct file of ``n`` samples of our profile, built from the format rules by hand."""
    if fmt in ("alaw", "ulaw"):
        tag = 6 if fmt == "alaw" else 7
        return _riff(_fmt(tag, rate, rate, 1, 8, b""), _fact(n), _chunk(b"data", b"\xd5" * n))
    if fmt == "u8bit":
        return _riff(_fmt(1, rate, rate, 1, 8), _chunk(b"data", b"\x80" * n))
    if fmt == "s16bit":
        return _riff(_fmt(1, rate, 2 * rate, 2, 16), _chunk(b"data", b"\0\0" * n))
    if fmt == "ima":
        blocks = -(-n // 505)
        ext = struct.pack("<H", 505)
        data = (b"\0\0\0\0" + b"\0" * 252) * blocks
        return _riff(_fmt(0x11, rate, rate * 256 // 505, 256, 4, ext), _fact(n),
                     _chunk(b"data", data))  # fmt: skip
    if fmt == "oki":
        return _riff(_fmt(0x17, rate, rate // 2, 1, 4, b""), _fact(n),
                     _chunk(b"data", b"\0" * ((n + 1) // 2)))  # fmt: skip
    raise AssertionError(fmt)


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _signal(n: int) -> np.ndarray:
    return (np.sin(np.arange(n) * 0.3) * 9000).astype(np.int16)


# --- files written by real tools -----------------------------------------------------------

SF_CASES = [
    ("ALAW", "alaw", 6, 8, 1, 58),
    ("ULAW", "ulaw", 7, 8, 1, 58),
    ("IMA_ADPCM", "ima", 0x11, 4, 256, 60),
    ("PCM_U8", "u8bit", 1, 8, 1, 44),
    ("PCM_16", "s16bit", 1, 16, 2, 44),
]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("subtype,fmt,tag,bits,align,data_offset", SF_CASES)
def test_parse_and_validate_libsndfile_files(
    subtype: str, fmt: str, tag: int, bits: int, align: int, data_offset: int, rate: int
) -> None:
    """libsndfile's files parse to the right fields and are valid for their encoding."""
    buf = io.BytesIO()
    sf.write(buf, _signal(1001), rate, format="WAV", subtype=subtype)
    raw = buf.getvalue()
    info = parse_wav(raw)
    assert (info.format_tag, info.channels, info.sample_rate) == (tag, 1, rate)
    assert (info.bits_per_sample, info.block_align, info.data_offset) == (bits, align, data_offset)
    assert info.riff_size == len(raw) - 8 and info.warnings == ()
    assert [c[0] for c in info.chunks][-1] == "data"
    if fmt == "ima":
        assert info.samples_per_block == 505 and info.cb_size == 2
        assert info.data_bytes == 2 * 256 and info.fact_samples == 1010  # padded count
    elif fmt in ("alaw", "ulaw"):
        assert info.fact_samples == 1001 and info.data_bytes == 1001 and info.cb_size == 0
    else:
        assert info.fact_samples is None and info.cb_size is None
    assert validate_wav(raw, fmt, rate, strict=True) == []
    other = 8000 if rate != 8000 else 11025
    assert validate_wav(raw, fmt, other) == [f"sample rate is {rate} Hz, expected {other} Hz"]


@pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
def test_sox_files_are_valid(tmp_path: Path) -> None:
    """sox output (IMA fact = true count, nAvgBytesPerSec rounded) validates cleanly."""
    src = tmp_path / "in.wav"
    sf.write(src, _signal(3001), 8000, subtype="PCM_16")
    for fmt, args in [("alaw", ["-e", "a-law"]), ("ulaw", ["-e", "u-law"]),
                      ("ima", ["-e", "ima-adpcm"]), ("u8bit", ["-e", "unsigned", "-b", "8"])]:  # fmt: skip
        for rate in (6000, 11025):
            out = tmp_path / f"{fmt}{rate}.wav"
            _run(["sox", "-D", str(src), *args, "-r", str(rate), str(out)])
            raw = out.read_bytes()
            assert validate_wav(raw, fmt, rate, strict=True) == [], (fmt, rate)
    info = parse_wav((tmp_path / "ima11025.wav").read_bytes())
    assert info.avg_bytes_per_sec == 5589  # round(11025*256/505); libsndfile floors to 5588


@pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed")
def test_ffmpeg_files_list_chunk_before_data(tmp_path: Path) -> None:
    """ffmpeg puts LIST before data; the reader skips it. Its IMA (1024-byte blocks) is flagged."""
    src = tmp_path / "in.wav"
    sf.write(src, _signal(3001), 8000, subtype="PCM_16")
    for fmt, codec, offset in [("alaw", "pcm_alaw", 92), ("ulaw", "pcm_mulaw", 92),
                               ("u8bit", "pcm_u8", 78), ("s16bit", "pcm_s16le", 78)]:  # fmt: skip
        out = tmp_path / f"{fmt}.wav"
        _run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-c:a", codec, str(out)])
        raw = out.read_bytes()
        info = parse_wav(raw)
        assert "LIST" in [c[0] for c in info.chunks] and info.data_offset == offset
        assert validate_wav(raw, fmt, 8000, strict=True) == []
    out = tmp_path / "ima.wav"
    _run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-c:a", "adpcm_ima_wav", str(out)])
    problems = validate_wav(out.read_bytes(), "ima", 8000)
    assert "nBlockAlign is 1024, expected 256 for ima" in problems
    assert "nAvgBytesPerSec is 16000, expected 4055 or 4056 for 8000 Hz" in problems
    assert "wSamplesPerBlock is 2041, expected 505" in problems


# --- the validator on hand-built files -----------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fmt", wavread.ENCODINGS)
@pytest.mark.parametrize("n", [0, 1, 505, 506, 2000])
def test_hand_built_valid_files_pass(fmt: str, rate: int, n: int) -> None:
    """Files built from the rules (incl. empty and odd counts) have no problems, even strict."""
    assert validate_wav(_valid_file(fmt, rate, n), fmt, rate, strict=True) == []


def test_avg_bytes_accepts_floor_and_ceil_only() -> None:
    """nAvgBytesPerSec: 11025 Hz OKI may say 5512 or 5513, nothing else."""
    good = _valid_file("oki", 11025)
    for avg, ok in [(5512, True), (5513, True), (5511, False), (11025, False)]:
        raw = good.replace(struct.pack("<I", 5512), struct.pack("<I", avg), 1)
        assert (validate_wav(raw, "oki", 11025) == []) is ok, avg


def _mutate(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert raw.count(old) >= 1
    return raw.replace(old, new, 1)


def _set_fact(raw: bytes, n: int) -> bytes:
    pos = raw.index(b"fact") + 8
    return raw[:pos] + struct.pack("<I", n) + raw[pos + 4 :]


@pytest.mark.parametrize(
    "fmt,edit,expected",
    [
        ("alaw", lambda r: _mutate(r, b"\x06\x00\x01\x00", b"\x07\x00\x01\x00"),
         "format tag is 0x0007 (mu-law), expected 0x0006 (A-law) for alaw"),
        ("alaw", lambda r: _set_fact(r, 1000), "'fact' says 1000 samples but the data holds 1001"),
        ("ulaw", lambda r: _mutate(r, b"\x07\x00\x01\x00", b"\x07\x00\x02\x00"),
         "2 channels, expected mono (1)"),
        ("s16bit", lambda r: _mutate(r, b"\x02\x00\x10\x00", b"\x02\x00\x08\x00"),
         "wBitsPerSample is 8, expected 16 for s16bit"),
        ("s16bit", lambda r: _mutate(r, struct.pack("<I", 16000), struct.pack("<I", 8000)),
         "nAvgBytesPerSec is 8000, expected 16000 for 8000 Hz"),
        ("u8bit", lambda r: _mutate(r, b"\x01\x00\x08\x00", b"\x02\x00\x08\x00"),
         "nBlockAlign is 2, expected 1 for u8bit"),
        ("ima", lambda r: _set_fact(r, 1010 - 505), "'fact' says 505 samples but 2 block(s) hold 506..1010"),
        ("ima", lambda r: _set_fact(r, 1011), "'fact' says 1011 samples but 2 block(s) hold 506..1010"),
        ("ima", lambda r: _mutate(r, struct.pack("<HH", 2, 505), struct.pack("<HH", 2, 504)),
         "wSamplesPerBlock is 504, expected 505"),
        ("ima", lambda r: _mutate(r, b"fact", b"xact"), "no 'fact' chunk (IMA ADPCM needs the sample count)"),
        ("oki", lambda r: _set_fact(r, 1003), "'fact' says 1003 samples, which need 502 data bytes, but the data has 501"),
        ("oki", lambda r: _mutate(r, b"fact", b"xact"), "no 'fact' chunk (OKI ADPCM needs the sample count)"),
        ("oki", lambda r: _mutate(r, b"\x17\x00", b"\x11\x00"),
         "format tag is 0x0011 (IMA ADPCM), expected 0x0017 (Dialogic OKI ADPCM) for oki"),
    ],
)  # fmt: skip
def test_validator_reports_each_defect(fmt: str, edit: object, expected: str) -> None:
    """One wrong field gives exactly the matching problem."""
    raw = edit(_valid_file(fmt, 8000))  # type: ignore[operator]
    assert validate_wav(raw, fmt, 8000) == [expected]


def test_layouts_standard_tools_read_alike_are_alternatives() -> None:
    """OKI with tag 0x0010 (SD-CODEC-OKI) and PCM as WAVE_FORMAT_EXTENSIBLE with the PCM SubFormat
    (SD-WAV-LAYOUT) are no problem: standard tools decode them to the same samples; they are
    listed as alternatives, each with the decision it departs from."""
    oki = _mutate(_valid_file("oki", 8000), b"\x17\x00", b"\x10\x00")
    check = check_wav(oki, "oki", 8000)
    assert check.problems == () and check.alternatives[0][0] == "SD-CODEC-OKI"
    pcm = _valid_file("s16bit", 8000)
    tag, ch, rate, avg, align, bits = struct.unpack_from("<HHIIHH", pcm, 20)
    guid = bytes.fromhex("0100000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, rate, avg, align, bits, 22, bits, 4) + guid
    ext = (b"RIFF" + struct.pack("<I", struct.unpack_from("<I", pcm, 4)[0] + 24) + b"WAVE" + b"fmt "
           + struct.pack("<I", len(fmt)) + fmt + pcm[36:])
    check = check_wav(ext, "s16bit", 8000)
    assert check.problems == () and check.alternatives[0][0] == "SD-WAV-LAYOUT"
    assert parse_wav(ext).effective_tag == 0x0001
    wrong = ext.replace(guid, bytes.fromhex("0300000000001000800000aa00389b71"))  # IEEE float
    assert check_wav(wrong, "s16bit", 8000).problems


def test_ima_data_and_block_header_problems() -> None:
    """IMA: partial blocks and step index > 88 are problems; a reserved byte != 0 a note."""
    raw = bytearray(_valid_file("ima", 8000, 1010))
    d = parse_wav(bytes(raw)).data_offset
    raw[d + 256 + 2] = 89
    raw[d + 3] = 1
    check = check_wav(bytes(raw), "ima", 8000)
    assert check.problems == ("IMA block header step index > 88 in block(s) 1",)
    assert check.notes == ("IMA block header reserved byte is not 0 in 1 block(s)",)
    short = _riff(_fmt(0x11, 8000, 4055, 256, 4, struct.pack("<H", 505)), _fact(600),
                  _chunk(b"data", b"\0" * 300))  # fmt: skip
    assert "data size 300 is not a whole number of 256-byte blocks" in validate_wav(
        short, "ima", 8000
    )


def test_s16_odd_data_is_a_problem() -> None:
    """16-bit PCM data of odd length is not a whole number of samples."""
    raw = _riff(_fmt(1, 8000, 16000, 2, 16), _chunk(b"data", b"\0" * 7))
    assert validate_wav(raw, "s16bit", 8000) == ["data size 7 is not a multiple of 2 bytes"]


def test_g711_without_fact_is_tolerated_unless_strict() -> None:
    """G.711 without fact: no problem, a non-strict note (RIFF wants fact for non-PCM)."""
    raw = _riff(_fmt(6, 8000, 8000, 1, 8, b""), _chunk(b"data", b"\xd5" * 10))
    assert validate_wav(raw, "alaw", 8000) == []
    assert validate_wav(raw, "alaw", 8000, strict=True) == [
        "non-strict: no 'fact' chunk (RIFF wants one for non-PCM formats)"
    ]


def test_check_wav_on_garbage_and_unknown_encoding() -> None:
    """Unparseable bytes give one problem and no info; an unknown encoding is the caller's bug."""
    check = check_wav(b"hello", "alaw", 8000)
    assert check.info is None and check.problems == (
        "file is 5 bytes, shorter than the 12-byte RIFF/WAVE header",
    )
    with pytest.raises(ValueError, match="unknown encoding"):
        validate_wav(_valid_file("alaw", 8000), "gsm", 8000)


# --- pad bytes and odd chunks --------------------------------------------------------------


def test_odd_final_chunk_pad_byte_rules() -> None:
    """Final odd chunk: padded is clean; unpadded is a warning, with or without the RIFF count."""
    fmt = _fmt(1, 8000, 8000, 1, 8)
    padded = _riff(fmt, _chunk(b"data", b"\x80" * 5))
    assert parse_wav(padded).warnings == () and len(padded) % 2 == 0
    unpadded = _riff(fmt, _chunk(b"data", b"\x80" * 5, pad=False))
    info = parse_wav(unpadded)
    assert info.data_bytes == 5
    assert info.warnings == ("odd-sized final chunk 'data' (5 bytes) has no pad byte",)
    counted = unpadded[:4] + struct.pack("<I", len(unpadded) - 7) + unpadded[8:]
    assert parse_wav(counted).warnings == (
        "odd-sized final chunk 'data' (5 bytes) has no pad byte",
        "RIFF size counts the missing final pad byte",
    )
    assert validate_wav(counted, "u8bit", 8000) == []
    assert len(validate_wav(counted, "u8bit", 8000, strict=True)) == 2
    # the suite reports each tolerated RIFF rule as an SD-WAV-LAYOUT alternative (INFO)
    assert [d for d, _ in check_wav(counted, "u8bit", 8000).alternatives] == ["SD-WAV-LAYOUT"] * 2
    assert check_wav(padded, "u8bit", 8000).alternatives == ()


def test_odd_chunk_mid_file_without_pad_is_tolerated() -> None:
    """An unpadded odd LIST before data is detected by the next plausible chunk id."""
    raw = _riff(_fmt(1, 8000, 8000, 1, 8), _chunk(b"LIST", b"INFOx", pad=False),
                _chunk(b"data", b"\x80" * 4))  # fmt: skip
    info = parse_wav(raw)
    assert info.data_bytes == 4 and info.data_offset == 12 + 24 + 13 + 8
    assert info.warnings == (
        "odd-sized chunk 'LIST' at offset 36 (5 bytes) is not followed by a pad byte",
    )


def test_unknown_chunks_anywhere_are_skipped() -> None:
    """Unknown chunks before fmt, between fmt and data, and after data are listed and skipped."""
    raw = _riff(_chunk(b"JUNK", b"\0" * 28), _fmt(7, 8000, 8000, 1, 8, b""),
                _chunk(b"cue ", b"\1" * 3), _fact(4), _chunk(b"data", b"\xff" * 4),
                _chunk(b"LIST", b"INFO"))  # fmt: skip
    info = parse_wav(raw)
    assert [c[0] for c in info.chunks] == ["JUNK", "fmt ", "cue ", "fact", "data", "LIST"]
    assert validate_wav(raw, "ulaw", 8000, strict=True) == []


# --- malformed inputs ----------------------------------------------------------------------

_FMT8 = _fmt(1, 8000, 8000, 1, 8)
_DATA = _chunk(b"data", b"\x80" * 4)


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "file is 0 bytes, shorter than the 12-byte RIFF/WAVE header"),
        (b"RIFF\x04\x00\x00\x00WAV", "file is 11 bytes"),
        (b"RIFX" + bytes(8), "'RIFX' container is not supported"),
        (b"OggS" + bytes(40), "not a RIFF file: starts with b'OggS'"),
        (b"RIFF\x04\x00\x00\x00AVI ", "RIFF form type is b'AVI ', expected b'WAVE'"),
        (_riff(_FMT8, _DATA, riff_size=100), "RIFF size field says 100 bytes follow but the file has only 40"),
        (_riff(_FMT8, _DATA) + b"\0" * 8, "(8 trailing bytes after the RIFF chunk)"),
        (_riff(_FMT8, _DATA) + b"junk", "(4 trailing bytes after the RIFF chunk)"),
        (_riff(_FMT8, _chunk(b"data", b"\x80" * 4, size=0xFFFFFFFF)),
         "chunk 'data' at offset 36 declares 4294967295 bytes but only 4 remain"),
        (_riff(_FMT8, _DATA)[:-1], "chunk 'data' at offset 36 declares 4 bytes but only 3 remain"),
        (_riff(_DATA), "'data' chunk at offset 12 precedes the 'fmt ' chunk"),
        (_riff(_FMT8), "no 'data' chunk"),
        (_riff(_chunk(b"LIST", b"INFO")), "no 'fmt ' chunk"),
        (_riff(_chunk(b"fmt ", bytes(14)), _DATA), "'fmt ' chunk is 14 bytes, needs at least 16"),
        (_riff(_chunk(b"fmt ", bytes(17)), _DATA), "'fmt ' chunk is 17 bytes"),
        (_riff(_chunk(b"fmt ", struct.pack("<HHIIHHH", 6, 1, 8000, 8000, 1, 8, 4)), _DATA),
         "'fmt ' cbSize is 4 but only 0 extension bytes are present"),
        (_riff(_fmt(1, 8000, 8000, 1, 8, channels=0), _DATA), "'fmt ' says 0 channels"),
        (_riff(_fmt(1, 0, 8000, 1, 8), _DATA), "'fmt ' says a sample rate of 0 Hz"),
        (_riff(_fmt(1, 8000, 8000, 0, 8), _DATA), "'fmt ' says a block align of 0 bytes"),
        (_riff(_FMT8, _FMT8, _DATA), "second 'fmt ' chunk at offset 36"),
        (_riff(_FMT8, _DATA, _DATA), "second 'data' chunk at offset 48"),
        (_riff(_FMT8, _fact(1), _fact(1), _DATA), "second 'fact' chunk at offset 48"),
        (_riff(_FMT8, _chunk(b"fact", b"\0\0"), _DATA), "'fact' chunk is 2 bytes, needs at least 4"),
        (_riff(_FMT8, _chunk(b"\x00abc", b""), _DATA), "invalid chunk id b'\\x00abc' at offset 36"),
        (_riff(_FMT8, _DATA, b"\0\0\0"), "3 stray byte(s) at offset 48, too short for a chunk header"),
    ],
)  # fmt: skip
def test_malformed_inputs_raise_with_a_specific_reason(raw: bytes, reason: str) -> None:
    """Each defect raises WavFormatError (a ValueError) whose reason names it."""
    with pytest.raises(WavFormatError) as err:
        parse_wav(raw)
    assert isinstance(err.value, ValueError)
    assert reason in err.value.reason
    assert validate_wav(raw, "u8bit", 8000) == [err.value.reason]


def test_public_names() -> None:
    """The module's __all__ lists exactly the public API."""
    assert sorted(wavread.__all__) == sorted(
        ["ENCODINGS", "TAG_ALAW", "TAG_DIALOGIC_OKI", "TAG_EXTENSIBLE", "TAG_IMA_ADPCM", "TAG_OKI_ADPCM",
         "TAG_PCM", "TAG_ULAW", "WavCheck", "WavFormatError", "WavInfo", "check_info",
         "check_wav", "ima_samples_per_block", "parse_wav", "tag_name", "validate_wav"]
    )  # fmt: skip
    for name in wavread.__all__:
        assert hasattr(wavread, name)


def test_every_tolerated_header_note_is_a_layout_alternative() -> None:
    """A G.711 file without its 'fact' chunk (RIFF wants one in every non-PCM file; readers do
    not need it) is valid and reported as an SD-WAV-LAYOUT alternative (INFO), as every other
    note the checker tolerates; the reference's own layout has none."""
    for fmt in ("alaw", "ulaw"):
        good = _valid_file(fmt, 8000)
        assert check_wav(good, fmt, 8000).alternatives == ()
        no_fact = _mutate(good, b"fact", b"xact")  # an unknown chunk in its place: skipped
        check = check_wav(no_fact, fmt, 8000)
        assert check.problems == ()
        assert check.alternatives == (
            ("SD-WAV-LAYOUT", "WAVE header: no 'fact' chunk (RIFF wants one for non-PCM formats) "
                              "(tolerated: readers accept it)"),)
