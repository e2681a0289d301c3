"""Who may do what: staff logins by PIN, machine API keys, and route guards.

Every route declares its roles with ``guards=[requires(...)]`` (people),
``guards=[api_access(...)]`` (machines and people), or ``opt=PUBLIC`` for the
few public routes. ``tests/integration/test_security.py`` walks the route table
and fails on any route that does none of these.

Role ladder: admin may do everything; a manager may also do cashier and picker
work (they cover the till at lunch); cashier and picker are separate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import Row, bindparam, delete, or_, select

from app.config import ConfigFile
from app.core import audit
from app.core.clock import utcnow
from app.core.db import AnyDatabase, Session, dialect_name, rowcount
from app.core.i18n import _, ngettext
from app.core.models import ROLES, ApiKey, AuditLog, LoginThrottle, TrustedDevice, User
from app.core.prepared import Prepared
from app.core.security import (
    ThrottleState,
    TokenBucket,
    after_failure,
    check_pin_policy,
    device_hash,
    hash_pin,
    hash_token,
    legacy_hash_pin,
    made_with_other_pepper,
    needs_pepper,
    new_api_key,
    pepper_hash,
    request_activity,
    session_expiry,
    verify_pin,
)

log = logging.getLogger("kirana.auth")

PUBLIC: dict[str, Any] = {"public": True}
KEY_TOUCH_EVERY = timedelta(minutes=1)  # an API key's last_used_at is written this often
SESSION_USER = "user"
API_SCOPES = ("catalog:read", "stock:read", "orders:write", "orders:read", "metrics")


def valid_channel(name: str) -> bool:
    return 0 < len(name) <= 40 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)


def role_allows(role: str, allowed: tuple[str, ...]) -> bool:
    if role == "admin":
        return True
    if role == "manager" and any(r in allowed for r in ("manager", "cashier", "picker")):
        return True
    return role in allowed


@dataclass(frozen=True)
class StaffUser:
    id: str
    name: str
    role: str
    language: str = ""  # their own choice (app/core/i18n.py); "" = the device's or store's


@dataclass(frozen=True)
class Machine:
    key_id: str
    name: str
    scope: str
    channel: str = "local"  # the only channel whose orders it may touch (issue #13 item 1)


class NotLoggedIn(NotAuthorizedException):
    """Raised for pages; the app turns it into a redirect to /login."""


SIGNED_OUT = "kirana_signed_out"  # scope state: why the session just ended ("idle", "age")
IDLE_LIMIT = "kirana_idle_seconds"  # scope state: the signed-in role's idle limit
SEEN_STEP = 15  # seconds: last use is written back at most this often (a session write)


# ---- who is asking, cheaply (issue #15) ----------------------------------------------
# Every guarded request re-reads its user (or API key) row, so a deactivation, a role
# change or a revoked key bites at the very next request, whoever made it: this process,
# the `kirana` CLI or the hub. On SQLite the row is kept with the database's
# PRAGMA data_version (core/db.Database.data_version, a few microseconds), which changes
# whenever any other connection commits: an unchanged version means an unchanged row;
# any write anywhere reads the row again. The PostgreSQL hub's version (hub/db.py
# PgDatabase.data_version) moves on a NOTIFY from a trigger on users and api_keys, on
# its own writes and every few seconds; None (its LISTEN link is down): every request reads.

# Built once, with a bound parameter: building and caching a statement per request costs more
# than the read.
# Prepared (core/prepared.py): on SQLite the read runs on a pooled sqlite3 connection,
# ~25 us against ~140 us through SQLAlchemy's Connection; during a till rush every scan
# writes, so nearly every request reads its user again.
USER_ROW = Prepared(select(User.id, User.name, User.role, User.active, User.pin_hash,
                           User.totp_secret, User.language).where(User.id == bindparam("ident")))
KEY_ROW = Prepared(select(ApiKey.id, ApiKey.name, ApiKey.scope, ApiKey.channel,
                          ApiKey.last_used_at, ApiKey.revoked_at)
                   .where(ApiKey.key_hash == bindparam("ident")))
ROW_CACHE_LIMIT = 1000  # rows kept per database; cleared whole when full


async def fresh_user(db: AnyDatabase, user_id: str) -> Any | None:
    """The user's row as the database has it now (one indexed read, or none): a named
    tuple of USER_ROW's columns."""
    return await _fresh_row(db, ("user", user_id[:36]), USER_ROW)


async def fresh_key(db: AnyDatabase, key_hash: str) -> Any | None:
    """The API key row with this hash as the database has it now; unknown hashes are
    never kept (a flood of wrong keys cannot grow the cache)."""
    return await _fresh_row(db, ("key", key_hash), KEY_ROW)


async def _fresh_row(db: AnyDatabase, ident: tuple[str, str], statement: Prepared
                     ) -> Any | None:
    watch = getattr(db, "data_version", None)
    version = watch() if watch is not None else None  # read BEFORE the row: never newer
    cache: dict[tuple[str, str], tuple[object, Any]] | None = getattr(db, "_row_cache", None)
    if cache is None:
        cache = {}
        db._row_cache = cache  # type: ignore[attr-defined]  # one per database, made lazily
    if version is not None:
        kept = cache.get(ident)
        if kept is not None and kept[0] == version:
            return kept[1]
    engine = getattr(db, "read_engine", None) if getattr(db, "dialect", "") == "sqlite" else None
    if engine is not None:  # SQLite: a prepared read, no ORM Session, no transaction
        row = statement.first_outside(engine, {"ident": ident[1]})
    else:
        async with db.read() as s:
            row = await statement.first(s, {"ident": ident[1]})
    if version is not None and row is not None:
        if len(cache) >= ROW_CACHE_LIMIT:
            cache.clear()
        cache[ident] = (version, row)
    return row


def new_session(user: StaffUser) -> dict[str, Any]:
    """What a session holds after sign-in: who, and when (for the age and idle limits)."""
    now = utcnow().timestamp()
    return {SESSION_USER: {"id": user.id, "name": user.name, "role": user.role,
                           "since": now, "seen": now}}


async def session_user(connection: ASGIConnection) -> StaffUser | None:
    """The logged-in user, re-checked against the database (deactivation bites at once,
    see fresh_user).
    A session unused for the role's idle limit, or older than session_hours, ends here:
    the device is signed out (issue #13 item 11)."""
    state = connection.scope.setdefault("state", {})
    cached = state.get("kirana_user")
    if cached is not None:
        return cached
    data = connection.session.get(SESSION_USER) if "session" in connection.scope else None
    if not data or not isinstance(data, dict):
        return None
    user_id = data.get("id")
    user = await fresh_user(connection.app.state.db, user_id) if isinstance(
        user_id, str) else None
    if user is None or not user.active:
        return None
    security = connection.app.state.cfg.security
    idle = security.idle_minutes.seconds(user.role)
    now = utcnow().timestamp()
    since, seen = data.get("since"), data.get("seen")
    if not isinstance(since, int | float) or not isinstance(seen, int | float):
        since = seen = now  # a session from before these limits: count from now
    ended = session_expiry(seen, since, now, idle, security.session_hours * 3600)
    mark = credential_mark(user)
    if data.get("cred", mark) != mark:  # PIN, password or authenticator key reset since
        connection.clear_session()
        return None
    if ended:
        connection.clear_session()  # the backend deletes it and clears the cookie
        state[SIGNED_OUT] = ended
        return None
    activity = request_activity(connection.headers, now)
    if activity is not None and activity - seen >= SEEN_STEP or "seen" not in data or (
            "cred" not in data):
        connection.scope["session"] = {
            **connection.session,
            SESSION_USER: {**data, "since": since, "seen": max(seen, min(activity or now, now)),
                           "cred": mark},
        }
    staff = StaffUser(user.id, user.name, user.role, user.language)
    state["kirana_user"] = staff
    state[IDLE_LIMIT] = idle
    return staff


def credential_mark(user: User | Row[*tuple[Any, ...]]) -> str:
    """A session remembers the credentials it was opened with (stamped at its first
    request): a PIN, password or authenticator key reset since then ends it (ASVS 3.3.3)."""
    secret = f"{user.pin_hash}|{getattr(user, 'totp_secret', None) or ''}"
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


async def restamp_session(connection: ASGIConnection) -> None:
    """After one's own PIN or password change: this session goes on, the others end."""
    data = connection.session.get(SESSION_USER)
    if not isinstance(data, dict):
        return
    async with connection.app.state.db.read() as s:
        user = await s.get(User, data.get("id"))
    if user is not None:
        connection.scope["session"] = {**connection.session,
                                       SESSION_USER: {**data, "cred": credential_mark(user)}}


def requires(*roles: str):
    """Guard for pages and form posts: a logged-in user with one of `roles`."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        user = await session_user(connection)
        if user is None:
            ended = connection.scope.get("state", {}).get(SIGNED_OUT)
            raise NotLoggedIn("Signed out after a time without use" if ended else "Please sign in")
        if not role_allows(user.role, roles):
            raise PermissionDeniedException(
                f"{user.name} ({user.role}) may not open this page; ask a " + " or ".join(roles)
            )

    # A function's own attribute (mypy knows none): tests find every guarded route by it.
    guard.kirana_roles = roles  # type: ignore[attr-defined]  # read by the route-table walk
    return guard


async def machine_from_bearer(connection: ASGIConnection) -> Machine | None:
    header = connection.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    token = header[7:].strip()
    db: AnyDatabase = connection.app.state.db
    key = await fresh_key(db, hash_token(token))
    if key is None or key.revoked_at is not None:
        raise NotAuthorizedException("API key unknown or revoked")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= KEY_TOUCH_EVERY:
        async with db.write() as s:  # last use, shown on the keys page; once a minute
            row = await s.get(ApiKey, key.id)
            if row is not None:
                row.last_used_at = now
    return Machine(key.id, key.name, key.scope, key.channel)


def api_access(scope: str, *roles: str, also: tuple[str, ...] = ()):
    """Guard for /api/v1: a bearer API key with `scope` (or one of `also`), or
    (read-only requests) a logged-in user with one of `roles`. Writes need a key: the
    API is exempt from CSRF, so a browser session alone must never change anything
    through it."""
    if scope not in API_SCOPES or not set(also) <= set(API_SCOPES):
        raise ValueError(f"unknown API scope {scope}")

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        machine = await machine_from_bearer(connection)
        if machine is not None:
            if machine.scope not in (scope, *also, "all"):
                raise PermissionDeniedException(f"this API key lacks scope {scope}")
            connection.scope.setdefault("state", {})["kirana_machine"] = machine
            return
        if connection.scope.get("method", "GET") not in ("GET", "HEAD") or not roles:
            raise NotAuthorizedException("send Authorization: Bearer <API key>")
        user = await session_user(connection)
        if user is None:
            raise NotAuthorizedException("sign in or send Authorization: Bearer <API key>")
        if not role_allows(user.role, roles):
            raise PermissionDeniedException(f"role {user.role} may not use this")

    # A function's own attributes (mypy knows none): tests find every guarded route by them.
    guard.kirana_roles = roles  # type: ignore[attr-defined]  # read by the route-table walk
    guard.kirana_scope = scope  # type: ignore[attr-defined]  # read by the route-table walk
    return guard


# ---- use cases --------------------------------------------------------------


class LoginError(Exception):
    def __init__(self, message: str, locked_seconds: int = 0) -> None:
        super().__init__(message)
        self.locked_seconds = locked_seconds


async def _throttle(s: Session, key: str, now) -> LoginThrottle:
    # Locked for the transaction: tries at once (or from several hub processes) must each
    # count, not read one count and write it back. SQLite writers are serial anyway.
    if dialect_name(s) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        await s.execute(insert(LoginThrottle).values(
            key=key, failures=0, locked_until=None, strikes=0, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["key"]))
    row = await s.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, locked_until=None, strikes=0)
        s.add(row)
    elif row.updated_at is not None and now - row.updated_at > QUIET_RESET and not (
            row.locked_until and now < row.locked_until):
        row.failures, row.strikes = 0, 0  # a day without trouble: start afresh
    row.updated_at = now
    return row


QUIET_RESET = timedelta(days=1)
PRUNE_EVERY = 60.0  # seconds between prunes of old throttle and audit rows
FAILED_AUDIT_DAYS = 90


@dataclass(frozen=True)
class Attempt:
    """Who is trying, from where: the throttle rows one sign-in attempt counts against.

    - ``device:<hash of the device cookie>`` and ``source:<address>``: a guesser who
      throws away cookies still comes from an address;
    - ``user:<id>`` for a sign-in: when it locks, it locks the account only for devices
      the user has never signed in on, so a stranger cannot lock staff out of their own
      tills or HQ laptops;
    - ``approve:<id of the user asking>`` for a manager's PIN typed into someone else's
      screen: the cashier's own tries are limited, the manager's account is never locked
      from the approval box."""

    device: str
    source: str
    user_key: str | None
    trusted: bool = False

    @property
    def keys(self) -> list[str]:
        keys = [f"device:{self.device}"] + ([f"source:{self.source}"] if self.source else [])
        if self.user_key and self.user_key.startswith("user:"):
            # The account on this device: locks even a device the user trusts, and only
            # this user's own sign-in clears it (another's sign-in clears the device row).
            keys.append(f"userdev:{self.user_key[5:]}@{self.device}")
        return keys + ([self.user_key] if self.user_key else [])


def _rate_limiter(db: AnyDatabase, cfg: ConfigFile) -> TokenBucket:
    bucket = getattr(db, "_signin_bucket", None)
    if bucket is None or bucket.rate != cfg.security.signins_per_second:
        rate = cfg.security.signins_per_second
        bucket = TokenBucket(rate, burst=max(1, int(rate * 2)))
        db._signin_bucket = bucket  # type: ignore[attr-defined]  # one per database, made lazily
    return bucket


def check_rate(db: AnyDatabase, cfg: ConfigFile) -> None:
    """The global limit on sign-in checks (issue #13 item 8): refused before any
    database read or hash, so a flood costs almost nothing."""
    if not _rate_limiter(db, cfg).take(time.monotonic()):
        raise LoginError("The server is busy with sign-ins. Try again in a few seconds.", 5)


def _is_trustable(device_key: str) -> bool:
    return bool(device_key) and not device_key.startswith("ip-")


async def _attempt(s: Session, user: User | None, device_key: str, source: str,
                   action: str, requester_id: str | None) -> Attempt:
    device = device_hash(device_key)
    if action == "approve":
        return Attempt(device, source, f"approve:{requester_id}" if requester_id else None)
    if user is None:
        return Attempt(device, source, None)
    trusted = _is_trustable(device_key) and (
        await s.get(TrustedDevice, (user.id, device)) is not None)
    return Attempt(device, source, f"user:{user.id}", trusted)


async def authenticate(
    db: AnyDatabase,
    cfg: ConfigFile,
    user_id: str,
    pin: str,
    device_key: str,
    action: str = "login",
    what: str = "PIN",
    *,
    source: str = "",
    requester_id: str | None = None,
    hide_unknown: bool = False,
    unknown_as: str = "",
) -> StaffUser:
    """Check a PIN (or the hub's password). Failures are counted per device, per source
    address and per user (see Attempt); each lockout in a row lasts twice as long.

    Cheap checks come first (issue #13 item 8): a malformed attempt, a locked one and,
    at a store, an unknown or inactive user id (the store's sign-in page lists its staff,
    so there is nothing to hide) are refused before any hash is computed; then the global
    rate (check_rate). Only then scrypt, which costs tens of milliseconds and 16 MB on
    purpose, in a worker thread with no transaction open. `hide_unknown` (the hub, whose
    users are not listed) checks a dummy hash for an unknown name so it takes as long;
    `unknown_as` names the throttle row an unknown name counts on, so it locks like a
    user's and a lock does not tell which names are users."""
    if len(pin) > 128 or len(user_id) > 36:
        raise LoginError(_wrong(what))
    now = utcnow()
    async with db.read() as s:
        user = await s.get(User, user_id) if user_id else None
        attempt = await _attempt(s, user, device_key, source, action, requester_id)
        if user is None and unknown_as and action != "approve":
            attempt = Attempt(attempt.device, attempt.source, f"user:{unknown_as}")
        _raise_if_locked([await s.get(LoginThrottle, k) for k in attempt.keys], now, attempt)
    if (user is None or not user.active) and not hide_unknown:
        await _count_failure(db, cfg, attempt, None, action, device_key, source, what,
                             message="Tap your name first.")
    if not attempt.trusted:  # a device the user signed in on before is not held up by a flood
        check_rate(db, cfg)
    pepper = pepper_of(db)
    stored = user.pin_hash if user is not None and user.active else DUMMY_PIN_HASH
    ok = await asyncio.to_thread(verify_pin, pin, stored, pepper) and stored is not DUMMY_PIN_HASH
    if not ok and user is not None and made_with_other_pepper(stored, pepper):
        log.warning("%s's PIN hash was made with another secret file than this server's: "
                    "restore the data directory's secret.key or reset the PIN", user.name)
    now = utcnow()
    if ok:
        assert user is not None  # only a real user's hash matches (not DUMMY_PIN_HASH)
        async with db.write() as s:
            rows = [await _throttle(s, k, now) for k in attempt.keys]
            _raise_if_locked(rows, now, attempt)  # another attempt may have locked it
            if action != "password":  # the hub's first step: only its code completes sign-in
                clear_failures(rows)
            row = await s.get(User, user.id)
            if row is not None:
                if action == "login":
                    row.last_login_at = now
                if needs_pepper(stored) and row.pin_hash == stored:
                    row.pin_hash = pepper_hash(stored, pepper)
            if action == "login":
                await trust_device(s, user.id, device_key, now)
            audit.record(s, action, _where(device_key, source), user=user.id, at=now)
            return StaffUser(user.id, user.name, user.role)
    await _count_failure(db, cfg, attempt, user.id if user else None, action, device_key,
                         source, what)
    raise AssertionError("unreachable")


def clear_failures(rows: list[LoginThrottle]) -> None:
    """A completed sign-in clears the counts of its attempt's rows."""
    for r in rows:
        if r.key.startswith("source:"):
            r.failures = 0  # an address shared by a whole shop keeps its strikes
        else:
            r.failures, r.locked_until, r.strikes = 0, None, 0


async def clear_failures_of(s: Session, user: User, device_key: str, source: str,
                            now) -> None:
    """clear_failures for a sign-in completed by a second step (the hub's code)."""
    attempt = await _attempt(s, user, device_key, source, "login", None)
    clear_failures([await _throttle(s, k, now) for k in attempt.keys])


async def trust_device(s: Session, user_id: str, device_key: str, now) -> None:
    """Remember that the user signed in on this device (a real device cookie only)."""
    if not _is_trustable(device_key):
        return
    device = device_hash(device_key)
    row = await s.get(TrustedDevice, (user_id, device))
    if row is None:
        s.add(TrustedDevice(user_id=user_id, device_hash=device, last_used_at=now))
    else:
        row.last_used_at = now


def _where(device_key: str, source: str) -> str:
    return f"device {device_hash(device_key)[:8]}" + (f" from {source[:45]}" if source else "")


async def _count_failure(db: AnyDatabase, cfg: ConfigFile, attempt: Attempt,
                         user_id: str | None, action: str, device_key: str, source: str,
                         what: str, message: str = "") -> None:
    """Count a failed try on every row of the attempt, then raise LoginError."""
    sec = cfg.security
    lockout, most = timedelta(seconds=sec.lockout_seconds), timedelta(
        seconds=sec.max_lockout_seconds)
    now = utcnow()
    newly_locked = 0
    async with db.write() as s:
        for r in [await _throttle(s, k, now) for k in attempt.keys]:
            if r.key == attempt.user_key and attempt.trusted and r.locked_until and (
                    now < r.locked_until):
                continue  # a trusted device tried while strangers had locked the account
            state = after_failure(ThrottleState(r.failures, r.locked_until, r.strikes or 0),
                                  now, sec.pin_max_failures, lockout, most)
            if (state.locked_until is not None and state.is_locked(now)
                    and not (r.locked_until and now < r.locked_until)):
                newly_locked = max(newly_locked,
                                   int((state.locked_until - now).total_seconds()))
            r.failures, r.locked_until, r.strikes = (state.failures, state.locked_until,
                                                     state.strikes)
        audit.record(s, f"{action}_failed",
                     _where(device_key, source) + (" locked" if newly_locked else ""),
                     user=user_id, at=now)
    await _maybe_prune(db, now)
    if newly_locked:
        raise LoginError(_too_many(newly_locked), newly_locked)
    raise LoginError(message or _wrong(what))


async def record_failure(db: AnyDatabase, cfg: ConfigFile, user_id: str, device_key: str,
                         action: str, *, source: str = "", what: str = "code") -> None:
    """Count a failed second step (a TOTP code) like a wrong password; raises LoginError."""
    async with db.read() as s:
        user = await s.get(User, user_id) if user_id else None
        attempt = await _attempt(s, user, device_key, source, "login", None)
    await _count_failure(db, cfg, attempt, user_id or None, action, device_key, source, what)


async def check_not_locked(db: AnyDatabase, user_id: str, device_key: str,
                           source: str = "") -> None:
    async with db.read() as s:
        user = await s.get(User, user_id) if user_id else None
        attempt = await _attempt(s, user, device_key, source, "login", None)
        _raise_if_locked([await s.get(LoginThrottle, k) for k in attempt.keys], utcnow(),
                         attempt)


def _raise_if_locked(rows: Sequence[LoginThrottle | None], now, attempt: Attempt) -> None:
    locked = [r for r in rows if r is not None and r.locked_until and now < r.locked_until]
    if attempt.trusted:  # strangers' guesses lock neither the account nor a shared address
        locked = [r for r in locked if r.key != attempt.user_key
                  and not r.key.startswith("source:")]
    if not locked:
        return
    wait = max(int((r.locked_until - now).total_seconds()) + 1 for r in locked)
    if all(r.key == attempt.user_key for r in locked) and not (
            attempt.user_key or "").startswith("approve:"):
        raise LoginError(
            "Too many wrong tries for this account from other devices. Sign in on a "
            f"device you have used before, ask an admin to clear the lock, or try again in "
            f"{_minutes(wait)}.", wait)
    raise LoginError(_too_many(wait), wait)


_last_prune: dict[int, float] = {}


async def _maybe_prune(db: AnyDatabase, now) -> None:
    """Keep the throttle and audit tables bounded under a flood: at most once a minute,
    drop throttle rows untouched for a day and not locked, and failed sign-ins older than
    FAILED_AUDIT_DAYS (successes and every other audit row stay)."""
    tick = time.monotonic()
    if tick - _last_prune.get(id(db), 0.0) < PRUNE_EVERY:
        return
    _last_prune[id(db)] = tick
    await prune_sign_in_rows(db, now)


async def prune_sign_in_rows(db: AnyDatabase, now) -> tuple[int, int]:
    async with db.write() as s:
        stale = now - QUIET_RESET
        throttles = await s.execute(delete(LoginThrottle).where(
            or_(LoginThrottle.updated_at.is_(None), LoginThrottle.updated_at < stale),
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))
        audits = await s.execute(delete(AuditLog).where(
            AuditLog.action.like("%_failed"),
            AuditLog.at < now - timedelta(days=FAILED_AUDIT_DAYS)))
    return rowcount(throttles), rowcount(audits)


# Checked when the user is unknown or inactive, so a wrong name costs the same time.
DUMMY_PIN_HASH = legacy_hash_pin("000000")


class NoPepper(RuntimeError):
    pass


def pepper_of(db: AnyDatabase) -> bytes:
    """The secret PIN hashes are keyed with (see core/secret_file.py)."""
    pepper = getattr(db, "pepper", None)
    if not pepper:
        raise NoPepper("database opened without its install's secret file "
                       "(core.secret_file.attach_pepper)")
    return pepper


async def pepper_existing_hashes(db: AnyDatabase) -> int:
    """The migration path for hashes made before the pepper: wrap each in place (an HMAC
    of its scrypt digest, no PIN needed), so no unpeppered hash stays in the database.
    Run at every start; returns how many were wrapped."""
    pepper = pepper_of(db)
    async with db.write() as s:
        rows = list(await s.scalars(select(User).where(User.pin_hash.like("scrypt$%"))))
        for row in rows:
            row.pin_hash = pepper_hash(row.pin_hash, pepper)
        if rows:
            audit.record(s, "pins_peppered",
                         f"{len(rows)} PIN hashes keyed with the secret file")
    if rows:
        log.info("keyed %d PIN hashes made before the pepper with the secret file", len(rows))
    return len(rows)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)d second", "%(num)d seconds", seconds) % {"num": seconds}
    minutes = -(-seconds // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes}


def _wrong(what: str) -> str:
    """The sign-in error, in the request's language (a store's PIN; the hub's English)."""
    return _("Wrong PIN. Try again.") if what == "PIN" else f"Wrong {what}. Try again."


def _too_many(wait: int) -> str:
    return _("Too many wrong tries. Try again in %(wait)s.") % {"wait": _minutes(wait)}


async def create_user(db: AnyDatabase, name: str, role: str, pin: str) -> User:
    name = name.strip()
    if not name:
        raise ValueError("name must not be empty")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_pin_policy(pin)
    async with db.write() as s:
        if await s.scalar(select(User).where(User.name == name)):
            raise ValueError(f"a user named {name!r} already exists")
        user = User(name=name, role=role, pin_hash=hash_pin(pin, pepper_of(db)), active=True,
                    created_at=utcnow())
        s.add(user)
    return user


async def create_api_key(db: AnyDatabase, name: str, scope: str, *, channel: str = "local"
                         ) -> tuple[ApiKey, str]:
    """A key bound to `channel`: it may post, read and cancel only that channel's orders."""
    if scope not in (*API_SCOPES, "all"):
        raise ValueError(f"scope must be one of {', '.join((*API_SCOPES, 'all'))}")
    if not valid_channel(channel):
        raise ValueError("channel: 1 to 40 letters, digits, - _ . (e.g. webshop or local)")
    full, prefix, digest = new_api_key()
    async with db.write() as s:
        if await s.scalar(select(ApiKey).where(ApiKey.name == name)):
            raise ValueError(f"an API key named {name!r} already exists")
        key = ApiKey(name=name, scope=scope, channel=channel, prefix=prefix, key_hash=digest,
                     created_at=utcnow())
        s.add(key)
    return key, full


async def list_login_users(db: AnyDatabase) -> list[User]:
    async with db.read() as s:
        return list(await s.scalars(select(User).where(User.active).order_by(User.name)))


async def verify_approver(
    db: AnyDatabase, cfg: ConfigFile, user_id: str, pin: str, device_key: str, *,
    requester_id: str | None = None, source: str = "",
) -> StaffUser:
    """A manager approving a step on someone else's screen. Wrong PINs count against the
    device, its address and the user asking (growing lockouts, as at sign-in), never
    against the manager: a cashier cannot lock a manager out through the approval box.
    Only a manager's PIN is checked: a cashier's own PIN that checked out here cleared
    the count, and the guessing of the manager's PIN went on without end."""
    async with db.read() as s:
        chosen = await s.get(User, user_id[:36]) if user_id else None
    if chosen is not None and not role_allows(chosen.role, ("manager",)):
        raise LoginError(f"{chosen.name} is not a manager; ask a manager to approve")
    approver = await authenticate(db, cfg, user_id, pin, device_key, action="approve",
                                  requester_id=requester_id, source=source)
    if not role_allows(approver.role, ("manager",)):
        raise LoginError(f"{approver.name} is not a manager; ask a manager to approve")
    return approver


async def list_approvers(db: AnyDatabase) -> list[User]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(User)
                .where(User.active, User.role.in_(("manager", "admin")))
                .order_by(User.name)
            )
        )


# ---- sign-in locks, for admins (issue #13 item 7) ---------------------------------------


@dataclass(frozen=True)
class LockView:
    key: str
    what: str  # "Meena (manager)", "device 3f2a9c1b", "address 10.0.0.23", "approvals by Asha"
    failures: int
    locked_until: Any
    strikes: int


async def list_locks(db: AnyDatabase) -> list[LockView]:
    """Throttle rows that are locked now or have failures counting towards a lock."""
    now = utcnow()
    async with db.read() as s:
        rows = list(await s.scalars(
            select(LoginThrottle).where(or_(LoginThrottle.locked_until > now,
                                            LoginThrottle.failures > 0))
            .order_by(LoginThrottle.locked_until.desc(), LoginThrottle.key).limit(500)))
        names = {u.id: u for u in await s.scalars(select(User))}
    views = []
    for r in rows:
        kind, _, ident = r.key.partition(":")
        ident, _, on_device = ident.partition("@")
        user = names.get(ident)
        if kind == "userdev":
            what = f"{user.name if user else 'a removed user'} on device {on_device[:8]}"
        elif kind == "user":
            what = f"{user.name} ({user.role})" if user else (
                "a name that is no user" if ident.startswith("name-") else "a removed user")
        elif kind == "approve":
            what = f"manager approvals asked by {user.name if user else 'a removed user'}"
        elif kind == "device":
            what = f"device {ident[:8]}"
        else:
            what = f"address {ident}"
        locked = r.locked_until if r.locked_until and r.locked_until > now else None
        views.append(LockView(r.key, what, r.failures, locked, r.strikes or 0))
    return views


async def clear_lock(db: AnyDatabase, key: str, by: StaffUser) -> bool:
    """An admin clears a lock (and its count and strikes); written to the audit log."""
    async with db.write() as s:
        row = await s.get(LoginThrottle, key[:80])
        if row is None:
            return False
        await s.delete(row)
        audit.record(s, "lock_cleared", key[:200], user=by)
    return True
