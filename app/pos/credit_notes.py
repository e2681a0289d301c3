"""Exchange credit notes: the code printed on an exchange refund's slip, and what is
left to spend of it. Only the code's hash is stored; the sale's tender keeps the
refund number."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select

from app.core.db import Database, Session
from app.core.i18n import _
from app.pos.models import Refund, SaleTender
from app.pos.till_rules import PosError, Tendered, credit_left, credit_on_cart

CREDIT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U


CREDIT_CODE_CHARS = 16  # 80 random bits


def new_credit_code() -> str:
    """A credit note's code, printed on the slip (text and QR): CN-XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(CREDIT_ALPHABET) for _ in range(CREDIT_CODE_CHARS))
    return "CN-" + "-".join(raw[i:i + 4] for i in range(0, CREDIT_CODE_CHARS, 4))


def normalise_credit_code(text: str) -> str:
    """The code as typed or scanned: case, spaces and dashes do not matter, nor O/0, I/L/1."""
    cleaned = "".join(c for c in text.upper()[:60] if c.isalnum())
    cleaned = cleaned.removeprefix("CN").translate(str.maketrans("OIL", "011"))
    ok = len(cleaned) == CREDIT_CODE_CHARS and all(c in CREDIT_ALPHABET for c in cleaned)
    return cleaned if ok else ""


def credit_code_hash(code: str) -> str:
    return hashlib.sha256(normalise_credit_code(code).encode()).hexdigest()


async def credit_note(s: Session, typed: str) -> Refund:
    """The exchange refund whose printed code this is; its number (sequential) is no key."""
    found = None
    if normalise_credit_code(typed):
        found = await s.scalar(select(Refund).where(
            Refund.credit_code_hash == credit_code_hash(typed)))
    if found is None or found.tender_kind != "exchange":
        raise PosError(_("no credit note has that code: scan or type the code printed on the "
                         "credit note (CN-…), not the refund number"))
    return found


async def exchange_credit_left(s: Session, refund_number: str) -> int:
    """What is left to spend of an exchange refund (its total minus completed sales' use)."""
    refund_row = await s.scalar(select(Refund).where(Refund.number == refund_number))
    if refund_row is None or refund_row.tender_kind != "exchange":
        raise PosError(_("%(number)s is not an exchange refund") % {"number": refund_number}
                       if refund_number else _("that is not an exchange refund"))
    used = await s.scalar(
        select(func.coalesce(func.sum(SaleTender.amount_minor), 0)).where(
            SaleTender.kind == "exchange", SaleTender.reference == refund_number
        )
    )
    # what the refund gave back as loyalty points is not credit (issue #21)
    return credit_left(refund_row.total_minor - refund_row.points_minor, int(used or 0))


async def credit_to_offer(db: Database, refund_number: str,
                          cart_tenders: Iterable[Tendered] = ()) -> int:
    """What a credit note can still pay on the cart being paid (0 when it is spent or is
    no exchange refund): the pay screen offers this visit's credit note for this much."""
    async with db.read() as s:
        try:
            left = await exchange_credit_left(s, refund_number)
        except PosError:
            return 0
    return max(0, left - credit_on_cart(cart_tenders, refund_number))
