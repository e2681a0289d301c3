"""What every till step shares: the open shift of a counter, who counts as a manager,
the card-number check on typed text, and the audit actions the till lists. The
refusals (PosError, NeedsApproval) are in till_rules.py with the rules that raise them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from app.core.auth import StaffUser
from app.core.card_data import CARD_NUMBER_MESSAGE, looks_like_card_number
from app.core.db import Session
from app.core.i18n import _
from app.core.prepared import Prepared
from app.pos.models import Shift
from app.pos.till_rules import PosError

# Audit actions of the till that /pos/audit lists.
OVERRIDE_ACTIONS = (
    "reprint",
    "discount_line",
    "discount_bill",
    "void_line",
    "void_cart",
    "refund",
    "no_sale",
    "cash_in",
    "cash_out",
    "shift_open",
    "shift_close",
)


def refuse_card_number(text: str) -> None:
    """No card number is stored or printed anywhere (the till stays out of PCI DSS
    scope): every reference, reason and note typed at the till is checked whole."""
    if looks_like_card_number(text):
        # Marked N_ in app.core.card_data, translated here where it is shown.
        raise PosError(_(CARD_NUMBER_MESSAGE))


def is_manager(user: StaffUser) -> bool:
    return user.role in ("manager", "admin")


async def shift_on(s: Session, counter: str) -> Shift | None:
    return await s.scalar(select(Shift).where(Shift.counter == counter, Shift.closed_at.is_(None)))


async def require_shift(s: Session, counter: str) -> Shift:
    shift = await shift_on(s, counter)
    if shift is None:
        raise no_shift(counter)
    return shift


_S = Shift.__table__.c
_OPEN_SHIFT_ROW = Prepared(select(_S.id, _S.number).where(_S.counter == bindparam("counter"),
                                                           _S.closed_at.is_(None)))


async def open_shift_row(s: Session, counter: str) -> Any:
    """require_shift as a plain row (id, number): what completing a sale needs of it."""
    row = await _OPEN_SHIFT_ROW.first(s, {"counter": counter})
    if row is None:
        raise no_shift(counter)
    return row


class NoShift(PosError):
    """The counter has no open shift (the till starts over at its first screen)."""


def no_shift(counter: str) -> PosError:
    return NoShift(_("counter %(counter)s has no open shift; open one first")
                   % {"counter": counter})
