"""What every till step shares: the refusals it raises, the open shift of a
counter, who counts as a manager, and the card-number check on typed text."""

from __future__ import annotations

from sqlalchemy import select

from app.core.auth import StaffUser
from app.core.card_data import CARD_NUMBER_MESSAGE, looks_like_card_number
from app.core.db import Session
from app.pos.models import Shift

TENDER_KINDS = ("cash", "card", "upi", "exchange")
# "exchange": credit from a refund made with tender "exchange", spent on a new sale in
# the same visit (an exchange is a refund and a sale); its reference is the refund number.
REFUND_KINDS = TENDER_KINDS

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


class PosError(ValueError):
    """A refusal with a message for the cashier; nothing was changed."""


class NeedsApproval(PosError):
    """The step is allowed only with a manager's PIN on this screen."""


def refuse_card_number(text: str) -> None:
    """No card number is stored or printed anywhere (the till stays out of PCI DSS
    scope): every reference, reason and note typed at the till is checked whole."""
    if looks_like_card_number(text):
        raise PosError(CARD_NUMBER_MESSAGE)


def is_manager(user: StaffUser) -> bool:
    return user.role in ("manager", "admin")


async def shift_on(s: Session, counter: str) -> Shift | None:
    return await s.scalar(select(Shift).where(Shift.counter == counter, Shift.closed_at.is_(None)))


async def require_shift(s: Session, counter: str) -> Shift:
    shift = await shift_on(s, counter)
    if shift is None:
        raise PosError(f"counter {counter} has no open shift; open one first")
    return shift
