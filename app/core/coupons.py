"""Coupon codes: what a code is, whether a use is allowed, and how the hub shares a
chain coupon's uses among its stores. Pure (no I/O); the store's service and the hub
call these, so the till, completion and the hub judge a code the same way.

The chain rule (docs/promotions.md, "Coupons across the chain"): the hub never lets
the stores' allowances add up to more than the coupon's total. Each store may use
what the hub granted it, offline too; when a store reports uses, the hub tops its
allowance up from what is left of the total. So the total is never overshot; the
price is that a store offline with its allowance spent refuses the coupon even if
other stores still hold unused uses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from app.core import i18n
from app.core.i18n import N_, _, ngettext

MAX_CODE = 40
MAX_TYPED = 200  # longer than this is not a coupon typed or scanned: refused unread
MAX_LIMIT = 1_000_000
CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,39}")
MAX_ON_CART = 5
CUSTOMER_KEY = re.compile(r"[0-9a-f]{64}")  # a customer key: 64 lower-case hex digits


class CouponError(ValueError):
    """A coupon that cannot be used now, in words for the cashier."""


def normalise(text: str) -> str | None:
    """A typed or scanned code as stored: spaces gone, upper case. None: it cannot be
    a coupon code (NUL, too long, a formula like "=1+1", other characters)."""
    if not isinstance(text, str) or len(text) > MAX_TYPED or "\x00" in text:
        return None
    code = "".join(text.split()).upper()
    return code if CODE.fullmatch(code) else None


def check_new_code(text: str) -> str:
    """A code a manager gives an offer: normalised, or CouponError saying what is allowed."""
    code = normalise(text)
    if code is None:
        raise CouponError(_("a coupon code is 2 to %(most)s letters, digits, - or _ "
                            "(spaces are dropped)") % {"most": MAX_CODE})
    return code


@dataclass(frozen=True, slots=True)
class Limits:
    """A code's limits; None: none. `allowance` is a chain coupon's uses granted to
    this store in all (None: a store coupon, no allowance)."""

    total: int | None = None
    per_customer: int | None = None
    allowance: int | None = None


@dataclass(frozen=True, slots=True)
class Uses:
    """Uses not given back: in all (at this store), by this cart's customer.
    `chain_by_customer`: the hub's count of this customer's uses of a chain coupon at
    every store (None: not heard, so the store's own count is the rule)."""

    total: int = 0
    by_customer: int = 0
    chain_by_customer: int | None = None

    @property
    def customer_count(self) -> int:
        """The customer's uses the limit is judged on: the hub's chain-wide count when
        heard (it may lag this store's newest uses: the larger of the two)."""
        if self.chain_by_customer is None:
            return self.by_customer
        return max(self.by_customer, self.chain_by_customer)


def customer_key(code: str, phone: str) -> str:
    """What a store sends the hub for a chain coupon's customer instead of the number:
    HMAC-SHA256 of the 10-digit number keyed by the coupon's code (docs/promotions.md,
    "Per customer across the chain"). The same at every store, different for each coupon
    (a customer's keys cannot be matched across coupons), and the hub can work it out
    again from a number it is asked to erase."""
    return hmac.new(f"kirana coupon customer {code}".encode(), phone.encode(),
                    hashlib.sha256).hexdigest()


def is_customer_key(value: object) -> bool:
    return isinstance(value, str) and CUSTOMER_KEY.fullmatch(value) is not None


def _day(d: date) -> str:
    """"5 Jan" (no leading zero or space), the month as the language writes it."""
    return i18n.day_text(d, "%e %b").lstrip()


def refusal(code: str, *, starts: date | None, ends: date | None, ended: date | None,
            today: date, limits: Limits, uses: Uses, phone: str) -> str | None:
    """Why this code cannot be used on this bill now (a sentence for the cashier), or
    None: it can. `ended`: the day HQ or the manager ended its offer early."""
    if ended is not None:
        return _("Coupon %(code)s ended on %(day)s") % {"code": code, "day": _day(ended)}
    if ends is not None and today > ends:
        return _("Coupon %(code)s expired on %(day)s") % {"code": code, "day": _day(ends)}
    if starts is not None and today < starts:
        return _("Coupon %(code)s starts on %(day)s") % {"code": code, "day": _day(starts)}
    if limits.total is not None and uses.total >= limits.total:
        if limits.total == 1:
            return _("Coupon %(code)s already used") % {"code": code}
        return ngettext("Coupon %(code)s is used up: all %(num)s use taken",
                        "Coupon %(code)s is used up: all %(num)s uses taken", limits.total
                        ) % {"code": code, "num": limits.total}
    if limits.allowance is not None and uses.total >= limits.allowance:
        return _("Coupon %(code)s: this store's share of its uses is taken; it gets more "
                 "when the hub is reachable") % {"code": code}
    if limits.per_customer is not None:
        if not phone:
            return _("Coupon %(code)s is limited per customer: enter the customer's mobile "
                     "number first") % {"code": code}
        used = uses.customer_count
        if used >= limits.per_customer:
            chain = uses.chain_by_customer is not None
            if limits.per_customer == 1:
                return (_("Coupon %(code)s already used by this customer across the chain")
                        if chain else _("Coupon %(code)s already used by this customer")
                        ) % {"code": code}
            return (ngettext("Coupon %(code)s already used %(num)s time by this customer "
                             "across the chain (the limit)",
                             "Coupon %(code)s already used %(num)s times by this customer "
                             "across the chain (the limit)", used) if chain else
                    ngettext("Coupon %(code)s already used %(num)s time by this customer "
                             "(the limit)",
                             "Coupon %(code)s already used %(num)s times by this customer "
                             "(the limit)", used)) % {"code": code, "num": used}
    return None


def check_limits(total: int | None, per_customer: int | None, per_store: int | None = None
                 ) -> None:
    """Limits a manager or HQ typed: whole numbers from 1 (None: no limit)."""
    for what, value in (
            (N_("the uses in total is a whole number from 1 to %(most)s"), total),
            (N_("the uses per customer is a whole number from 1 to %(most)s"), per_customer),
            (N_("the uses a store may make offline is a whole number from 1 to %(most)s"),
             per_store)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= MAX_LIMIT):
            raise CouponError(_(what) % {"most": i18n.number(MAX_LIMIT)})
    if total is not None and per_customer is not None and per_customer > total:
        raise CouponError(_("uses per customer cannot be more than the uses in total"))


def top_up(*, total: int | None, per_store: int, used_here: int, held_elsewhere: int) -> int:
    """What the hub grants a store in all (cumulative), given its net uses reported so
    far: its uses plus a fresh allowance of `per_store`, cut so that every store's grant
    together stays within `total` (`held_elsewhere`: the other stores' grants).
    Never below `used_here` (a grant never takes back a use already made)."""
    fresh = per_store
    if total is not None:
        fresh = min(fresh, total - held_elsewhere - used_here)
    return used_here + max(0, fresh)


def first_share(*, total: int | None, per_store: int, stores: int) -> int:
    """Each store's first grant when HQ makes the coupon: `per_store`, cut to an even
    share of the total (at least 1) so the stores first in id order do not take it all
    and leave the last ones with none (3 stores, total 4: 1 each, 1 kept back)."""
    if total is None or stores <= 0:
        return per_store
    return min(per_store, max(1, total // stores))


def rebalance(*, total: int | None, per_store: int,
              grants: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """On any store's report: top up every store under its allowance (free uses below
    `per_store`) from what no store holds. `grants`: store -> (granted, net uses).
    The emptiest go first (fewest free uses, then the least granted, then id), so a
    store that got nothing is served before one that just used its share. Returns only
    the grants that grow; the grants together stay within the total."""
    held = {store: g for store, (g, _u) in grants.items()}
    order = sorted(grants, key=lambda k: (grants[k][0] - grants[k][1], grants[k][0], k))
    grown: dict[str, int] = {}
    for store in order:
        granted, used = grants[store]
        if granted - used >= per_store:
            continue
        want = top_up(total=total, per_store=per_store, used_here=used,
                      held_elsewhere=sum(held.values()) - held[store])
        if want > granted and (total is None or want - granted <= total - sum(held.values())):
            held[store] = grown[store] = want
    return grown
