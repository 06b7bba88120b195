"""The cipher value and streaming encryption, under their first spelling.

The ``Cipher`` value is the platform's, not the reference's: it lives in the contract
(``callsim.contract.cipher``) so applications, the simulator and any recorder share it. This
module keeps ``recorder.cipher.Cipher`` (and ``recorder.Cipher``) working.
"""

from callsim.contract.cipher import (
    BLOCK_BYTES,
    IV_HEX_LENGTH,
    KEY_HEX_LENGTHS,
    Cipher,
    CipherError,
    Encryptor,
)

__all__ = ["BLOCK_BYTES", "Cipher", "CipherError", "Encryptor", "KEY_HEX_LENGTHS", "IV_HEX_LENGTH"]
