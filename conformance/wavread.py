"""Independent RIFF/WAVE reader and validator for the conformance suite.

This module owns reading a recorded file's container: `parse_wav` walks the RIFF chunks and
returns a `WavInfo` value, and `check_wav` / `validate_wav` compare that value with what one of
the six recording encodings (``alaw``, ``ulaw``, ``s16bit``, ``u8bit``, ``ima``, ``oki``)
requires at a given rate.

Independence: the suite never trusts the implementation under test to describe its own output,
so this reader is written from the RIFF/WAVE layout (Microsoft RIFF rules, WAVEFORMATEX, the IMA
ADPCM 0x0011 and Dialogic OKI 0x0017 conventions, see docs/dsp.md) and shares no code
with the reference recorder's writer (``recorder/wav.py`` and the encoder modules). Its behaviour
on real files is pinned by tests against files written by libsndfile, sox and ffmpeg.

Robustness contract: for *any* input bytes, `parse_wav`, `check_wav` and `validate_wav` either
return or raise `WavFormatError` (a `ValueError` with a specific human reason); the work done is
linear in the input length (each loop step consumes at least 8 bytes).

Tolerance rules (the decisions, each recorded as a warning in `WavInfo.warnings` when applied):

* An odd-sized chunk is normally followed by one pad byte (RIFF rule). When the odd-sized chunk
  is the last one and the file ends without the pad byte, the file is accepted with a warning;
  the RIFF size may then count the missing pad byte or not. Mid-file, when the byte after an
  odd-sized chunk does not start a plausible chunk header but the byte position without padding
  does, the pad is taken as omitted (as some writers do) and a warning is recorded.
* The RIFF size field must otherwise equal the file length minus 8; a larger value (truncated
  file, header never patched) and a smaller one (trailing bytes) are both errors.
* Unknown chunks (``LIST``, ``cue ``, ...) are skipped; ``data`` need not be at offset 44. A
  second ``fmt ``, ``fact`` or ``data`` chunk is an error (ambiguous), as is ``data`` before
  ``fmt ``.
* Format tags, channel counts and bit depths are not judged by `parse_wav` (it is a structural
  parser); `check_wav` reports them as problems and the decoders refuse what they cannot decode.
* `check_wav` reports every tolerated warning and note as an SD-WAV-LAYOUT alternative (the suite grades
  it INFO): the strict RIFF layout, not a defect standard tools notice.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from callsim.contract import FORMATS

__all__ = [
    "ENCODINGS",
    "TAG_ALAW",
    "TAG_DIALOGIC_OKI",
    "TAG_EXTENSIBLE",
    "TAG_IMA_ADPCM",
    "TAG_OKI_ADPCM",
    "TAG_PCM",
    "TAG_ULAW",
    "WavCheck",
    "WavFormatError",
    "WavInfo",
    "check_info",
    "check_wav",
    "ima_samples_per_block",
    "parse_wav",
    "tag_name",
    "validate_wav",
]

TAG_PCM = 0x0001
TAG_ALAW = 0x0006
TAG_ULAW = 0x0007
TAG_OKI_ADPCM = 0x0010
TAG_IMA_ADPCM = 0x0011
TAG_DIALOGIC_OKI = 0x0017
TAG_EXTENSIBLE = 0xFFFE
#: The tail of every KSDATAFORMAT_SUBTYPE GUID whose first 2 bytes are a WAVE format tag.
_KS_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")

#: The six encodings a recording may use, as named by the spec's ``file_format`` argument.
#: The six encodings (the contract's names; the layouts below are this reader's own).
ENCODINGS: tuple[str, ...] = FORMATS

#: Our IMA ADPCM profile: 256-byte blocks (what libsndfile and sox write at 6-11.025 kHz).
IMA_BLOCK_ALIGN = 256

_TAG_NAMES: dict[int, str] = {
    0x0001: "PCM",
    0x0002: "MS ADPCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0010: "OKI ADPCM",
    0x0011: "IMA ADPCM",
    0x0017: "Dialogic OKI ADPCM",
    0x0031: "GSM 6.10",
    0x0055: "MPEG layer 3",
    0xFFFE: "WAVE_FORMAT_EXTENSIBLE",
}


def tag_name(tag: int) -> str:
    """Return ``0x0011 (IMA ADPCM)``-style text for a format tag, for messages."""
    name = _TAG_NAMES.get(tag, "unknown")
    return f"0x{tag:04X} ({name})"


def ima_samples_per_block(block_align: int, channels: int = 1) -> int:
    """Samples per IMA ADPCM block: the header sample plus two per code byte after the headers."""
    return (block_align - 4 * channels) * 2 // channels + 1


class WavFormatError(ValueError):
    """The bytes are not a well-formed WAV file; ``reason`` says why, for a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's header chunks say, read independently of the writer.

    ``cb_size`` is None when the fmt chunk is the 16-byte PCMWAVEFORMAT (no cbSize field).
    ``samples_per_block`` is the IMA ADPCM ``wSamplesPerBlock`` (tag 0x0011 with a 2-byte
    extension), else None. ``fact_samples`` is None without a ``fact`` chunk. ``data_offset`` is
    the file offset of the first sample byte (after the data chunk's 8-byte header), and
    ``data_bytes`` the data chunk's declared size (pad byte excluded). ``chunks`` lists
    every chunk as ``(id, header offset, declared size)``; ``warnings`` lists the tolerated
    deviations (see the module docstring).
    """

    format_tag: int
    channels: int
    sample_rate: int
    avg_bytes_per_sec: int
    block_align: int
    bits_per_sample: int
    cb_size: int | None
    extension: bytes
    samples_per_block: int | None
    fact_samples: int | None
    data_offset: int
    data_bytes: int
    riff_size: int
    chunks: tuple[tuple[str, int, int], ...]
    warnings: tuple[str, ...]
    #: WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE): the format tag its SubFormat GUID names, when the
    #: GUID is one of the KSDATAFORMAT_SUBTYPE family {tag-0000-0010-8000-00AA00389B71}; else None.
    subformat_tag: int | None = None

    @property
    def effective_tag(self) -> int:
        """The format tag, or for WAVE_FORMAT_EXTENSIBLE the tag its SubFormat names."""
        if self.format_tag == TAG_EXTENSIBLE and self.subformat_tag is not None:
            return self.subformat_tag
        return self.format_tag


@dataclass(frozen=True)
class WavCheck:
    """Result of checking a file against one encoding: ``problems`` fail, ``notes`` are tolerated.

    ``info`` is None when the file could not be parsed at all (its reason is then the only
    problem).
    """

    info: WavInfo | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    #: Layouts other than ours that standard tools decode to the same samples (another tag for
    #: the same codec, WAVE_FORMAT_EXTENSIBLE with the right SubFormat): tolerated, reported, each
    #: as ``(decision, words)`` with the decision it departs from (SD-CODEC-OKI, SD-WAV-LAYOUT).
    alternatives: tuple[tuple[str, str], ...] = ()


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_FMT16 = struct.Struct("<HHIIHH")


def _plausible_id(data: bytes, pos: int, end: int) -> bool:
    """True when a whole chunk header fits at ``pos`` and its id is 4 printable ASCII bytes."""
    if pos + 8 > end:
        return False
    return all(0x20 <= b <= 0x7E for b in data[pos : pos + 4])


def _id_text(raw: bytes) -> str:
    return raw.decode("latin-1")


def parse_wav(data: bytes | bytearray | memoryview) -> WavInfo:
    """Parse a RIFF/WAVE file's chunks and fmt/fact/data fields.

    Raises `WavFormatError` with a specific reason for every malformed input (not RIFF/WAVE,
    truncated or mis-sized chunks, RIFF size not matching the file length, missing or short
    ``fmt ``, missing ``data``, zero channels/rate/block align, duplicate key chunks).
    """
    data = bytes(data)
    end = len(data)
    if end < 12:
        raise WavFormatError(f"file is {end} bytes, shorter than the 12-byte RIFF/WAVE header")
    magic = data[0:4]
    if magic != b"RIFF":
        if magic in (b"RIFX", b"RF64", b"BW64"):
            raise WavFormatError(f"{_id_text(magic)!r} container is not supported (need 'RIFF')")
        raise WavFormatError(f"not a RIFF file: starts with {magic!r}, expected b'RIFF'")
    if data[8:12] != b"WAVE":
        raise WavFormatError(f"RIFF form type is {data[8:12]!r}, expected b'WAVE'")
    riff_size = _U32.unpack_from(data, 4)[0]
    riff_end = 8 + riff_size

    warnings: list[str] = []
    chunks: list[tuple[str, int, int]] = []
    fmt_at: int | None = None
    fmt_size = 0
    fact_at: int | None = None
    data_at: int | None = None
    data_size = 0
    last_odd_unpadded = False

    off = 12
    try:
        while off < end:
            if end - off < 8:
                raise WavFormatError(
                    f"{end - off} stray byte(s) at offset {off}, too short for a chunk header"
                )
            raw_id = data[off : off + 4]
            if not all(0x20 <= b <= 0x7E for b in raw_id):
                raise WavFormatError(f"invalid chunk id {raw_id!r} at offset {off}")
            cid = _id_text(raw_id)
            size = _U32.unpack_from(data, off + 4)[0]
            body = off + 8
            if size > end - body:
                raise WavFormatError(
                    f"chunk {cid!r} at offset {off} declares {size} bytes but only "
                    f"{end - body} remain in the file (truncated, or size never patched)"
                )
            chunks.append((cid, off, size))
            if cid == "fmt ":
                if fmt_at is not None:
                    raise WavFormatError(f"second 'fmt ' chunk at offset {off}")
                fmt_at, fmt_size = body, size
            elif cid == "fact":
                if fact_at is not None:
                    raise WavFormatError(f"second 'fact' chunk at offset {off}")
                if size < 4:
                    raise WavFormatError(f"'fact' chunk is {size} bytes, needs at least 4")
                fact_at = body
            elif cid == "data":
                if data_at is not None:
                    raise WavFormatError(f"second 'data' chunk at offset {off}")
                if fmt_at is None:
                    raise WavFormatError(f"'data' chunk at offset {off} precedes the 'fmt ' chunk")
                data_at, data_size = body, size
            nxt = body + size
            last_odd_unpadded = False
            if size & 1:
                if nxt == end:
                    # Tolerated: the RIFF rule wants a pad byte, but readers accept its absence
                    # at the very end of the file.
                    last_odd_unpadded = True
                    warnings.append(f"odd-sized final chunk {cid!r} ({size} bytes) has no pad byte")
                elif nxt + 1 == end or _plausible_id(data, nxt + 1, end):
                    nxt += 1
                elif _plausible_id(data, nxt, end):
                    warnings.append(
                        f"odd-sized chunk {cid!r} at offset {off} ({size} bytes) is not followed "
                        "by a pad byte"
                    )
                else:
                    nxt += 1  # standard layout; the next iteration reports what is wrong there
            off = nxt
    except WavFormatError as exc:
        # Garbage after a RIFF chunk that ended cleanly is a size mismatch, say so.
        if riff_end < end and off >= riff_end:
            raise WavFormatError(
                f"RIFF size field says {riff_size} bytes follow but the file has {end - 8} "
                f"({end - riff_end} trailing bytes after the RIFF chunk)"
            ) from exc
        raise

    if riff_end != end:
        if last_odd_unpadded and riff_end == end + 1:
            warnings.append("RIFF size counts the missing final pad byte")
        elif riff_end > end:
            raise WavFormatError(
                f"RIFF size field says {riff_size} bytes follow but the file has only {end - 8} "
                "(truncated, or size never patched)"
            )
        else:
            raise WavFormatError(
                f"RIFF size field says {riff_size} bytes follow but the file has {end - 8} "
                f"({end - riff_end} trailing bytes after the RIFF chunk)"
            )

    if fmt_at is None:
        raise WavFormatError("no 'fmt ' chunk")
    if data_at is None:
        raise WavFormatError("no 'data' chunk")
    if fmt_size < 16:
        raise WavFormatError(f"'fmt ' chunk is {fmt_size} bytes, needs at least 16")
    tag, channels, rate, avg, align, bits = _FMT16.unpack_from(data, fmt_at)
    cb_size: int | None = None
    extension = b""
    if fmt_size == 17:
        raise WavFormatError("'fmt ' chunk is 17 bytes: the cbSize field is cut in half")
    if fmt_size >= 18:
        cb_size = _U16.unpack_from(data, fmt_at + 16)[0]
        if 18 + cb_size > fmt_size:
            raise WavFormatError(
                f"'fmt ' cbSize is {cb_size} but only {fmt_size - 18} extension bytes are present"
            )
        extension = data[fmt_at + 18 : fmt_at + 18 + cb_size]
        if fmt_size > 18 + cb_size:
            warnings.append(
                f"'fmt ' chunk has {fmt_size - 18 - cb_size} byte(s) after its cbSize extension"
            )
    if channels == 0:
        raise WavFormatError("'fmt ' says 0 channels")
    if rate == 0:
        raise WavFormatError("'fmt ' says a sample rate of 0 Hz")
    if align == 0:
        raise WavFormatError("'fmt ' says a block align of 0 bytes")
    samples_per_block: int | None = None
    if tag == TAG_IMA_ADPCM and len(extension) >= 2:
        samples_per_block = _U16.unpack_from(extension, 0)[0]
    fact_samples = None if fact_at is None else _U32.unpack_from(data, fact_at)[0]
    subformat_tag: int | None = None
    if tag == TAG_EXTENSIBLE and len(extension) >= 22 and extension[8:22] == _KS_GUID_TAIL:
        subformat_tag = _U16.unpack_from(extension, 6)[0]

    return WavInfo(
        format_tag=tag,
        channels=channels,
        sample_rate=rate,
        avg_bytes_per_sec=avg,
        block_align=align,
        bits_per_sample=bits,
        cb_size=cb_size,
        extension=extension,
        samples_per_block=samples_per_block,
        fact_samples=fact_samples,
        data_offset=data_at,
        data_bytes=data_size,
        riff_size=riff_size,
        chunks=tuple(chunks),
        warnings=tuple(warnings),
        subformat_tag=subformat_tag,
    )


@dataclass(frozen=True)
class _Rule:
    """What one encoding fixes in the fmt chunk (mono)."""

    tag: int
    bits: int
    block_align: int


_RULES: dict[str, _Rule] = {
    "alaw": _Rule(TAG_ALAW, 8, 1),
    "ulaw": _Rule(TAG_ULAW, 8, 1),
    "s16bit": _Rule(TAG_PCM, 16, 2),
    "u8bit": _Rule(TAG_PCM, 8, 1),
    "ima": _Rule(TAG_IMA_ADPCM, 4, IMA_BLOCK_ALIGN),
    "oki": _Rule(TAG_DIALOGIC_OKI, 4, 1),
}


def _check_avg(info: WavInfo, num: int, den: int, problems: list[str]) -> None:
    """nAvgBytesPerSec must be rate*num/den, floored or rounded up when that is not whole.

    Both roundings occur in the wild (libsndfile floors rate*256/505 for IMA, sox rounds).
    """
    lo = (info.sample_rate * num) // den
    hi = -((-info.sample_rate * num) // den)
    if info.avg_bytes_per_sec not in (lo, hi):
        want = str(lo) if lo == hi else f"{lo} or {hi}"
        problems.append(
            f"nAvgBytesPerSec is {info.avg_bytes_per_sec}, expected {want} for "
            f"{info.sample_rate} Hz"
        )


def _check_ima_blocks(data: bytes, info: WavInfo, problems: list[str], notes: list[str]) -> None:
    """Each IMA block header: step index 0..88 (a problem), reserved byte 0 (a note)."""
    start = info.data_offset
    stop = start + info.data_bytes
    bad_index: list[int] = []
    bad_reserved = 0
    for k, pos in enumerate(range(start, stop - 3, IMA_BLOCK_ALIGN)):
        if data[pos + 2] > 88:
            bad_index.append(k)
        if data[pos + 3] != 0:
            bad_reserved += 1
    if bad_index:
        shown = ", ".join(str(k) for k in bad_index[:5])
        more = "" if len(bad_index) <= 5 else f" and {len(bad_index) - 5} more"
        problems.append(f"IMA block header step index > 88 in block(s) {shown}{more}")
    if bad_reserved:
        notes.append(f"IMA block header reserved byte is not 0 in {bad_reserved} block(s)")


def check_info(
    info: WavInfo, expected_format: str, expected_rate: int, data: bytes | None = None
) -> WavCheck:
    """Check a parsed header against one of our six encodings at ``expected_rate``.

    ``data`` (the whole file) is needed only for the IMA block-header checks; without it they
    are skipped. Raises `ValueError` (not `WavFormatError`) for an unknown ``expected_format``,
    which is a caller's mistake, not a file defect.
    """
    if expected_format not in _RULES:
        raise ValueError(f"unknown encoding {expected_format!r}; expected one of {ENCODINGS}")
    rule = _RULES[expected_format]
    problems: list[str] = []
    notes: list[str] = list(info.warnings)
    # the RIFF rules the reader tolerates (a missing pad byte, a RIFF size counting it, bytes
    # after cbSize): standard tools read such files alike, so reported, never a problem
    alternatives: list[tuple[str, str]] = [("SD-WAV-LAYOUT", f"RIFF layout: {w} (tolerated: readers accept it)")
                                           for w in info.warnings]
    fmt = expected_format

    tag = info.effective_tag
    if info.format_tag == TAG_EXTENSIBLE and info.subformat_tag is not None:
        alternatives.append(("SD-WAV-LAYOUT", f"WAVE_FORMAT_EXTENSIBLE with SubFormat {tag_name(tag)} "
                             "(standard tools read it as that format)"))
        valid_bits = _U16.unpack_from(info.extension, 0)[0]
        if valid_bits not in (0, info.bits_per_sample):
            problems.append(f"wValidBitsPerSample is {valid_bits}, expected {info.bits_per_sample}")
    if tag != rule.tag and fmt == "oki" and tag == TAG_OKI_ADPCM:
        alternatives.append(("SD-CODEC-OKI", f"OKI ADPCM written with tag {tag_name(tag)} (ffmpeg decodes 0x0010 "
                             "and 0x0017 alike)"))
    elif tag != rule.tag:
        problems.append(
            f"format tag is {tag_name(info.format_tag)}, expected {tag_name(rule.tag)} for {fmt}"
        )
    if info.channels != 1:
        problems.append(f"{info.channels} channels, expected mono (1)")
    if info.sample_rate != expected_rate:
        problems.append(f"sample rate is {info.sample_rate} Hz, expected {expected_rate} Hz")
    if info.bits_per_sample != rule.bits:
        problems.append(f"wBitsPerSample is {info.bits_per_sample}, expected {rule.bits} for {fmt}")
    if info.block_align != rule.block_align:
        problems.append(f"nBlockAlign is {info.block_align}, expected {rule.block_align} for {fmt}")

    n_bytes = info.data_bytes
    fact = info.fact_samples
    if fmt in ("alaw", "ulaw"):
        _check_avg(info, 1, 1, problems)
        if info.cb_size is None:
            notes.append(
                "non-PCM 'fmt ' chunk has no cbSize field (16 bytes, WAVEFORMATEX wants 18)"
            )
        elif info.cb_size != 0:
            notes.append(f"'fmt ' cbSize is {info.cb_size}, expected 0 for G.711")
        if fact is None:
            # RIFF asks for 'fact' in every non-PCM file; G.711 readers do not need it.
            notes.append("no 'fact' chunk (RIFF wants one for non-PCM formats)")
        elif fact != n_bytes:
            problems.append(f"'fact' says {fact} samples but the data holds {n_bytes}")
    elif fmt in ("s16bit", "u8bit"):
        _check_avg(info, rule.block_align, 1, problems)
        if n_bytes % rule.block_align:
            problems.append(f"data size {n_bytes} is not a multiple of {rule.block_align} bytes")
        if info.cb_size not in (None, 0):
            notes.append(f"'fmt ' cbSize is {info.cb_size}, expected none or 0 for PCM")
        if fact is not None and fact != n_bytes // rule.block_align:
            problems.append(
                f"'fact' says {fact} samples but the data holds {n_bytes // rule.block_align}"
            )
    elif fmt == "ima":
        spb = ima_samples_per_block(IMA_BLOCK_ALIGN)
        _check_avg(info, IMA_BLOCK_ALIGN, spb, problems)
        if info.cb_size != 2 and info.format_tag != TAG_EXTENSIBLE:
            problems.append(f"'fmt ' cbSize is {info.cb_size}, expected 2 for IMA ADPCM")
        if info.samples_per_block != spb and info.format_tag != TAG_EXTENSIBLE:
            problems.append(f"wSamplesPerBlock is {info.samples_per_block}, expected {spb}")
        blocks, rest = divmod(n_bytes, IMA_BLOCK_ALIGN)
        if rest:
            problems.append(
                f"data size {n_bytes} is not a whole number of {IMA_BLOCK_ALIGN}-byte blocks"
            )
        if fact is None:
            problems.append("no 'fact' chunk (IMA ADPCM needs the sample count)")
        elif rest == 0 and not (
            (blocks == 0 and fact == 0) or (blocks - 1) * spb < fact <= blocks * spb
        ):
            problems.append(
                f"'fact' says {fact} samples but {blocks} block(s) hold "
                f"{max(blocks - 1, 0) * spb + 1 if blocks else 0}..{blocks * spb}"
            )
        if data is not None and info.block_align == IMA_BLOCK_ALIGN:
            _check_ima_blocks(data, info, problems, notes)
    elif fmt == "oki":
        _check_avg(info, 1, 2, problems)
        if info.cb_size not in (None, 0):
            notes.append(f"'fmt ' cbSize is {info.cb_size}, expected none or 0 for tag 0x0017")
        if fact is None:
            problems.append("no 'fact' chunk (OKI ADPCM needs the sample count)")
        elif n_bytes != (fact + 1) // 2:
            problems.append(
                f"'fact' says {fact} samples, which need {(fact + 1) // 2} data bytes, "
                f"but the data has {n_bytes}"
            )
    # the header points the reader tolerates beyond the RIFF rules above (no 'fact' in a G.711
    # file, a missing or odd cbSize, a reserved byte set): reported the same way
    alternatives += [("SD-WAV-LAYOUT", f"WAVE header: {n} (tolerated: readers accept it)")
                     for n in notes[len(info.warnings):]]
    return WavCheck(info=info, problems=tuple(problems), notes=tuple(notes), alternatives=tuple(alternatives))


def check_wav(
    data: bytes | bytearray | memoryview, expected_format: str, expected_rate: int
) -> WavCheck:
    """Parse ``data`` and check it against one encoding; never raises for any file bytes."""
    if expected_format not in _RULES:
        raise ValueError(f"unknown encoding {expected_format!r}; expected one of {ENCODINGS}")
    raw = bytes(data)
    try:
        info = parse_wav(raw)
    except WavFormatError as exc:
        return WavCheck(info=None, problems=(exc.reason,), notes=())
    return check_info(info, expected_format, expected_rate, raw)


def validate_wav(
    data: bytes | bytearray | memoryview,
    expected_format: str,
    expected_rate: int,
    *,
    strict: bool = False,
) -> list[str]:
    """Return the problems that stop ``data`` being a valid ``expected_format`` file.

    An empty list means valid. Tolerated deviations (missing final pad byte, G.711 without
    ``fact``, ...) are listed only when ``strict`` is true, each prefixed ``"non-strict: "``.
    """
    result = check_wav(data, expected_format, expected_rate)
    out = list(result.problems)
    if strict:
        out.extend(f"non-strict: {n}" for n in result.notes)
    return out
