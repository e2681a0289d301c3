"""Hub accounts: a name and a password, and a TOTP code (RFC 6238) for every hub user
(the hub's roles are manager and admin, and it is reachable from the internet).

Sign-in is two steps. The password is checked with the same throttle as store PINs
(core/auth.authenticate); then the code. A code is good once: the time step it belongs
to is kept and a code of that step or an earlier one is refused (a code seen over a
shoulder or replayed from a log does not work). A user who has never given a code is
shown the secret as a QR code to enrol, and the first good code confirms it.

TOTP keys (and channels' webhook secrets) are sealed at rest with a key derived from the
secret file (hub/sealing.py): a copy of the database alone does not give the second
factor.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime

import pyotp
from sqlalchemy import func, select

from app.config import HubConfig
from app.core import audit, auth
from app.core.auth import LoginError, StaffUser
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.models import User
from app.core.passwords import MAX_LENGTH, check_password_policy
from app.core.security import hash_pin
from app.hub import sealing
from app.hub.db import HubDatabase

log = logging.getLogger("kirana.hub")

HUB_ROLES = ("manager", "admin")
TOTP_ROLES = ("manager", "admin")
ISSUER = "Kirana hub"
STEP = 30  # seconds per TOTP code
PENDING_SECONDS = 300  # the code must follow the password within this


def needs_code(cfg: HubConfig, role: str) -> bool:
    return cfg.security.require_totp and role in TOTP_ROLES


async def create_hub_user(db: HubDatabase, name: str, role: str,
                          password: str) -> tuple[User, str | None]:
    """Add a hub user; returns the user and, for roles that need one, the TOTP secret
    (base32, 160 bits) to enrol in an authenticator app."""
    name = name.strip()
    if not name or len(name) > 60:
        raise ValueError("name must be 1 to 60 characters")
    if role not in HUB_ROLES:
        raise ValueError(f"role must be one of {', '.join(HUB_ROLES)}")
    check_password_policy(password, name)
    secret = pyotp.random_base32(32) if role in TOTP_ROLES else None
    digest = await asyncio.to_thread(hash_pin, password, auth.pepper_of(db))
    async with db.write() as s:
        if await s.scalar(select(User).where(func.lower(User.name) == name.lower())):
            raise ValueError(f"a user named {name!r} already exists")
        user_id = uuid7()
        user = User(id=user_id, name=name, role=role, pin_hash=digest, active=True,
                    created_at=utcnow(),
                    totp_secret=sealing.seal_totp(db, user_id, secret) if secret else None)
        s.add(user)
    return user, secret


def provisioning_uri(name: str, secret: str, hub_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=f"{ISSUER} {hub_name}")


async def user_name(db: HubDatabase, user_id: str) -> str | None:
    """The name of the user with this id (active or not), or None."""
    async with db.read() as s:
        return await s.scalar(select(User.name).where(User.id == user_id[:36]))


async def user_id_by_name(db: HubDatabase, name: str) -> str:
    """The id of the active user with this name (any case), or "" (the password check
    then runs against a dummy hash, so an unknown name takes as long)."""
    name = name.strip()
    if not name or len(name) > 60:
        return ""
    async with db.read() as s:
        return await s.scalar(select(User.id).where(func.lower(User.name) == name.lower(),
                                                    User.active)) or ""


async def check_password(db: HubDatabase, cfg: HubConfig, name: str, password: str,
                         device_key: str, source: str = "", final: bool = True) -> StaffUser:
    """First step; `final` when no code follows (then this is the sign-in)."""
    if len(password) > MAX_LENGTH:
        raise LoginError(_("Wrong name or password. Try again."))
    user_id = await user_id_by_name(db, name)
    # A name nobody has is locked like a user's, so a lock tells nothing about names.
    unknown_as = "" if user_id else "name-" + hashlib.sha256(
        name.strip().lower().encode()).hexdigest()[:24]
    try:
        return await auth.authenticate(db, cfg, user_id, password, device_key,
                                       action="login" if final else "password",
                                       what="name or password",
                                       source=source, hide_unknown=True, unknown_as=unknown_as)
    except LoginError as exc:
        if exc.locked_seconds:
            raise
        raise LoginError(_("Wrong name or password. Try again.")) from None


async def has_code_key(db: HubDatabase, user_id: str) -> bool:
    async with db.read() as s:
        user = await s.get(User, user_id)
    return bool(user and user.totp_secret)


async def enrolment(db: HubDatabase, user_id: str) -> str | None:
    """The TOTP secret to show while the user has not yet confirmed it, else None."""
    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None or user.totp_confirmed_at is not None or not user.totp_secret:
        return None
    try:
        return _open_key(db, user)
    except KeyUnreadable:
        return None  # logged; the code step then says what to do


class KeyUnreadable(LoginError):
    """The user's sealed authenticator key does not open (another secret file, or the row
    was changed): they need a new key."""


def _open_key(db: HubDatabase, user: User) -> str:
    assert user.totp_secret
    try:
        return sealing.open_totp(db, user.id, user.totp_secret)
    except sealing.Unsealable as exc:
        log.error("hub user %s: %s; give them a new key (kirana hub reset-totp %s)",
                  user.name, exc, user.name)
        raise KeyUnreadable(_("This hub cannot read your authenticator key. Ask an admin "
                              "to give you a new one (kirana hub reset-totp), then enrol "
                              "again.")) from None


def _step_of(code: str, secret: str, now: float) -> int | None:
    """The time step (now-1, now or now+1: 30 s of clock drift) whose code this is."""
    totp = pyotp.TOTP(secret)
    here = int(now // STEP)
    for step in (here, here - 1, here + 1):
        if totp.generate_otp(step) == code:
            return step
    return None


async def check_code(db: HubDatabase, cfg: HubConfig, user_id: str, code: str,
                     device_key: str, source: str = "") -> StaffUser:
    """Second step. A wrong, malformed or already used code counts as a failed sign-in
    for the user, the device and the address (the same lockout as passwords)."""
    code = code.strip().replace(" ", "")[:12]
    await auth.check_not_locked(db, user_id, device_key, source)
    now = utcnow()
    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        raise LoginError(_("Sign in again."))
    key = _open_key(db, user)
    step = _step_of(code, key, now.timestamp()) if (
        len(code) == 6 and code.isdigit()) else None
    replayed = step is not None and user.totp_last_step is not None and (
        step <= user.totp_last_step)
    async with db.write() as s:
        # Locked: two posts of one code at once must not both see "step not used yet".
        row = await s.get(User, user_id, with_for_update=True)
        assert row is not None
        if step is not None and not replayed and (
                row.totp_last_step is None or step > row.totp_last_step):
            row.totp_last_step = step
            row.last_login_at = now
            if row.totp_confirmed_at is None:
                row.totp_confirmed_at = now
                audit.record(s, "totp_enrolled", user=row.id, at=now)
            await auth.clear_failures_of(s, row, device_key, source, now)
            await auth.trust_device(s, row.id, device_key, now)
            audit.record(s, "login", "with code " + auth._where(device_key, source),
                         user=row.id, at=now)
            return StaffUser(row.id, row.name, row.role)
    try:
        await auth.record_failure(db, cfg, user_id, device_key,
                                  "code_replay" if replayed else "code", source=source)
    except LoginError as exc:
        if exc.locked_seconds:
            raise
    if replayed:
        raise LoginError(_("That code was used already. Wait for the next code."))
    raise LoginError(_("Wrong code. Check the time on your phone and try again."))


def current_code(secret: str, at: datetime | None = None) -> str:
    """The code an authenticator shows now (for tests and the demo's help)."""
    moment = (at or datetime.now(UTC)).timestamp() if at else time.time()
    return pyotp.TOTP(secret).at(int(moment))


# ---- life cycle (issue #13 item 9) ----------------------------------------------------


async def reset_password(db: HubDatabase, name: str, password: str,
                         by: StaffUser | None = None) -> User:
    """A new password for a hub user; their trusted devices are forgotten."""
    from sqlalchemy import delete

    from app.core.models import TrustedDevice

    async with db.read() as s:
        user = await s.scalar(select(User).where(func.lower(User.name) == name.strip().lower()))
    if user is None:
        raise ValueError(f"no hub user {name!r}")
    check_password_policy(password, user.name)
    digest = await asyncio.to_thread(hash_pin, password, auth.pepper_of(db))
    async with db.write() as s:
        row = await s.get(User, user.id)
        if row is None:  # removed since the read above
            raise ValueError(f"no hub user {name!r}")
        row.pin_hash = digest
        await s.execute(delete(TrustedDevice).where(TrustedDevice.user_id == row.id))
        audit.record(s, "password_reset", row.name, user=by)
    return row


async def reset_totp(db: HubDatabase, name: str, by: StaffUser | None = None
                     ) -> tuple[User, str]:
    """A lost phone: a new authenticator key, shown at the next sign-in until a code
    confirms it. The old key stops working at once."""
    secret = pyotp.random_base32(32)
    async with db.write() as s:
        row = await s.scalar(select(User).where(func.lower(User.name) == name.strip().lower()))
        if row is None:
            raise ValueError(f"no hub user {name!r}")
        row.totp_secret = sealing.seal_totp(db, row.id, secret)
        row.totp_confirmed_at, row.totp_last_step = None, None
        audit.record(s, "totp_reset", row.name, user=by)
    return row, secret


async def rotate_webhook_secret(db: HubDatabase, channel: str) -> str:
    """A new signing secret for a channel's webhooks (shown once, kept sealed); calls
    signed from now on use it."""
    import secrets as _secrets

    from app.hub.models import HubChannel

    secret = _secrets.token_hex(24)
    async with db.write() as s:
        row = await s.get(HubChannel, channel.strip().lower())
        if row is None:
            raise ValueError(f"no channel {channel!r}")
        row.webhook_secret = sealing.seal_webhook_secret(db, row.name, secret)
        audit.record(s, "webhook_secret_rotated", row.name)
    return secret


async def change_own_password(db: HubDatabase, user_id: str, old: str, new: str) -> None:
    """A signed-in hub user changes their password: the current one first (ASVS 2.1.6)."""
    from app.core.security import verify_pin

    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None:
        raise ValueError(_("Sign in again."))
    pepper = auth.pepper_of(db)
    if not await asyncio.to_thread(verify_pin, old[:MAX_LENGTH], user.pin_hash, pepper):
        raise ValueError(_("The current password is wrong."))
    if new == old:
        raise ValueError(_("Choose a password different from the current one."))
    await reset_password(db, user.name, new, StaffUser(user.id, user.name, user.role))
