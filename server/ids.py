"""Identifiers and secrets drawn from the operating system's CSPRNG."""

from __future__ import annotations

import hashlib
import secrets


def new_id() -> str:
    """A 128-bit random identifier, hex encoded (32 characters)."""
    return secrets.token_hex(16)


def new_token(nbytes: int = 32) -> str:
    """An unguessable bearer secret (256 bits by default), URL-safe."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256, so a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
