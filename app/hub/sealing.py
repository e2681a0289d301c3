"""The hub's secrets sealed at rest (core/sealing.py): hub staff's TOTP keys
(users.totp_secret) and the channels' webhook signing secrets
(hub_channels.webhook_secret). Each is sealed for its row (the user's id, the channel's
name), with the key derived from the install's pepper (`<data_dir>/secret.key`).

At every start the hub seals the rows written before sealing (legacy plaintext), each by
a compare-and-set UPDATE (`... WHERE the column is still the plaintext`), so two hub
processes starting at once seal each row once and neither fails. It also opens every
sealed value: when none opens, this is not the secret file that sealed them and the hub
refuses to start; when some do not open (changed in the database), each is logged as an
ERROR and fails where it is used, with the way out.

The first start that sealed leaves a mark (hub_settings "secrets_sealed"). After it a
secret in clear was not left by the upgrade: someone wrote it to the database directly
(a TOTP key they know, put into another user's row, would be a second factor they
hold). It is never sealed then, and a process that has sealed at start refuses it at
use; both log it.
"""

from __future__ import annotations

import functools
import logging
import weakref

from sqlalchemy import select, update

from app.core import audit
from app.core.auth import pepper_of
from app.core.clock import utcnow
from app.core.db import AnyDatabase, Session
from app.core.models import User
from app.core.sealing import Unsealable, is_sealed, seal, sealing_key, unseal
from app.hub.db import HubDatabase, upsert, write_retrying
from app.hub.models import HubChannel, HubSetting

log = logging.getLogger("kirana.hub")

__all__ = ["SealingError", "Unsealable", "open_totp", "open_webhook_secret",
           "seal_at_start", "seal_totp", "seal_webhook_secret"]


SEALED_MARK = "secrets_sealed"  # hub_settings: when the first start sealed


class SealingError(RuntimeError):
    """The hub cannot open its sealed secrets: it must not start."""


# Databases (hub processes) that have sealed at start: from then on a secret in clear is
# refused. Before (the CLI, a process starting) one is read as it is.
_SEALED_AT_START: weakref.WeakSet[AnyDatabase] = weakref.WeakSet()


@functools.lru_cache(maxsize=8)
def _key(pepper: bytes) -> bytes:
    return sealing_key(pepper)


def key_of(db: AnyDatabase) -> bytes:
    return _key(pepper_of(db))


def totp_place(user_id: str) -> str:
    return f"users.totp_secret:{user_id}"


def webhook_place(channel: str) -> str:
    return f"hub_channels.webhook_secret:{channel}"


def seal_totp(db: AnyDatabase, user_id: str, secret: str) -> str:
    return seal(key_of(db), secret, totp_place(user_id))


def _open(db: AnyDatabase, stored: str, place: str) -> str:
    if not is_sealed(stored) and db in _SEALED_AT_START:
        raise Unsealable(f"{place} is stored in clear, after this hub sealed its secrets at "
                         "start: it was written to the database directly")
    return unseal(key_of(db), stored, place)


def open_totp(db: AnyDatabase, user_id: str, stored: str) -> str:
    """The user's TOTP key (Unsealable if it does not open)."""
    return _open(db, stored, totp_place(user_id))


def seal_webhook_secret(db: AnyDatabase, channel: str, secret: str) -> str:
    return seal(key_of(db), secret, webhook_place(channel))


def open_webhook_secret(db: AnyDatabase, channel: str, stored: str) -> str:
    """The channel's signing secret (Unsealable if it does not open)."""
    return _open(db, stored, webhook_place(channel))


async def seal_at_start(db: HubDatabase) -> int:
    """Check the sealed secrets open, and (at the first start after h011) seal those
    written before sealing. Returns how many this process sealed (0 when another process
    sealed them first). Raises SealingError when sealed secrets exist and none opens with
    this secret file."""
    key = key_of(db)
    async with db.read() as s:
        sealed_at = await s.scalar(select(HubSetting.value)
                                   .where(HubSetting.key == SEALED_MARK))
        users = [(str(r[0]), str(r[1]), str(r[2])) for r in (await s.execute(
            select(User.id, User.name, User.totp_secret)
            .where(User.totp_secret.is_not(None), User.totp_secret != "")
            .order_by(User.id))).all()]
        channels = [(str(r[0]), str(r[0]), str(r[1])) for r in (await s.execute(
            select(HubChannel.name, HubChannel.webhook_secret)
            .where(HubChannel.webhook_secret != "").order_by(HubChannel.name))).all()]
    sealed = [(f"the authenticator key of {name}", totp_place(uid), value)
              for uid, name, value in users if is_sealed(value)]
    sealed += [(f"the webhook secret of channel {name}", webhook_place(name), value)
               for name, _n, value in channels if is_sealed(value)]
    bad = []
    for what, place, value in sealed:
        try:
            unseal(key, value, place)
        except Unsealable:
            bad.append(what)
    if sealed and len(bad) == len(sealed):
        raise SealingError(
            f"none of the {len(sealed)} sealed secrets in the hub's database opens with "
            "this hub's secret.key: it is not the secret file they were sealed with (or "
            "every one was changed in the database). "
            "Restore the hub's secret.key from its backup (every hub process sharing one "
            "database needs the same file)")
    for what in bad:
        log.error("%s does not open with this hub's secret.key (changed in the database?); "
                  "it fails where it is used until it is replaced (kirana hub reset-totp NAME "
                  "or kirana hub rotate-webhook-secret CHANNEL)", what)
    legacy_users = [(uid, name, value) for uid, name, value in users if not is_sealed(value)]
    legacy_channels = [(name, value) for name, _n, value in channels if not is_sealed(value)]
    if sealed_at is not None:
        for _uid, name, _value in legacy_users:
            log.error("the authenticator key of %s is stored in clear, but this hub sealed "
                      "its secrets at %s: it was written to the database directly. Refused "
                      "until replaced (kirana hub reset-totp %s)", name, sealed_at, name)
        for name, _value in legacy_channels:
            log.error("the webhook secret of channel %s is stored in clear, but this hub "
                      "sealed its secrets at %s: it was written to the database directly. "
                      "Refused until replaced (kirana hub rotate-webhook-secret %s)", name,
                      sealed_at, name)
        _SEALED_AT_START.add(db)
        return 0

    async def body(s: Session) -> int:
        done = 0
        # Rows in key order (users, then channels): two processes never wait on each
        # other crosswise. A row another process sealed meanwhile no longer matches.
        for uid, _name, value in legacy_users:
            result = await s.execute(
                update(User).where(User.id == uid, User.totp_secret == value)
                .values(totp_secret=seal(key, value, totp_place(uid)))
                .execution_options(synchronize_session=False))
            done += result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE: CursorResult
        for name, value in legacy_channels:
            result = await s.execute(
                update(HubChannel).where(HubChannel.name == name,
                                         HubChannel.webhook_secret == value)
                .values(webhook_secret=seal(key, value, webhook_place(name)))
                .execution_options(synchronize_session=False))
            done += result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE: CursorResult
        mark = upsert(s, HubSetting.__table__).values(
            key=SEALED_MARK, value=utcnow().isoformat(timespec="seconds"), updated_at=utcnow(),
            updated_by="hub")
        await s.execute(mark.on_conflict_do_nothing(index_elements=["key"]))
        if done:
            audit.record(s, "secrets_sealed", f"{done} TOTP keys and webhook secrets "
                                              "sealed with the secret file")
        return done

    done = await write_retrying(db, body)
    _SEALED_AT_START.add(db)
    if done:
        log.info("sealed %d TOTP keys and webhook secrets stored before sealing", done)
    return done
