from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.crypto import envelope


def test_round_trip_and_fresh_nonces() -> None:
    key = AESGCM(envelope.new_data_key())
    a = envelope.encrypt(key, b"hello", b"row-1")
    b = envelope.encrypt(key, b"hello", b"row-1")
    assert a != b and b"hello" not in a
    assert envelope.decrypt(key, a, b"row-1") == b"hello"


def test_associated_data_binds_ciphertext_to_its_row() -> None:
    key = AESGCM(envelope.new_data_key())
    blob = envelope.encrypt(key, b"secret", b"row-1")
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(key, blob, b"row-2")


def test_wrong_key_and_tampering_fail() -> None:
    key, other = AESGCM(envelope.new_data_key()), AESGCM(envelope.new_data_key())
    blob = envelope.encrypt(key, b"secret", b"")
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(other, blob, b"")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(key, flipped, b"")
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(key, b"\x02" + blob[1:], b"")
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(key, b"\x01short", b"")


def test_derived_keys_differ_by_purpose() -> None:
    kek = bytes(32)
    a, b = envelope.derive(kek, "wrap"), envelope.derive(kek, "totp")
    blob = envelope.encrypt(a, b"x", b"")
    with pytest.raises(envelope.DecryptionFailed):
        envelope.decrypt(b, blob, b"")
    with pytest.raises(ValueError):
        envelope.derive(b"short", "wrap")
