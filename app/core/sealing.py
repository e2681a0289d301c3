"""Secrets the server must read back (the hub's TOTP keys, its channels' webhook signing
secrets) are sealed at rest: AES-256-GCM with a key derived (HKDF-SHA256) from the
install's pepper (core/secret_file.py), so a copy of the database alone gives neither.

A sealed value is ``"s1:" + base64(nonce (12 bytes) + ciphertext + tag (16 bytes))``.
Its place in the database (table, column, row key) is the associated data, so a sealed
value copied to another row does not open there. A value without the prefix is a
secret written before sealing (legacy plaintext): it is read as it is, and the hub seals
such rows at start (hub/sealing.py).

Pure: no database, no I/O but the random nonce.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "s1:"
NONCE_BYTES = 12
TAG_BYTES = 16
_SALT = b"kirana sealed secrets"
_INFO = b"kirana sealing key v1 (AES-256-GCM)"


class Unsealable(ValueError):
    """A sealed value that does not open: sealed with another secret file, or changed."""


def sealing_key(pepper: bytes) -> bytes:
    """The AES-256 key for sealed secrets, derived from the install's pepper (never the
    pepper itself: PIN hashes are keyed with that)."""
    if len(pepper) < 16:
        raise ValueError("the pepper is too short to derive a sealing key from")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(pepper)


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


def sealed_length(plaintext_chars: int) -> int:
    """How long the sealed text of an ASCII secret of this length is (column widths)."""
    raw = NONCE_BYTES + plaintext_chars + TAG_BYTES
    return len(PREFIX) + 4 * -(-raw // 3)


def seal(key: bytes, plaintext: str, place: str) -> str:
    """`plaintext` sealed for `place` (e.g. "users.totp_secret:<user id>")."""
    nonce = os.urandom(NONCE_BYTES)
    box = AESGCM(key).encrypt(nonce, plaintext.encode(), place.encode())
    return PREFIX + base64.b64encode(nonce + box).decode("ascii")


def unseal(key: bytes, stored: str, place: str) -> str:
    """The secret in `stored`: opened if sealed, as it is if legacy plaintext. Raises
    Unsealable when a sealed value does not open with this key for this place."""
    if not is_sealed(stored):
        return stored
    try:
        raw = base64.b64decode(stored[len(PREFIX):].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise Unsealable(f"the sealed value of {place} is damaged (not base64)") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise Unsealable(f"the sealed value of {place} is damaged (too short)")
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], place.encode())
    except InvalidTag:
        raise Unsealable(f"the sealed value of {place} does not open: it was sealed with "
                         "another secret.key, or changed in the database") from None
    try:
        return plain.decode()
    except UnicodeDecodeError:  # never for a value this module sealed
        raise Unsealable(f"the sealed value of {place} is damaged") from None
