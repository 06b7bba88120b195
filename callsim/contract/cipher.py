"""The AES-CBC cipher a recording may be encrypted with, and streaming encryption.

This module owns the ``Cipher`` value an application hands to ``record(..., cipher=...)`` (the
vendor's encrypted-media guide, summarised in ``docs/vendor-facts.md``): AES in CBC mode with a 128, 192 or 256-bit key and a 128-bit IV, both given as
hex. Output is byte-for-byte what ``openssl enc -aes-N-cbc -K <key> -iv <iv>`` writes for the
same plaintext: the whole file (header included) is encrypted, PKCS#7 padded, with no salt and
no IV in the output. ``validate`` implements the "validate an encrypted file with its cipher
before playing it" rule: it decrypts and checks for a RIFF/WAVE file.

A recorder under test reads the key material through the documented properties ``key``, ``iv``
and ``key_bits`` (or simply calls ``encryptor()``/``encrypt()``). Key material never leaves the
object by accident: ``repr``/``str`` show only the algorithm,
validation messages name the parameter and the problem but never its value, the instance has no
``__dict__`` (``__slots__``) and refuses pickling (copying returns the same immutable object).
The primitives come from the ``cryptography`` package.
"""

from __future__ import annotations

import re
from typing import Final, NoReturn, final

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher as _AesCipher
from cryptography.hazmat.primitives.ciphers import CipherContext, algorithms, modes

__all__ = ["BLOCK_BYTES", "Cipher", "CipherError", "Encryptor", "KEY_HEX_LENGTHS", "IV_HEX_LENGTH"]

#: AES block size; also the IV size and the PKCS#7 padding unit.
BLOCK_BYTES: Final = 16
#: Accepted key lengths in hex digits: AES-128, AES-192, AES-256.
KEY_HEX_LENGTHS: Final[tuple[int, ...]] = (32, 48, 64)
IV_HEX_LENGTH: Final = 32

# Explicit ASCII ranges: str.isdigit-style checks would accept non-ASCII digits.
_HEX = re.compile(r"[0-9A-Fa-f]")
_REDACTED: Final = "<redacted>"


class CipherError(ValueError):
    """A bad key or IV, or data that does not decrypt with this cipher.

    Messages name the parameter and the problem, never the key or IV itself.
    """


def _parse_hex(value: object, param: str, lengths: tuple[int, ...]) -> bytes:
    """Bytes of a hex parameter; every message is built from fixed text, positions and lengths only."""
    if not isinstance(value, str):
        raise CipherError(
            f"{param} must be a str of hexadecimal digits, not {type(value).__name__}"
        )
    if any(char.isspace() for char in value):
        raise CipherError(f"{param} must not contain whitespace")
    if value[:2] in ("0x", "0X"):
        raise CipherError(f"{param} must be bare hexadecimal digits, without a '0x' prefix")
    for position, char in enumerate(value):
        if not _HEX.fullmatch(char):
            raise CipherError(
                f"{param} has a character that is not a hexadecimal digit at position {position}"
            )
    if len(value) % 2:
        raise CipherError(f"{param} has an odd number of hexadecimal digits ({len(value)})")
    if len(value) not in lengths:
        wanted = (
            ", ".join(str(n) for n in lengths[:-1])
            + (" or " if len(lengths) > 1 else "")
            + str(lengths[-1])
        )
        raise CipherError(f"{param} must have {wanted} hexadecimal digits, not {len(value)}")
    return bytes.fromhex(value)


def _refuse_pickle(kind: str) -> NoReturn:
    raise TypeError(f"{kind} objects hold key material and cannot be pickled")


@final
class Encryptor:
    """Streaming encryption: ``update`` any chunks, then ``finalize`` once (adds the padding).

    The concatenated output for any chunking equals ``Cipher.encrypt`` of the whole input.
    """

    __slots__ = ("_context", "_padder", "_done")

    def __init__(self, context: CipherContext) -> None:
        self._context = context
        self._padder = padding.PKCS7(BLOCK_BYTES * 8).padder()
        self._done = False

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        if self._done:
            raise CipherError("encryptor already finalized")
        return self._context.update(self._padder.update(bytes(data)))

    def finalize(self) -> bytes:
        if self._done:
            raise CipherError("encryptor already finalized")
        self._done = True
        return self._context.update(self._padder.finalize()) + self._context.finalize()

    def __repr__(self) -> str:
        return f"Encryptor({'finalized' if self._done else 'open'})"

    def __reduce__(self) -> NoReturn:
        _refuse_pickle("Encryptor")


@final
class Cipher:
    """AES-CBC with a 128/192/256-bit key and a 128-bit IV, given as hex (either case).

    >>> Cipher("00" * 32, "00" * 16)
    Cipher(aes-256-cbc, key=<redacted>, iv=<redacted>)
    """

    __slots__ = ("_key", "_iv")
    _key: bytes
    _iv: bytes

    def __init__(self, key_hex: str, iv_hex: str) -> None:
        key = _parse_hex(key_hex, "key_hex", KEY_HEX_LENGTHS)
        iv = _parse_hex(iv_hex, "iv_hex", (IV_HEX_LENGTH,))
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_iv", iv)

    @property
    def key_bits(self) -> int:
        """Key size in bits: 128, 192 or 256."""
        return len(self._key) * 8

    @property
    def key(self) -> bytes:
        """The AES key (16, 24 or 32 bytes), for implementers encrypting on their own."""
        return self._key

    @property
    def iv(self) -> bytes:
        """The 16-byte CBC initialisation vector."""
        return self._iv

    @property
    def algorithm(self) -> str:
        """The openssl cipher name, e.g. ``"aes-256-cbc"``."""
        return f"aes-{self.key_bits}-cbc"

    def _aes(self) -> _AesCipher[modes.CBC]:
        return _AesCipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def encryptor(self) -> Encryptor:
        """A fresh streaming encryptor (each file starts again from the IV)."""
        return Encryptor(self._aes().encryptor())

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """The whole of ``data`` encrypted, as ``openssl enc -aes-N-cbc -K .. -iv ..`` would."""
        stream = self.encryptor()
        return stream.update(data) + stream.finalize()

    def decrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """Decrypt and strip the PKCS#7 padding; ``CipherError`` if the data cannot be ours."""
        raw = bytes(data)
        if not raw or len(raw) % BLOCK_BYTES:
            raise CipherError(
                f"ciphertext length {len(raw)} is not a positive multiple of the {BLOCK_BYTES}-byte block"
            )
        context = self._aes().decryptor()
        plain = context.update(raw) + context.finalize()
        unpadder = padding.PKCS7(BLOCK_BYTES * 8).unpadder()
        try:
            return unpadder.update(plain) + unpadder.finalize()
        except ValueError:
            # Suppress the library's context: nothing of the key or plaintext should be chained.
            raise CipherError(
                "bad padding: wrong key or IV, or data not encrypted with this cipher"
            ) from None

    def validate(self, data: bytes | bytearray | memoryview) -> bool:
        """True when ``data`` decrypts, with valid padding, to a RIFF/WAVE file.

        Only the RIFF and WAVE magic are checked: structure is the WAV reader's business. A wrong
        key passes the padding check about once in 256 tries but the 8 magic bytes almost never.
        """
        try:
            plain = self.decrypt(data)
        except CipherError:
            return False
        return len(plain) >= 12 and plain[:4] == b"RIFF" and plain[8:12] == b"WAVE"

    # -- no accidental leaks ----------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Cipher({self.algorithm}, key={_REDACTED}, iv={_REDACTED})"

    __str__ = __repr__

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Cipher is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Cipher is immutable")

    def __reduce__(self) -> NoReturn:
        _refuse_pickle("Cipher")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _refuse_pickle("Cipher")

    def __getstate__(self) -> NoReturn:
        _refuse_pickle("Cipher")

    def __copy__(self) -> Cipher:
        return self  # immutable: sharing is a safe copy

    def __deepcopy__(self, memo: dict[int, object]) -> Cipher:
        return self
