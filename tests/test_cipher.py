"""Tests for recorder/cipher.py: openssl compatibility for every key size, validation before
play, parameter checking, and that key material never shows in repr, str, errors or pickles.

Oracles: the ``openssl enc`` command line (skipped with a reason when absent) and the NIST
SP 800-38A CBC test vectors, both independent of the ``cryptography`` package under the code.
"""

from __future__ import annotations

import copy
import io
import pickle
import re
import shutil
import subprocess
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.cipher import Cipher, CipherError

HAVE_OPENSSL = shutil.which("openssl") is not None
needs_openssl = pytest.mark.skipif(not HAVE_OPENSSL, reason="openssl not installed")

KEYS = {
    128: "000102030405060708090a0b0c0d0e0f",
    192: "000102030405060708090A0B0C0D0E0F1011121314151617",
    256: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
}
IV = "F0E1D2C3B4A5968778695A4B3C2D1E0F"


def openssl(bits: int, key: str, iv: str, data: bytes, *, decrypt: bool = False) -> bytes:
    args = ["openssl", "enc", f"-aes-{bits}-cbc", "-K", key, "-iv", iv]
    if decrypt:
        args.insert(2, "-d")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def small_wav() -> bytes:
    """A real WAV (stdlib ``wave``, 16-bit mono 8 kHz, 0.1 s ramp)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(
            b"".join(int(i * 37 - 14000).to_bytes(2, "little", signed=True) for i in range(800))
        )
    return buf.getvalue()


PLAINTEXTS = {
    "empty": b"",
    "15 bytes": bytes(range(15)),
    "16 bytes": bytes(range(16)),
    "17 bytes": bytes(range(17)),
    "1000 bytes": bytes(i * 7 % 256 for i in range(1000)),
    "wav": small_wav(),
}


# NIST SP 800-38A, F.2.1 / F.2.3 / F.2.5: CBC-AES encrypt, first block.
NIST_IV = "000102030405060708090a0b0c0d0e0f"
NIST_P1 = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
NIST = {
    128: ("2b7e151628aed2a6abf7158809cf4f3c", "7649abac8119b246cee98e9b12e9197d"),
    192: ("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", "4f021db243bc633d7178183a9fa071e8"),
    256: (
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6",
    ),
}


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_nist_cbc_vectors(bits: int) -> None:
    """The first ciphertext block matches NIST SP 800-38A; one full PKCS#7 block follows."""
    key, expected = NIST[bits]
    out = Cipher(key, NIST_IV).encrypt(NIST_P1)
    assert out[:16].hex() == expected
    assert len(out) == 32  # 16-byte input gets a whole block of padding
    assert Cipher(key, NIST_IV).algorithm == f"aes-{bits}-cbc"
    assert Cipher(key, NIST_IV).key_bits == bits


@pytest.mark.parametrize("bits", [128, 192, 256])
@pytest.mark.parametrize("label", list(PLAINTEXTS))
def test_padding_lengths(bits: int, label: str) -> None:
    """PKCS#7: output is the next multiple of 16 strictly above the input length; decrypt inverts."""
    cipher = Cipher(KEYS[bits], IV)
    plain = PLAINTEXTS[label]
    out = cipher.encrypt(plain)
    assert len(out) == (len(plain) // 16 + 1) * 16
    assert cipher.decrypt(out) == plain


@needs_openssl
@pytest.mark.tools
@pytest.mark.parametrize("bits", [128, 192, 256])
@pytest.mark.parametrize("label", list(PLAINTEXTS))
def test_openssl_decrypts_ours(bits: int, label: str) -> None:
    """`openssl enc -d -aes-N-cbc -K .. -iv ..` recovers our output to the exact plaintext,
    and our bytes equal openssl's own encryption."""
    cipher = Cipher(KEYS[bits], IV)
    plain = PLAINTEXTS[label]
    stream = cipher.encryptor()
    ours = (
        b"".join(stream.update(plain[i : i + 7]) for i in range(0, len(plain), 7))
        + stream.finalize()
    )
    assert openssl(bits, KEYS[bits], IV, ours, decrypt=True) == plain
    assert ours == openssl(bits, KEYS[bits], IV, plain)


@needs_openssl
@pytest.mark.tools
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_we_decrypt_and_validate_openssl_files(bits: int) -> None:
    """A WAV encrypted by openssl decrypts and validates; with a wrong key or IV it does not."""
    plain = PLAINTEXTS["wav"]
    encrypted = openssl(bits, KEYS[bits], IV, plain)
    cipher = Cipher(KEYS[bits].upper(), IV.lower())
    assert cipher.decrypt(encrypted) == plain
    assert cipher.validate(encrypted)
    wrong_key = "ff" + KEYS[bits][2:]
    assert not Cipher(wrong_key, IV).validate(encrypted)
    wrong_iv = "00" + IV[2:]
    # A wrong IV garbles only the first block, which holds the RIFF/WAVE magic.
    assert not Cipher(KEYS[bits], wrong_iv).validate(encrypted)


def test_validate_rejects_non_wav_and_damaged_data() -> None:
    """validate is True only for a RIFF/WAVE plaintext behind valid padding."""
    cipher = Cipher(KEYS[128], IV)
    wav = cipher.encrypt(PLAINTEXTS["wav"])
    assert cipher.validate(wav)
    assert cipher.validate(bytearray(wav))
    assert not cipher.validate(cipher.encrypt(b"RIFF\0\0\0\0AVI LIST"))
    assert not cipher.validate(cipher.encrypt(b"not a wav file at all"))
    assert not cipher.validate(cipher.encrypt(b""))
    assert not cipher.validate(PLAINTEXTS["wav"])  # plaintext: not a multiple of 16
    assert not cipher.validate(b"")
    assert not cipher.validate(wav[:-1])
    assert not cipher.validate(wav[:-16])  # a block short: the padding is gone


def test_decrypt_errors() -> None:
    """Bad ciphertext lengths and bad padding raise CipherError with no chained exception."""
    cipher = Cipher(KEYS[128], IV)
    for data in (b"", b"x" * 15, b"x" * 17):
        with pytest.raises(CipherError, match="multiple"):
            cipher.decrypt(data)
    other = Cipher(KEYS[256], IV).encrypt(b"hello")
    with pytest.raises(CipherError, match="padding") as info:
        for _ in range(3):  # a wrong key gives valid padding about 1 in 256 times; these keys don't
            cipher.decrypt(other)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_streaming_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    """Property: any chunking of update calls gives the same bytes as encrypting at once."""
    cipher = Cipher(KEYS[192], IV)
    stream = cipher.encryptor()
    edges = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    out = b"".join(stream.update(data[a:b]) for a, b in zip(edges, edges[1:], strict=False))
    assert out + stream.finalize() == cipher.encrypt(data)


def test_encryptor_single_use() -> None:
    """After finalize, an encryptor refuses more work; each encryptor restarts from the IV."""
    cipher = Cipher(KEYS[128], IV)
    s = cipher.encryptor()
    first = s.update(b"a" * 16) + s.finalize()
    with pytest.raises(CipherError):
        s.update(b"x")
    with pytest.raises(CipherError):
        s.finalize()
    assert cipher.encryptor().update(b"a" * 16) == first[:16]


# --------------------------------------------------------------------------------------------
# Parameter validation and no leaks
# --------------------------------------------------------------------------------------------

GOOD_KEY = KEYS[128]
BAD_HEX = [
    ("key_hex", GOOD_KEY[:-1], "odd"),
    ("key_hex", GOOD_KEY[:-2], "hexadecimal digits, not 30"),
    ("key_hex", GOOD_KEY + "00", "hexadecimal digits, not 34"),
    ("key_hex", "", "not 0"),
    ("key_hex", "0x" + GOOD_KEY[2:], "0x"),
    ("key_hex", "0X" + GOOD_KEY[2:], "0x"),
    ("key_hex", GOOD_KEY[:16] + " " + GOOD_KEY[16:31], "whitespace"),
    ("key_hex", GOOD_KEY + "\n", "whitespace"),
    ("key_hex", "g" + GOOD_KEY[1:], "position 0"),
    ("key_hex", GOOD_KEY[:20] + "\u0661" + GOOD_KEY[21:], "position 20"),  # non-ASCII digit
    ("key_hex", bytes.fromhex(GOOD_KEY), "not bytes"),
    ("key_hex", None, "not NoneType"),
    ("iv_hex", IV[:-2], "32 hexadecimal digits, not 30"),
    ("iv_hex", IV + IV, "not 64"),
    ("iv_hex", IV[:5] + "z" + IV[6:], "position 5"),
    ("iv_hex", 12345, "not int"),
]


@pytest.mark.parametrize(("param", "value", "fragment"), BAD_HEX)
def test_bad_parameters_raise_without_the_value(param: str, value: object, fragment: str) -> None:
    """Bad keys/IVs raise CipherError (a ValueError) naming the parameter and problem, not the value."""
    args = {"key_hex": GOOD_KEY, "iv_hex": IV}
    args[param] = value  # type: ignore[assignment]
    with pytest.raises(CipherError) as info:
        Cipher(**args)  # type: ignore[arg-type]
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(param)
    assert fragment in message
    assert not re.search(r"[0-9A-Fa-f]{8,}", message), message
    assert info.value.__cause__ is None and info.value.__context__ is None


def hex_of(n: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=n, max_size=n).map(bytes.hex)


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(hex_of),
    iv=hex_of(16),
    upper=st.booleans(),
)
def test_repr_and_str_never_show_key_material(key: str, iv: str, upper: bool) -> None:
    """Property: neither the key nor the IV (either case) is in repr, str or format output."""
    cipher = Cipher(key.upper() if upper else key, iv.upper() if upper else iv)
    shown = [repr(cipher), str(cipher), f"{cipher}", f"{cipher!r}", repr(cipher.encryptor())]
    for secret in (key, iv):
        for text in shown:
            assert secret.lower() not in text.lower()
            assert secret[:16].lower() not in text.lower()
    assert shown[0] == f"Cipher(aes-{len(key) * 4}-cbc, key=<redacted>, iv=<redacted>)"


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(hex_of),
    iv=hex_of(16),
    damage=st.sampled_from(["drop", "add", "space", "0x", "g", "triple"]),
    target=st.sampled_from(["key", "iv"]),
)
def test_error_messages_never_show_key_material(
    key: str, iv: str, damage: str, target: str
) -> None:
    """Property: for a damaged key or IV the message holds neither value nor any 8-digit hex run."""
    damaged = {
        "drop": lambda s: s[:-1],
        "add": lambda s: s + "a",
        "space": lambda s: s[:10] + " " + s[10:],
        "0x": lambda s: "0x" + s,
        "g": lambda s: s[:7] + "g" + s[8:],
        "triple": lambda s: s * 3,
    }[damage]
    args = (damaged(key), iv) if target == "key" else (key, damaged(iv))
    with pytest.raises(CipherError) as info:
        Cipher(*args)
    texts = [str(info.value), repr(info.value)]
    for text in texts:
        for secret in (key, iv, *args):
            assert secret.lower() not in text.lower()
        assert not re.search(r"[0-9A-Fa-f]{8,}", text)


def test_no_dict_no_mutation_no_pickle() -> None:
    """No __dict__ to dump, attributes are frozen, pickling refuses, copies are the same object."""
    cipher = Cipher(KEYS[256], IV)
    assert not hasattr(cipher, "__dict__")
    with pytest.raises(TypeError):
        vars(cipher)
    with pytest.raises(AttributeError):
        cipher._key = b"\0" * 16  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cipher.extra = 1  # type: ignore[attr-defined]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(cipher, protocol=protocol)
    with pytest.raises(TypeError):
        cipher.__getstate__()
    with pytest.raises(TypeError):
        pickle.dumps(cipher.encryptor())
    assert copy.copy(cipher) is cipher
    assert copy.deepcopy({"c": cipher})["c"] is cipher
