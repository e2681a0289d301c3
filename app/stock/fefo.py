"""FEFO (first expired, first out): which batches and bins to take a quantity from.

Perishables must leave before they expire (issue #17). The picker's task, the put-back
list and a write-off all ask this one rule; the service loads the product's batch levels,
asks :func:`choose` and records the moves. No I/O and no clock: ``today`` is a parameter.

Decisions worth knowing:

* A batch is sellable up to and including its expiry date; from the day after (or earlier,
  with ``margin_days``, for goods that must leave the shelf before they expire) it is
  *expired*: never chosen, reported in ``FefoPlan.expired`` for the expiry page.
* Earliest expiry first; stock without an expiry date (products that do not track
  expiry, or a batch received without one) goes last. Ties go by the bin's pick
  sequence, then bin code and batch, so the same levels always give the same plan.
* A batch with nothing (or a negative level: a counter sale never waits for the book
  figure) is skipped. When there is not enough, the plan takes everything sellable and
  says how much is ``short``; it never invents stock.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["BatchLevel", "FefoError", "FefoPlan", "Take", "choose", "is_expired"]


class FefoError(ValueError):
    """Input the FEFO rule cannot plan with; ``str(e)`` is shown to staff as is."""


@dataclass(frozen=True, slots=True)
class BatchLevel:
    """Stock of one product in one bin and batch, as the ledger's level table holds it."""

    bin_code: str
    pick_sequence: int  # the bin's place on the pick path (lower is visited first)
    batch: str | None  # None: stock without a batch (product does not track expiry)
    expiry: datetime.date | None
    available: int  # base units (pieces, grams): on hand minus what is reserved


@dataclass(frozen=True, slots=True)
class Take:
    """Take ``quantity`` from this batch level."""

    level: BatchLevel
    quantity: int


@dataclass(frozen=True, slots=True)
class FefoPlan:
    takes: tuple[Take, ...]  # in the order to take them: earliest expiry first
    short: int  # wanted minus what could be taken (0 when there is enough)
    expired: tuple[BatchLevel, ...]  # expired batches holding stock: write off, never pick

    @property
    def taken(self) -> int:
        return sum(take.quantity for take in self.takes)


def is_expired(expiry: datetime.date | None, today: datetime.date, margin_days: int = 0) -> bool:
    """True when stock with this expiry may no longer be sold or picked today."""
    if expiry is None:
        return False
    return expiry < today + datetime.timedelta(days=margin_days)


def _fefo_key(level: BatchLevel) -> tuple[bool, datetime.date, int, str, str]:
    return (
        level.expiry is None,
        level.expiry or datetime.date.max,
        level.pick_sequence,
        level.bin_code,
        level.batch or "",
    )


def choose(
    levels: Iterable[BatchLevel],
    wanted: int,
    today: datetime.date,
    margin_days: int = 0,
) -> FefoPlan:
    """Plan taking ``wanted`` base units: earliest expiry first, expired batches never."""
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 0:
        raise FefoError(f"quantity wanted must be a whole number of at least 0, got {wanted!r}")
    if isinstance(margin_days, bool) or not isinstance(margin_days, int) or margin_days < 0:
        raise FefoError(f"days before expiry must be at least 0, got {margin_days!r}")
    seen: set[tuple[str, str | None]] = set()
    sellable: list[BatchLevel] = []
    expired: list[BatchLevel] = []
    for level in levels:
        key = (level.bin_code, level.batch)
        if key in seen:
            raise FefoError(f"bin {level.bin_code} batch {level.batch or '(none)'} is listed twice")
        seen.add(key)
        if isinstance(level.available, bool) or not isinstance(level.available, int):
            raise FefoError(
                f"bin {level.bin_code}: quantity must be whole base units, got {level.available!r}"
            )
        if level.available <= 0:
            continue
        if is_expired(level.expiry, today, margin_days):
            expired.append(level)
        else:
            sellable.append(level)
    sellable.sort(key=_fefo_key)
    expired.sort(key=_fefo_key)
    takes: list[Take] = []
    left = wanted
    for level in sellable:
        if left == 0:
            break
        quantity = min(left, level.available)
        takes.append(Take(level, quantity))
        left -= quantity
    return FefoPlan(takes=tuple(takes), short=left, expired=tuple(expired))
