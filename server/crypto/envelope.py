"""Envelope encryption primitives (pure: bytes in, bytes out).

Design note. Client data is encrypted with AES-256-GCM under a *data key* that
belongs to one (case, data category, month) bucket. Data keys are stored only
wrapped (encrypted) by the key-encryption key (KEK), which lives outside the
database (environment or key file). Destroying a bucket's wrapped key makes the
bucket's ciphertext unreadable: this is how retention is enforced (GDPR art. 5(1)(e),
17). A backup still holds the wrapped key as it was, so ``tandem backup`` seals it under
a window key that is itself destroyed after a bounded lifetime (``server/backup``). The
KEK never touches the database and never appears in logs.

Ciphertext layout: ``version (1 byte) | nonce (12 bytes) | ciphertext+tag``.
The associated data binds a ciphertext to its key and its row, so a ciphertext
moved to another row or bucket fails to decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionFailed(Exception):
    """The ciphertext, its associated data or its key do not match."""


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encrypt(key: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([VERSION]) + nonce + key.encrypt(nonce, plaintext, aad)


def decrypt(key: AESGCM, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != VERSION:
        raise DecryptionFailed("not a Tandem ciphertext")
    try:
        return key.decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionFailed("authentication tag does not match") from None


def derive(kek: bytes, purpose: str) -> AESGCM:
    """A sub-key of the KEK for one purpose ("wrap", "totp"), so keys are never reused across uses."""
    if len(kek) != KEY_BYTES:
        raise ValueError("the KEK must be 32 bytes")
    okm = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"tandem/" + purpose.encode()).derive(kek)
    return AESGCM(okm)


def wrap_aad(key_id: str, case_id: str, category: str, bucket: str) -> bytes:
    return f"tandem-dk|{key_id}|{case_id}|{category}|{bucket}".encode()
