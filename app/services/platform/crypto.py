"""Encryption at rest for vendor tokens and webhook secrets (Fernet, with key rotation).

``LOADLINE_TOKEN_KEYS`` lists Fernet keys, newest first: the first encrypts, every one
decrypts, so a new key can be put in front and old values re-encrypted
(``loadline tokens rotate``) before the old key is removed. Without keys (development),
one key is derived from ``LOADLINE_SECRET_KEY``.
"""

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import Settings


class DecryptionError(Exception):
    """A stored value that none of the configured keys opens (a key was removed too soon)."""


def _fernet(settings: Settings) -> MultiFernet:
    return _fernet_of(settings.token_keys, settings.secret_key)


@functools.lru_cache(maxsize=8)
def _fernet_of(token_keys: str, secret_key: str) -> MultiFernet:
    """Built once per key set: a batch (a team's reminder emails) encrypts many payloads."""
    keys = [key.strip() for key in token_keys.split(",") if key.strip()]
    if not keys:
        derived = hashlib.sha256(f"loadline-token-key:{secret_key}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_bytes(settings: Settings, plain: bytes) -> bytes:
    return _fernet(settings).encrypt(plain)


def decrypt_bytes(settings: Settings, stored: bytes) -> bytes:
    try:
        return _fernet(settings).decrypt(stored)
    except InvalidToken:
        raise DecryptionError("no configured key decrypts this value") from None


def encrypt(settings: Settings, plain: str) -> str:
    return _fernet(settings).encrypt(plain.encode()).decode()


def decrypt(settings: Settings, stored: str) -> str:
    try:
        return _fernet(settings).decrypt(stored.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured key decrypts this value") from None


def reencrypt(settings: Settings, stored: str) -> str:
    """The same secret under the newest key (a no-op in meaning, a new ciphertext)."""
    try:
        return _fernet(settings).rotate(stored.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured key decrypts this value") from None
