"""Pure security helpers: PIN hashing, lockout arithmetic, API key material.

PINs are 4-6 digits, so the hash alone cannot protect them; the lockout does.
scrypt (stdlib) still makes a stolen database expensive to brute-force per user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

PIN_RE = re.compile(r"^[0-9]{4,6}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PinPolicyError(ValueError):
    pass


def check_pin_policy(pin: str) -> None:
    if not PIN_RE.match(pin):
        raise PinPolicyError("PIN must be 4 to 6 digits")
    if len(set(pin)) == 1:
        raise PinPolicyError("PIN must not be one digit repeated")


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        algo, n, salt_b64, digest_b64 = stored.split("$")
        if algo != "scrypt":
            return False
        params = dict(_SCRYPT, n=int(n))
        digest = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt_b64), **params)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    locked_until: datetime | None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def after_failure(
    state: ThrottleState, now: datetime, max_failures: int, lockout: timedelta
) -> ThrottleState:
    """Count a failure; the max_failures-th one locks for `lockout` and resets the count."""
    if state.locked_until is not None and now >= state.locked_until:
        state = ThrottleState(0, None)
    failures = state.failures + 1
    if failures >= max_failures:
        return ThrottleState(0, now + lockout)
    return ThrottleState(failures, state.locked_until)


API_KEY_PREFIX = "kir_"


def new_api_key() -> tuple[str, str, str]:
    """Return (full key shown once, short prefix kept for display, sha256 kept for lookup)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_token(key)


def hash_token(token: str) -> str:
    # A 256-bit random key needs no slow hash; SHA-256 allows an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()
