"""Count variance policy: after a cycle count, post it, count again, or ask a manager.

A blind count on a phone (issue #17) ends in one of three decisions, and this module is
the only place that makes it; the service loads the book figure and the product's cost,
asks :func:`decide` and posts (reason ``count``), asks for a recount or waits for a
manager's PIN. No I/O.

The policy, in plain words:

* Counted equals the book: **accept**.
* The difference is above ``recount_bp`` of the book figure (basis points, 500 = 5 %) or
  above ``recount_units`` base units: **recount** -- someone counts the place again. A
  recount that agrees with an earlier count (within ``agree_units``) settles the figure,
  however large the difference: two people saw the same shelf.
* Whatever the counts, a difference worth more than ``approval_minor`` paise at cost
  needs a **manager's approval** before it posts.
* After ``max_counts`` counts that never agree, the manager decides (approval).

Ranking the decisions accept < approve < recount ("how far from posting now"), a larger
difference never gets a more lenient decision for the same counts pattern.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.core.i18n import N_, _
from app.core.money import format_amount, round_half_up

__all__ = [
    "DEFAULT_COUNT_POLICY",
    "CountDecision",
    "CountPolicy",
    "CountRuleError",
    "decide",
    "say_reason",
    "variance_value",
]

Action = Literal["accept", "recount", "approve"]
LENIENCY: dict[Action, int] = {"accept": 0, "approve": 1, "recount": 2}


class CountRuleError(ValueError):
    """A count or policy the rule cannot use; ``str(e)`` is shown to staff as is."""


def _whole(value: object, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise CountRuleError(f"{what} must be a whole number of at least {low}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CountPolicy:
    """Thresholds from the store's config; quantities in the product's base units."""

    recount_bp: int = 500  # recount when the difference is above 5 % of the book figure ...
    recount_units: int = 5  # ... or above this many base units
    approval_minor: int = 50_000  # a manager approves a difference worth more than ₹500
    agree_units: int = 0  # two counts this close agree (weighed goods may need a few grams)
    max_counts: int = 3  # after this many counts that never agree, the manager decides

    def __post_init__(self) -> None:
        _whole(self.recount_bp, "recount percentage (basis points)")
        _whole(self.recount_units, "recount units")
        _whole(self.approval_minor, "approval value")
        _whole(self.agree_units, "agreeing counts' difference")
        _whole(self.max_counts, "most counts", low=2)


DEFAULT_COUNT_POLICY = CountPolicy()


@dataclass(frozen=True, slots=True)
class CountDecision:
    action: Action
    variance: int  # counted minus book, base units (negative: fewer on the shelf)
    value_minor: int  # |variance| at cost, paise
    reason: str  # plain words for the count screen and the audit row


def variance_value(variance: int, unit_cost_minor: int, cost_per: int = 1) -> int:
    """Paise the difference is worth at cost: ``unit_cost_minor`` buys ``cost_per`` base
    units (1 for pieces, 1000 for a per-kg cost of a weighed product), half up."""
    _whole(unit_cost_minor, "unit cost")
    _whole(cost_per, "cost quantity", low=1)
    return round_half_up(abs(variance) * unit_cost_minor, cost_per)


def _outside_tolerance(expected: int, variance: int, policy: CountPolicy) -> bool:
    size = abs(variance)
    return size > policy.recount_units or size * 10_000 > policy.recount_bp * abs(expected)


def decide(
    expected: int,
    counts: Sequence[int],
    unit_cost_minor: int,
    policy: CountPolicy = DEFAULT_COUNT_POLICY,
    cost_per: int = 1,
) -> CountDecision:
    """Decide what happens to a count of a place whose book figure is ``expected``.

    ``counts`` are this task's counts so far, oldest first; the last is the one to post.
    ``expected`` may be negative (a counter sale ahead of the book); counts may not.
    """
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise CountRuleError(f"book quantity must be a whole number, got {expected!r}")
    if not counts:
        raise CountRuleError("no count given")
    if len(counts) > policy.max_counts:
        raise CountRuleError(f"at most {policy.max_counts} counts, got {len(counts)}")
    for n in counts:
        _whole(n, "counted quantity")
    counted = counts[-1]
    variance = counted - expected
    value = variance_value(variance, unit_cost_minor, cost_per)
    over_value = value > policy.approval_minor
    worth = format_amount(value)

    if variance == 0:
        return CountDecision("accept", 0, 0, "count matches the book")
    agreed = any(abs(counted - earlier) <= policy.agree_units for earlier in counts[:-1])
    if agreed or not _outside_tolerance(expected, variance, policy):
        if over_value:
            return CountDecision(
                "approve", variance, value, f"difference of {worth} needs a manager's approval"
            )
        why = "two counts agree" if agreed else "difference within tolerance"
        return CountDecision("accept", variance, value, why)
    if len(counts) < policy.max_counts:
        return CountDecision(
            "recount", variance, value, "difference too large: count this place again"
        )
    return CountDecision(
        "approve", variance, value, f"{len(counts)} counts disagree: a manager decides"
    )


_SAID = {r: r for r in (N_("count matches the book"), N_("two counts agree"),
                        N_("difference within tolerance"),
                        N_("difference too large: count this place again"))}
_NEEDS_APPROVAL = re.compile(r"difference of (.+) needs a manager's approval")
_DISAGREE = re.compile(r"(\d+) counts disagree: a manager decides")


def say_reason(reason: str) -> str:
    """A decision's reason as a screen shows it: kept in English (the count line's and
    the audit's words), said in the language in force."""
    if reason in _SAID:
        return _(reason)
    if m := _NEEDS_APPROVAL.fullmatch(reason):
        return _("difference of %(worth)s needs a manager's approval") % {"worth": m[1]}
    if m := _DISAGREE.fullmatch(reason):
        return _("%(num)s counts disagree: a manager decides") % {"num": m[1]}
    return reason
