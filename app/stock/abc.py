"""ABC classification by sales value, and which products are due for a cycle count.

Counting every product every week costs too much; counting the few that make most of
the sales often, and the long tail rarely, keeps the book right where it matters
(issue #17). The service sums each product's sales value over a period, asks
:func:`classify`, and schedules counts with :func:`due_for_count`. No I/O, no clock.

* Products are ranked by sales value, highest first; equal values keep the order they
  were given in (a stable sort), so the service decides ties (say, by product code).
* A product is A while the value *before* it is under ``a_bp`` of the total (basis
  points: 8000 = 80 %), so the product that crosses 80 % is still A; B likewise up to
  ``a_bp + b_bp``; the rest, and every product that sold nothing, is C.
* A negative value (refunds above sales in the period) counts as nothing sold.
"""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_COUNT_EVERY_DAYS",
    "AbcClass",
    "AbcError",
    "AbcThresholds",
    "classify",
    "due_for_count",
]

AbcClass = Literal["A", "B", "C"]
_CLASSES: tuple[AbcClass, ...] = ("A", "B", "C")

DEFAULT_COUNT_EVERY_DAYS: Mapping[AbcClass, int] = {"A": 7, "B": 30, "C": 90}
"""Days between counts of a product in each class, unless the store's config says otherwise."""


class AbcError(ValueError):
    """Input the classification cannot use; ``str(e)`` is shown to staff as is."""


@dataclass(frozen=True, slots=True)
class AbcThresholds:
    a_bp: int = 8000  # A: the top items making 80 % of sales value
    b_bp: int = 1500  # B: the next 15 %; C: the rest

    def __post_init__(self) -> None:
        for name, value in (("A share", self.a_bp), ("B share", self.b_bp)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AbcError(f"{name} must be basis points of at least 0, got {value!r}")
        if self.a_bp + self.b_bp > 10_000:
            raise AbcError(
                f"A and B shares add up to more than 100 % ({self.a_bp + self.b_bp} basis points)"
            )


DEFAULT_THRESHOLDS = AbcThresholds()


def classify(
    sales_value: Iterable[tuple[str, int]],
    thresholds: AbcThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, AbcClass]:
    """Class of every product from (product id, sales value in paise) pairs."""
    values: dict[str, int] = {}
    for product, value in sales_value:
        if product in values:
            raise AbcError(f"product {product} is listed twice")
        if isinstance(value, bool) or not isinstance(value, int):
            raise AbcError(f"sales value of {product} must be whole paise, got {value!r}")
        values[product] = max(value, 0)
    ranked = sorted(values, key=lambda p: -values[p])  # stable: ties keep the given order
    total = sum(values.values())
    a_line = thresholds.a_bp * total
    b_line = (thresholds.a_bp + thresholds.b_bp) * total
    classes: dict[str, AbcClass] = {}
    before = 0
    for product in ranked:
        value = values[product]
        if value == 0:
            classes[product] = "C"
        elif before * 10_000 < a_line:
            classes[product] = "A"
        elif before * 10_000 < b_line:
            classes[product] = "B"
        else:
            classes[product] = "C"
        before += value
    return classes


def due_for_count(
    classes: Mapping[str, AbcClass],
    last_counted: Mapping[str, datetime.date | None],
    today: datetime.date,
    every_days: Mapping[AbcClass, int] = DEFAULT_COUNT_EVERY_DAYS,
) -> Sequence[str]:
    """Products due for a count today, most overdue first (never counted first of all).

    Due when never counted or when at least the class's interval has passed since the
    last count. Equal overdue-ness: A before B before C, then the order of ``classes``.
    """
    for cls in _CLASSES:
        days = every_days.get(cls)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise AbcError(f"count interval for class {cls} must be at least 1 day, got {days!r}")
    due: list[tuple[int, int, int, str]] = []
    for order, (product, cls) in enumerate(classes.items()):
        last = last_counted.get(product)
        interval = every_days[cls]
        if last is None:
            overdue = 10**9  # never counted: before everything else
        else:
            overdue = (today - last).days - interval
            if overdue < 0:
                continue
        due.append((-overdue, _CLASSES.index(cls), order, product))
    due.sort()
    return [product for *_, product in due]
