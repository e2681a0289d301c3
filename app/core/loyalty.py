"""Loyalty points, the pure rules (issue #21, docs/loyalty.md): who a customer is (a
mobile number or a card code), what a sale earns, how many points a bill may take as a
tender, what a refund gives back and takes back, and how the hub books a movement that
would overdraw a balance. No I/O: the store's app/loyalty/service.py and the hub's
app/hub/loyalty.py load the rows and call these; tests/unit/test_loyalty_rules.py
checks them with hypothesis.

Points are a tender, not a discount: the bill's prices, GST and discounts are what
app/pos/pricing.py makes of them whoever pays; points only pay part of the total (as a
voucher or a gift card would), so GST is charged on the price after discounts, points
or not (docs/loyalty.md "GST").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.core.i18n import _, ngettext

MAX_POINTS = 10_000_000  # more points than this in one step is a typo or a forgery
CARD_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{5,31}$")
PHONE_RE = re.compile(r"^[6-9][0-9]{9}$")
NAME_MAX = 60
# A hub balance heard this recently is taken as confirmed: the store may spend all of
# it, not only the offline allowance (the pay panel asks the hub for it).
FRESH_SECONDS = 120


class LoyaltyError(ValueError):
    """A refusal with a message for the cashier or manager; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The store's [loyalty] settings, as the rules need them."""

    points_per_100_rupees: int = 1
    point_value_paise: int = 100
    redeem_cap_percent: int = 50
    min_balance_points: int = 100
    offline_allowance_points: int = 200


# ---- who ------------------------------------------------------------------------------


def normalise_phone(text: str) -> str:
    """An Indian mobile number as ten digits ('+91 98123 45610' -> '9812345610'), or a
    LoyaltyError. Only digits, spaces, '+' and '-' are read; anything else is refused
    rather than dropped (a NUL or a letter in a number is a mistake, not noise)."""
    if len(text) > 40:
        raise LoyaltyError(_("a mobile number is 10 digits"))
    if any(not (ch.isascii() and (ch.isdigit() or ch in " +-")) for ch in text):
        raise LoyaltyError(_("a mobile number has only digits"))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    if not PHONE_RE.fullmatch(digits):
        raise LoyaltyError(_("a mobile number has 10 digits and starts with 6, 7, 8 or 9"))
    return digits


def normalise_card(text: str) -> str:
    """A loyalty card's code as printed on its barcode: 6-32 letters, digits or '-'."""
    code = text.strip().upper()
    if not CARD_RE.fullmatch(code):
        raise LoyaltyError(_("a loyalty card code is 6 to 32 letters, digits or '-'"))
    return code


def is_phone(text: str) -> bool:
    """Whether what was typed or scanned reads as a mobile number (else: a card)."""
    try:
        normalise_phone(text)
    except LoyaltyError:
        return False
    return True


def mask_phone(phone: str) -> str:
    """What receipts and lists show of a number: '9812345610' -> '98xxxxxx10'."""
    if len(phone) < 5:
        return "x" * len(phone)
    return phone[:2] + "x" * (len(phone) - 4) + phone[-2:]


def tombstone_key(secret: bytes, phone: str) -> str:
    """What a store keeps of an erased number: HMAC-SHA256 of the ten digits with a
    secret kept outside the database (a copy of the database cannot be searched for a
    number: the key is needed to try any of them)."""
    return hmac.new(secret, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()


def balance_allowed(erased_at: datetime | None, *, booked_at: datetime | None,
                    consent_at: datetime, known_here: bool) -> bool:
    """Whether a hub balance for a number may be applied at a store that erased the
    number at `erased_at` (None: never erased here). A balance booked before the
    erasure (or not saying when) is stale; a customer not live here is known again
    only with a consent given after the erasure (a re-join anywhere in the chain);
    one who re-joined here since takes the balances booked after it."""
    if erased_at is None:
        return True
    if booked_at is None or booked_at <= erased_at:
        return False
    return known_here or rejoin_allowed(erased_at, consent_at)


def rejoin_allowed(erased_at: datetime | None, consent_at: datetime) -> bool:
    """Whether a join (the hub's `loyalty.joined`, a balance's consent) may make a number
    erased at `erased_at` (None: never) a customer again: only with a consent given after
    the erasure. A store that signed the customer up offline before they asked to be
    erased sends its join late; its consent is older and does not bring them back."""
    return erased_at is None or consent_at > erased_at


def clean_name(text: str) -> str:
    """An optional first name, as the customer gave it (at most NAME_MAX characters,
    printable only)."""
    name = " ".join(text.split())
    if len(name) > NAME_MAX:
        raise LoyaltyError(_("a name is at most %(most)s characters") % {"most": NAME_MAX})
    if any(not ch.isprintable() for ch in name):
        raise LoyaltyError(_("a name has only letters, spaces and punctuation"))
    return name


def parse_points(text: str) -> int:
    """A count of points typed at the till: a whole number from 1 to MAX_POINTS ('inf',
    'NaN', '1e3', '2.5' and 2**63 are refused with a clear message)."""
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise LoyaltyError(_("points are a whole number, like 150"))
    points = int(value)
    if not 1 <= points <= MAX_POINTS:
        raise LoyaltyError(_("points must be at least 1"))
    return points


# ---- earning --------------------------------------------------------------------------


def points_earned(paid_minor: int, rules: Rules) -> int:
    """Points a sale earns on what the customer paid other than with points (rounded
    down: ₹99 at 1 point per ₹100 earns none)."""
    if paid_minor <= 0:
        return 0
    return paid_minor * rules.points_per_100_rupees // 10_000


def points_value(points: int, rules: Rules) -> int:
    """What `points` pay, in paise."""
    return points * rules.point_value_paise


# ---- spending -------------------------------------------------------------------------


def available(hub_balance: int, pending: int) -> int:
    """Points a customer has at this store: the last balance the hub sent plus this
    store's own movements the hub had not booked when it sent it (`pending`, signed).
    Never below zero (a reversal may take more than is left: the hub books the rest)."""
    return max(0, hub_balance + pending)


@dataclass(frozen=True, slots=True)
class Redeemable:
    points: int  # the most points this bill may still take
    reason: str  # why it is not more ('' when the balance is the limit)


def redeemable(*, hub_balance: int, pending: int, confirmed: bool, bill_total_minor: int,
               on_bill_minor: int, remaining_minor: int, rules: Rules) -> Redeemable:
    """The most points a bill may take now.

    - the balance: `available` (the hub's balance and this store's movements since);
    - the minimum balance before any may be spent;
    - the cap: points pay at most redeem_cap_percent of the bill (`on_bill_minor` is
      what points already pay on it) and never more than is still due;
    - offline: unless the hub's balance is `confirmed` (heard in the last FRESH_SECONDS),
      the store may draw at most offline_allowance_points on the hub's balance beyond
      its own unbooked movements; so stores that cannot hear each other overspend a
      customer's points by at most the allowance each (docs/loyalty.md "Offline").
    """
    have = available(hub_balance, pending)
    if have < max(1, rules.min_balance_points):
        return Redeemable(0, _("points can be used from a balance of %(points)s")
                          % {"points": max(1, rules.min_balance_points)})
    value = max(1, rules.point_value_paise)
    cap_minor = bill_total_minor * rules.redeem_cap_percent // 100 - on_bill_minor
    by_cap = max(0, min(cap_minor, remaining_minor)) // value
    limits = [(have, ""), (by_cap, _("points pay at most %(percent)s%% of a bill")
                           % {"percent": rules.redeem_cap_percent})]
    if not confirmed:
        limits.append((max(0, pending + rules.offline_allowance_points),
                       ngettext("the hub has not confirmed the balance; offline, at most "
                                "%(num)d point",
                                "the hub has not confirmed the balance; offline, at most "
                                "%(num)d points", rules.offline_allowance_points)
                       % {"num": rules.offline_allowance_points}))
    points, reason = min(limits, key=lambda lim: lim[0])
    return Redeemable(max(0, points), reason if points < have else "")


def check_redeem(points: int, limit: Redeemable) -> None:
    """Refuse a points tender over the limit, saying which rule it hits."""
    if not 1 <= points <= MAX_POINTS:
        raise LoyaltyError(_("points must be at least 1"))
    if limit.points <= 0:
        raise LoyaltyError(_("no points can be used on this bill: %(why)s")
                           % {"why": limit.reason or _("none left")})
    if points > limit.points:
        raise LoyaltyError(ngettext("at most %(num)d point on this bill (%(why)s)",
                                    "at most %(num)d points on this bill (%(why)s)",
                                    limit.points)
                           % {"num": limit.points, "why": limit.reason or _("the balance")})


# ---- refunds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundPoints:
    earned_back: int  # earned points the refund takes back (>= 0)
    points_back: int  # redeemed points the refund returns to the customer (>= 0)
    money_minor: int  # what the refund pays by its tender (never more than money paid)
    points_minor: int = 0  # the points tender's share of this refund, at what it paid
    short_points: int = 0  # earned points to take back that the customer had spent
    short_minor: int = 0  # what those cost: kept back from the money (<= money's share)
    forfeited: bool = False  # no account (erased): the points share is not paid out


def _prorated(whole: int, total: int, upto: int) -> int:
    """`whole`'s share of a bill's `total` once `upto` of it is refunded (cumulative,
    rounded down; all of it once everything is back)."""
    if upto >= total:
        return whole
    return whole * max(0, upto) // total if total else 0


def refund_points(*, bill_total_minor: int, earned: int, redeemed: int,
                  points_paid_minor: int, refunded_before_minor: int, refund_minor: int,
                  everything_back: bool, earned_back_before: int, points_back_before: int,
                  balance: int | None, rules: Rules) -> RefundPoints:
    """What a refund of `refund_minor` of a bill does to its points, prorated on money
    like the promotion discounts (the refunded lines' net), cumulative and rounded down,
    so the refund that takes everything back takes back exactly what was earned and
    returns exactly what was redeemed, whatever the parts before.

    - The points tender's share is prorated on what it paid (`points_paid_minor`,
      paise), not on today's point value: refunding a whole bill returns exactly the
      points and exactly the money paid, whatever point_value_paise is now.
    - Money paid back is the refund less the points share, so never more than the money
      the bill took (prorated).
    - `balance` is the customer's points now; None when there is no account (erased on
      request): then no points move and the points share is forfeited, not paid in money.
    - Earned points taken back are capped at the balance (plus what this refund returns);
      points already spent (`short_points`) are paid for from the refund's money at the
      point value (`short_minor`, at most the money's share): the chain writes nothing off.
    `earned_back_before` counts the earlier refunds' points taken back and paid for."""
    total = max(0, bill_total_minor)
    after = total if everything_back else min(total, refunded_before_minor + refund_minor)
    before = min(total, refunded_before_minor)

    def share(whole: int, done: int) -> int:
        return max(0, min(whole - done, _prorated(whole, total, after) - done))

    paid = max(0, points_paid_minor)
    points_minor = max(0, min(refund_minor, _prorated(paid, total, after)
                              - _prorated(paid, total, before)))
    money = max(0, refund_minor - points_minor)
    if balance is None:
        return RefundPoints(0, 0, money, points_minor, forfeited=True)
    points_back = share(redeemed, points_back_before)
    wanted = share(earned, earned_back_before)
    earned_back = min(wanted, max(0, balance) + points_back)
    short = wanted - earned_back
    short_minor = min(money, points_value(short, rules))
    return RefundPoints(earned_back, points_back, money - short_minor, points_minor,
                        short, short_minor)


# ---- the hub's books ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Booked:
    balance: int  # the customer's balance after the movement (never negative)
    write_off: int  # points the chain absorbed so the balance stays at zero (>= 0)


def book(balance: int, delta: int) -> Booked:
    """The hub books a store's movement as it happened (the goods left the store; a
    sale is never undone by the hub). A debit beyond the balance (two stores spent the
    same points offline, or a refund took back points already spent) is booked as a
    write-off: the balance stops at zero and the chain carries the difference, shown
    per store at the hub."""
    after = balance + delta
    if after < 0:
        return Booked(0, -after)
    return Booked(after, 0)


def pending_of(deltas: Iterable[int]) -> int:
    """This store's movements the hub had not booked (signed sum)."""
    return sum(deltas)
