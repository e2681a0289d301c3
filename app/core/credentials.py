"""Credential life cycle (issue #13 item 9): deactivate and reactivate staff, change or
reset a PIN, revoke or rotate an API key, and each credential's last use.

Every change is one transaction with an audit row. A deactivated user is signed out at
their next request (core/auth.session_user re-reads the user, see fresh_user) and loses their trusted
devices; a revoked or rotated key stops working at its next request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from app.core import audit
from app.core.auth import StaffUser, pepper_of, role_allows
from app.core.clock import utcnow
from app.core.db import Database
from app.core.i18n import _, is_shipped
from app.core.models import ApiKey, TrustedDevice, User
from app.core.security import check_pin_policy, hash_pin, new_api_key, verify_pin


class CredentialError(ValueError):
    """A refused change, with a message for the person who asked."""


@dataclass(frozen=True)
class UserRow:
    id: str
    name: str
    role: str
    active: bool
    last_login_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class KeyRow:
    id: str
    name: str
    scope: str
    channel: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def list_users(db: Database) -> list[UserRow]:
    async with db.read() as s:
        users = await s.scalars(select(User).order_by(User.active.desc(), User.name))
        return [UserRow(u.id, u.name, u.role, u.active, u.last_login_at, u.created_at)
                for u in users]


async def list_api_keys(db: Database) -> list[KeyRow]:
    async with db.read() as s:
        keys = await s.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None),
                                                       ApiKey.name))
        return [KeyRow(k.id, k.name, k.scope, getattr(k, "channel", "local"), k.prefix,
                       k.created_at, k.last_used_at, k.revoked_at) for k in keys]


def _may_manage(by: StaffUser | None, target: User) -> None:
    """Admins manage everyone; managers manage cashiers and pickers (not other managers
    or admins); nobody deactivates themselves. `by` None: the command line (the server's
    operator)."""
    if by is None:
        return
    if by.id == target.id:
        raise CredentialError(_("You cannot do this to your own account; ask another admin."))
    if by.role == "admin":
        return
    if by.role == "manager" and target.role in ("cashier", "picker"):
        return
    # The roles are words of the catalogue (app.core.i18n.ROLE_NAMES).
    raise CredentialError(_("A %(role)s may not change %(name)s's (%(their_role)s) sign-in; "
                            "ask an admin.") % {"role": _(by.role), "name": target.name,
                                                "their_role": _(target.role)})


async def _user(s, user_id: str = "", name: str = "") -> User:
    if user_id:
        user = await s.get(User, user_id[:36])
    else:
        user = await s.scalar(select(User).where(func.lower(User.name) == name.strip().lower()))
    if user is None:
        raise CredentialError(_("no user %(name)s") % {"name": repr(name or user_id)})
    return user


async def set_active(db: Database, active: bool, *, user_id: str = "", name: str = "",
                     by: StaffUser | None = None) -> User:
    async with db.write() as s:
        user = await _user(s, user_id, name)
        _may_manage(by, user)
        if not active and user.active and user.role == "admin":
            others = await s.scalar(select(func.count()).select_from(User).where(
                User.role == "admin", User.active, User.id != user.id))
            if not others:
                raise CredentialError(_("This is the last active admin; add another first."))
        user.active = active
        if not active:
            await s.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user.id))
        audit.record(s, "user_activated" if active else "user_deactivated",
                     f"{user.name} ({user.role})", user=by)
    return user


async def reset_pin(db: Database, new_pin: str, *, user_id: str = "", name: str = "",
                    by: StaffUser | None = None) -> User:
    """Set a new PIN for someone who forgot theirs (or after a leak)."""
    check_pin_policy(new_pin)
    digest = await asyncio.to_thread(hash_pin, new_pin, pepper_of(db))
    async with db.write() as s:
        user = await _user(s, user_id, name)
        _may_manage(by, user)
        user.pin_hash = digest
        await s.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user.id))
        audit.record(s, "pin_reset", f"{user.name} ({user.role})", user=by)
    return user


async def change_own_pin(db: Database, user_id: str, old_pin: str, new_pin: str) -> None:
    """A signed-in person changes their PIN: the old one first, then the rules."""
    async with db.read() as s:
        user = await _user(s, user_id)
    pepper = pepper_of(db)
    if not await asyncio.to_thread(verify_pin, old_pin[:128], user.pin_hash, pepper):
        raise CredentialError(_("The current PIN is wrong."))
    if new_pin == old_pin:
        raise CredentialError(_("Choose a PIN different from the current one."))
    check_pin_policy(new_pin)
    digest = await asyncio.to_thread(hash_pin, new_pin, pepper)
    async with db.write() as s:
        row = await _user(s, user_id)
        row.pin_hash = digest
        audit.record(s, "pin_changed", user=user_id)


async def set_language(db: Database, user_id: str, code: str) -> None:
    """A signed-in person's own language for every device they sign in on (issue #22);
    "" takes it away (the device's choice, else the store's default, applies again)."""
    if code and not is_shipped(code):
        raise CredentialError(_("%(code)s is not a language this store has") % {"code": repr(code[:20])})
    async with db.write() as s:
        row = await _user(s, user_id)
        row.language = code


async def revoke_api_key(db: Database, name: str, by: StaffUser | None = None) -> ApiKey:
    async with db.write() as s:
        key = await s.scalar(select(ApiKey).where(ApiKey.name == name))
        if key is None:
            raise CredentialError(f"no API key named {name!r}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            audit.record(s, "apikey_revoked", f"{key.name} ({key.prefix}…)", user=by,
                         at=key.revoked_at)
    return key


async def rotate_api_key(db: Database, name: str, by: StaffUser | None = None
                         ) -> tuple[ApiKey, str]:
    """A new secret for the key `name` (same scope and channel); the old one stops
    working at once. Returns the key and the new secret, shown once."""
    full, prefix, digest = new_api_key()
    async with db.write() as s:
        key = await s.scalar(select(ApiKey).where(ApiKey.name == name))
        if key is None:
            raise CredentialError(f"no API key named {name!r}")
        old = key.prefix
        key.key_hash, key.prefix, key.revoked_at, key.last_used_at = digest, prefix, None, None
        audit.record(s, "apikey_rotated", f"{key.name} ({old}… → {prefix}…)", user=by)
    return key, full


def may_reset(by: StaffUser, target_role: str) -> bool:
    return by.role == "admin" or (role_allows(by.role, ("manager",))
                                  and target_role in ("cashier", "picker"))
