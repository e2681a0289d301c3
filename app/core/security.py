"""Pure security helpers: PIN hashing, lockout arithmetic, API key material.

PINs are 4-6 digits, so the hash alone cannot protect them: 10^4-10^6 scrypt runs
find any PIN from a copy of the database. So every hash is also keyed with a secret
pepper kept outside the database (derived from the data directory's secret.key):
``scrypt-hmac$<pepper id>$<n>$<salt>$<HMAC-SHA256(pepper, scrypt(pin, salt))>``.
A copy of the database alone gives no way to test a guess. Hashes from before the
pepper (``scrypt$<n>$<salt>$<digest>``) are wrapped in place, without the PIN, by
:func:`pepper_hash` (at start-up); the result verifies exactly like a new hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.i18n import N_, _

PIN_RE = re.compile(r"^[0-9]{4,6}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PinPolicyError(ValueError):
    pass


# The PIN pad as staff see it (templates/core/login.html): 0 sits under 8.
KEYPAD = {str(d): ((d - 1) // 3, (d - 1) % 3) for d in range(1, 10)} | {"0": (3, 1)}
# Frequent PINs that no rule below catches (years, "1004", "2001", a few names).
COMMON_PINS = frozenset({"1004", "2000", "2001", "1010", "2020", "1122", "1313", "6969",
                         "1984", "1999", "2010", "1992", "1991", "1990", "4200", "0007",
                         "8008", "1001", "5683", "7777", "9999"})


def _steps(pin: str) -> set[int]:
    return {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}


def pin_weakness(pin: str) -> str | None:
    """Why a PIN is easy to guess, or None. Refused: one digit repeated (1111), a
    sequence with a constant step, wrapping past 9 or not (1234, 4321, 7890, 2468, 1357,
    9630), a repeated block (1212, 123123) or pairs (1122), a walk over neighbouring keys
    of the PIN pad (2580, 1470, 1236, 7896, 1254), the four corners (1397) and a short
    list of frequent PINs."""
    if len(set(pin)) == 1:
        return N_("one digit repeated")
    if len(_steps(pin)) == 1 or {s % 10 for s in _steps(pin)} in ({1}, {9}):
        return N_("digits in sequence")
    if pin in (pin + pin)[1:-1] or all(pin[i] == pin[i + 1] for i in range(0, len(pin) - 1, 2)):
        return N_("a repeated pattern")
    moves = [(KEYPAD[b][0] - KEYPAD[a][0], KEYPAD[b][1] - KEYPAD[a][1])
             for a, b in zip(pin, pin[1:], strict=False)]
    if all(max(abs(dr), abs(dc)) == 1 for dr, dc in moves):
        return N_("a line or shape on the keypad")
    if set(pin) <= {"1", "3", "7", "9"} or set(pin) <= {"2", "4", "6", "8"}:
        return N_("a shape on the keypad")
    if pin in COMMON_PINS:
        return N_("one of the most used PINs")
    return None


def check_pin_policy(pin: str) -> None:
    if not PIN_RE.match(pin):
        raise PinPolicyError(_("PIN must be 4 to 6 digits"))
    weakness = pin_weakness(pin)
    if weakness:
        raise PinPolicyError(_("That PIN is easy to guess (%(why)s); choose another")
                             % {"why": _(weakness)})


LEGACY = "scrypt"  # no pepper: only ever read, and wrapped by pepper_hash
PEPPERED = "scrypt-hmac"


def pepper_id(pepper: bytes) -> str:
    """A short, non-secret name of the pepper, kept in each hash: a hash made with another
    secret file is then told apart from a wrong PIN."""
    return hashlib.sha256(b"kirana pepper id\0" + pepper).hexdigest()[:8]


def _keyed(pepper: bytes, digest: bytes) -> bytes:
    return hmac.new(pepper, digest, hashlib.sha256).digest()


def hash_pin(pin: str, pepper: bytes) -> str:
    """Hash a PIN or password (scrypt, then keyed with the pepper)."""
    if not pepper:
        raise ValueError("a pepper is needed to hash a PIN")
    salt = secrets.token_bytes(16)
    digest = _keyed(pepper, hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT))
    b64 = base64.b64encode
    return (f"{PEPPERED}${pepper_id(pepper)}${_SCRYPT['n']}${b64(salt).decode()}$"
            f"{b64(digest).decode()}")


def legacy_hash_pin(pin: str) -> str:
    """The hash without pepper, as made before it existed (tests and the dummy hash)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return f"{LEGACY}${_SCRYPT['n']}${b64(salt).decode()}${b64(digest).decode()}"


def needs_pepper(stored: str) -> bool:
    return stored.startswith(LEGACY + "$")


def pepper_hash(stored: str, pepper: bytes) -> str:
    """Wrap a pre-pepper hash: HMAC its scrypt digest with the pepper (no PIN needed)."""
    algo, n, salt_b64, digest_b64 = stored.split("$")
    if algo != LEGACY:
        raise ValueError("not a pre-pepper hash")
    digest = _keyed(pepper, base64.b64decode(digest_b64))
    return (f"{PEPPERED}${pepper_id(pepper)}${int(n)}${salt_b64}$"
            f"{base64.b64encode(digest).decode()}")


def made_with_other_pepper(stored: str, pepper: bytes) -> bool:
    parts = stored.split("$")
    return parts[0] == PEPPERED and len(parts) == 5 and parts[1] != pepper_id(pepper)


def verify_pin(pin: str, stored: str, pepper: bytes) -> bool:
    try:
        parts = stored.split("$")
        if parts[0] == PEPPERED and len(parts) == 5:
            _algo, pid, n, salt_b64, digest_b64 = parts
            params = dict(_SCRYPT, n=int(n))
            digest = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt_b64), **params)
            if pid != pepper_id(pepper):
                return False
            digest = _keyed(pepper, digest)
        elif parts[0] == LEGACY and len(parts) == 4:
            _algo, n, salt_b64, digest_b64 = parts
            params = dict(_SCRYPT, n=int(n))
            digest = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt_b64), **params)
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    locked_until: datetime | None
    strikes: int = 0  # lockouts in a row: each one lasts twice as long as the one before

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def after_failure(
    state: ThrottleState, now: datetime, max_failures: int, lockout: timedelta,
    max_lockout: timedelta | None = None,
) -> ThrottleState:
    """Count a failure; the max_failures-th one locks for `lockout` x 2^strikes (at most
    `max_lockout`) and resets the count: 5 min, 10, 20, 40 … for a guesser who keeps
    going, where a fixed lock would allow max_failures guesses every `lockout`."""
    if state.locked_until is not None and now >= state.locked_until:
        state = ThrottleState(0, None, state.strikes)
    failures = state.failures + 1
    if failures >= max_failures:
        seconds = lockout.total_seconds() * 2 ** min(state.strikes, 20)
        if max_lockout is not None:
            seconds = min(seconds, max(max_lockout.total_seconds(), lockout.total_seconds()))
        return ThrottleState(0, now + timedelta(seconds=seconds), state.strikes + 1)
    return ThrottleState(failures, state.locked_until, state.strikes)


class TokenBucket:
    """At most `rate` events a second on average, `burst` at once (in-process)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), 0.0

    def take(self, now: float) -> bool:
        if self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def device_hash(device_key: str) -> str:
    """Throttle and trust rows name a device by a hash of its cookie: fixed length
    whatever the cookie, and the cookie itself is not in the database."""
    return hashlib.sha256(device_key.encode("utf-8", "replace")).hexdigest()[:32]


def request_activity(headers, now: float) -> float | None:
    """When this request says the person last used the device (epoch seconds), or None
    for a background request. A page load or form post is use; an htmx request reports
    the seconds since the last touch, key or scan (X-Kirana-Idle-Seconds, set by
    app.js), so a page polling every few seconds does not keep an unused till signed
    in; an event stream or a script's fetch is not use."""
    if headers.get("hx-request") == "true":
        raw = headers.get("x-kirana-idle-seconds", "")
        if not raw or len(raw) > 9 or not raw.isdigit():
            return None
        return now - int(raw)
    if "text/html" in headers.get("accept", ""):
        return now
    return None


def session_expiry(seen: float, since: float, now: float, idle_seconds: int,
                   max_seconds: int) -> str | None:
    """Why a session has ended ("idle", "age"), or None while it is still good."""
    if now - since > max_seconds:
        return "age"
    if now - seen > idle_seconds:
        return "idle"
    return None


API_KEY_PREFIX = "kir_"


def new_api_key() -> tuple[str, str, str]:
    """Return (full key shown once, short prefix kept for display, sha256 kept for lookup)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_token(key)


def hash_token(token: str) -> str:
    # A 256-bit random key needs no slow hash; SHA-256 allows an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()
