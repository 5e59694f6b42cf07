"""API keys and carer link tokens: how they are made and how they are stored.

Both are 256-bit random secrets with a readable prefix (``crk_`` for an agency's API key,
``crc_`` for a carer's link), so a leaked one is easy to recognise in logs and scanners. Only
their SHA-256 is stored. A slow password hash (bcrypt, argon2) protects low-entropy passwords
against guessing; a 256-bit random secret cannot be guessed, so a plain digest is as safe and lets
a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

API_KEY_PREFIX: Final = "crk_"
CARER_TOKEN_PREFIX: Final = "crc_"


def new_secret(prefix: str) -> str:
    """A fresh secret: ``prefix`` and 43 URL-safe characters (32 random bytes)."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
