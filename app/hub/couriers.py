"""Which courier takes an order. Pure.

Rules map a PIN code (exact), a PIN prefix (`5600*`), a region (`region:East`, a
named list of PIN codes or prefixes) or anything (`*`) to an ordered list of
couriers. The most specific matching rule wins: exact, then the longest prefix,
then a region, then `*`. Within its list the first courier that is available and
below its capacity is chosen; each one passed over says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CourierRule:
    match: str
    couriers: tuple[str, ...]


@dataclass(frozen=True)
class CourierState:
    available: bool = True
    open_orders: int = 0
    capacity: int = 0  # 0: no limit


@dataclass(frozen=True)
class CourierChoice:
    courier: str | None
    rule: str | None  # the rule's match text
    passed_over: tuple[str, ...]

    def describe(self) -> str:
        if self.rule is None:
            return "no courier rule covers this PIN code"
        head = (f"courier {self.courier} (rule {self.rule})" if self.courier
                else f"no courier free under rule {self.rule}")
        return head + ("; " + "; ".join(self.passed_over) if self.passed_over else "")


def matches(pattern: str, pincode: str) -> bool:
    return pincode.startswith(pattern[:-1]) if pattern.endswith("*") else pincode == pattern


def specificity(rule: CourierRule, pincode: str, regions: Mapping[str, Sequence[str]]
                ) -> tuple[int, int] | None:
    """How well a rule fits the PIN code (higher is better), or None."""
    match = rule.match
    if match == "*":
        return (0, 0)
    if match.startswith("region:"):
        members = regions.get(match.removeprefix("region:"), ())
        return (1, 0) if any(matches(m, pincode) for m in members) else None
    if match.endswith("*"):
        return (2, len(match)) if matches(match, pincode) else None
    return (3, 0) if match == pincode else None


def rule_for(pincode: str, rules: Sequence[CourierRule],
             regions: Mapping[str, Sequence[str]]) -> CourierRule | None:
    """The most specific rule for the PIN code (the first of equals), or None."""
    fitting = [(fit, -i, r) for i, r in enumerate(rules)
               if (fit := specificity(r, pincode, regions)) is not None]
    return max(fitting, key=lambda t: (t[0], t[1]))[2] if fitting else None


def choose_courier(pincode: str, rules: Sequence[CourierRule],
                   regions: Mapping[str, Sequence[str]],
                   state: Mapping[str, CourierState]) -> CourierChoice:
    rule = rule_for(pincode, rules, regions)
    if rule is None:
        return CourierChoice(None, None, ())
    passed = []
    for name in rule.couriers:
        s = state.get(name, CourierState())
        if not s.available:
            passed.append(f"{name} is marked unavailable")
        elif s.capacity and s.open_orders >= s.capacity:
            passed.append(f"{name} is at capacity ({s.open_orders}/{s.capacity})")
        else:
            return CourierChoice(name, rule.match, tuple(passed))
    return CourierChoice(None, rule.match, tuple(passed))
