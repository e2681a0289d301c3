"""Customer displays: pairing a screen to a counter, its credential, revoking it, and
the idle slideshow's images.

Trust (docs/customer-display.md): a display holds one random token, kept here only as
its SHA-256 (a 256-bit random value needs no slow hash, and the hash allows an indexed
lookup). The token is bound to one counter and opens only the /display pages of that
counter; it is no staff session, so no staff page accepts it. A pairing code is used
once, within PAIRING_MINUTES, and is stored hashed too."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database
from app.core.i18n import _, ngettext
from app.core.ids import uuid7
from app.core.private_files import write_private
from app.core.security import hash_token
from app.display.models import CustomerDisplay, DisplaySlide

PAIRING_MINUTES = 10
TOKEN_BYTES = 32
# A token or code as we make them (token_urlsafe); anything else is refused unhashed.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,40}")
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often

SLIDE_DIR = "display_slides"
MAX_SLIDES = 12
MAX_SLIDE_KB = 2048
_SAFE_ID = re.compile(r"[0-9a-f-]{36}")


class DisplayError(Exception):
    """A refusal with a message for the manager or the screen; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Display:
    """A paired display as its requests see it."""

    id: str
    counter: str
    name: str


# ---- pairing ---------------------------------------------------------------------


def _check_counter(cfg: StoreConfig, counter: str) -> str:
    if counter not in cfg.pos.counters:
        raise DisplayError(_("%(counter)s is not one of this store's counters (%(counters)s). "
                             "Nothing changed.")
                           % {"counter": repr(counter[:12]),
                              "counters": ", ".join(cfg.pos.counters)})
    return counter


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise DisplayError(_("Give the screen a name of 1 to 40 letters (e.g. Counter 1 "
                             "screen). Nothing changed."))
    return name


async def start_pairing(db: Database, cfg: StoreConfig, counter: str, name: str,
                        by: StaffUser) -> tuple[CustomerDisplay, str]:
    """A new display for `counter`, waiting for its screen: returns the row and the
    one-time pairing code (shown once as a link and QR; only its hash is kept)."""
    counter, name = _check_counter(cfg, counter), _check_name(name)
    code = secrets.token_urlsafe(18)
    now = utcnow()
    async with db.write() as s:
        row = CustomerDisplay(id=uuid7(), counter=counter, name=name,
                              pairing_hash=hash_token(code),
                              pairing_expires_at=now + timedelta(minutes=PAIRING_MINUTES),
                              created_by=by.id, created_at=now)
        s.add(row)
        audit.record(s, "display_pairing", f"{name} for counter {counter}", user=by)
    return row, code


async def join(db: Database, code: str) -> tuple[Display, str]:
    """The screen that opened the pairing link: the code is used up and the display
    gets its token (returned once, for its cookie). A wrong, used or expired code, or
    one of a revoked display, is refused."""
    refused = DisplayError(_("This pairing link is not valid any more (used, expired or "
                             "cancelled). Ask the manager to pair this screen again."))
    if not _TOKEN_SHAPE.fullmatch(code):
        raise refused
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    async with db.write() as s:
        row = await s.scalar(select(CustomerDisplay).where(
            CustomerDisplay.pairing_hash == hash_token(code)))
        if (row is None or row.revoked_at is not None or row.token_hash is not None
                or row.pairing_expires_at is None or row.pairing_expires_at < now):
            raise refused
        row.pairing_hash = None
        row.pairing_expires_at = None
        row.token_hash = hash_token(token)
        row.paired_at = row.last_seen_at = now
        audit.record(s, "display_paired", f"{row.name} for counter {row.counter}")
        return Display(row.id, row.counter, row.name), token


async def display_for_token(db: Database, token: str) -> Display | None:
    """The paired, unrevoked display holding `token`; None for anything else."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    async with db.read() as s:
        row = (await s.execute(
            select(CustomerDisplay.id, CustomerDisplay.counter, CustomerDisplay.name)
            .where(CustomerDisplay.token_hash == hash_token(token),
                   CustomerDisplay.revoked_at.is_(None)))).first()
    return Display(*row) if row else None


async def still_valid(db: Database, display_id: str) -> bool:
    """Whether the display was not revoked since its stream opened (checked at every
    screen it is sent)."""
    async with db.read() as s:
        row = (await s.execute(select(CustomerDisplay.revoked_at, CustomerDisplay.token_hash)
                               .where(CustomerDisplay.id == display_id))).first()
    return row is not None and row.revoked_at is None and row.token_hash is not None


async def valid_on(db: Database, counter: str) -> frozenset[str]:
    """The ids of the counter's paired, unrevoked displays: one query for all of the
    counter's streams (each checks its own id in it, as still_valid would)."""
    async with db.read() as s:
        ids = await s.scalars(select(CustomerDisplay.id).where(
            CustomerDisplay.counter == counter, CustomerDisplay.revoked_at.is_(None),
            CustomerDisplay.token_hash.is_not(None)))
        return frozenset(ids)


async def seen(db: Database, display_id: str) -> None:
    """Stamp the display's last use (its stream opening), at most once a minute."""
    now = utcnow()
    async with db.write() as s:
        await s.execute(update(CustomerDisplay).where(
            CustomerDisplay.id == display_id,
            (CustomerDisplay.last_seen_at.is_(None))
            | (CustomerDisplay.last_seen_at < now - SEEN_EVERY)).values(last_seen_at=now))


async def revoke(db: Database, display_id: str, by: StaffUser) -> CustomerDisplay:
    """The display's token (or pairing code) stops working at once."""
    async with db.write() as s:
        row = await s.get(CustomerDisplay, display_id[:36])
        if row is None:
            raise DisplayError(_("No such display. Nothing changed."))
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = utcnow(), by.id
            row.pairing_hash = None
            audit.record(s, "display_revoked", f"{row.name} for counter {row.counter}",
                         user=by)
        return row


async def list_displays(db: Database) -> list[CustomerDisplay]:
    async with db.read() as s:
        return list(await s.scalars(select(CustomerDisplay).order_by(
            CustomerDisplay.revoked_at.is_not(None), CustomerDisplay.counter,
            CustomerDisplay.created_at.desc())))


def display_state(row: CustomerDisplay, now: datetime) -> str:
    """What the manager's list says of a display."""
    if row.revoked_at is not None:
        return "revoked"
    if row.token_hash is not None:
        return "paired"
    if row.pairing_expires_at is not None and row.pairing_expires_at >= now:
        return "waiting"
    return "expired"


# ---- the slideshow ------------------------------------------------------------------


def image_kind(data: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' from the file's first bytes, whatever its name or the
    browser claims; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_slide(data: bytes) -> str:
    if not data:
        raise DisplayError(_("Choose an image file first. Nothing was stored."))
    if len(data) > MAX_SLIDE_KB * 1024:
        raise DisplayError(_("That image is too big (%(size)s KB; at most %(max)s KB). Save "
                             "it smaller and upload it again. Nothing was stored.")
                           % {"size": len(data) // 1024, "max": MAX_SLIDE_KB})
    kind = image_kind(data)
    if kind is None:
        raise DisplayError(_("That file is not a PNG, JPEG or WebP image. Nothing was "
                             "stored."))
    return kind


async def add_slide(db: Database, cfg: StoreConfig, data: bytes, by: StaffUser
                    ) -> DisplaySlide:
    """Store one slideshow image (checked first; the file is removed again when the
    row cannot be written, so no file is left without its row)."""
    kind = check_slide(data)
    slide_id = uuid7()
    relative = f"{SLIDE_DIR}/{slide_id}.{kind}"
    path = cfg.data_dir / relative
    async with db.write() as s:
        have = len(list(await s.scalars(select(DisplaySlide.id))))
        if have >= MAX_SLIDES:
            raise DisplayError(ngettext("The slideshow has %(num)d image already (at most "
                                        "%(max)s). Remove one first. Nothing was stored.",
                                        "The slideshow has %(num)d images already (at most "
                                        "%(max)s). Remove one first. Nothing was stored.",
                                        have) % {"num": have, "max": MAX_SLIDES})
        write_private(path, data)
        try:
            row = DisplaySlide(id=slide_id, file=relative, kind=kind, size_bytes=len(data),
                               created_by=by.id, created_at=utcnow())
            s.add(row)
            audit.record(s, "display_slide_added", f"{kind}, {len(data) // 1024} KB", user=by)
            await s.flush()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return row


async def remove_slide(db: Database, cfg: StoreConfig, slide_id: str, by: StaffUser) -> None:
    async with db.write() as s:
        row = await s.get(DisplaySlide, slide_id[:36])
        if row is None:
            raise DisplayError(_("That image is not in the slideshow any more."))
        await s.delete(row)
        audit.record(s, "display_slide_removed", row.file, user=by)
    (cfg.data_dir / row.file).unlink(missing_ok=True)


async def list_slides(db: Database) -> list[DisplaySlide]:
    async with db.read() as s:
        return list(await s.scalars(select(DisplaySlide).order_by(DisplaySlide.created_at,
                                                                 DisplaySlide.id)))


async def slide_file(db: Database, cfg: StoreConfig, slide_id: str) -> tuple[Path, str] | None:
    """The image's path and media type; None for an unknown id."""
    if not _SAFE_ID.fullmatch(slide_id):
        return None
    async with db.read() as s:
        row = await s.get(DisplaySlide, slide_id)
    if row is None:
        return None
    path = cfg.data_dir / row.file
    return (path, f"image/{row.kind}") if path.is_file() else None
