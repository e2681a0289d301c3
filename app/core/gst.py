"""The GST table of every document: one row per rate. Pure, no I/O.

The sale's cart, the on-screen receipt, the paper receipt, the e-receipt, the refund
slip and credit note and the X/Z reports all show this table, and all get it from
:func:`tax_rows`; templates only print the rows, they never compute a half.

The rule (see ``money.gst_in_inclusive`` for one line): GST is contained in the
tax-inclusive amount; CGST and SGST are each computed on the taxable value at half
the rate, once, so the two halves are always equal. A row's CGST is therefore the
sum of its lines' halves, i.e. half of its GST. The taxable value is what is left:
taxable + CGST + SGST == the amount of the row, to the paisa. Lines written before
the equal-halves rule (a store's older sales) may carry an odd GST; such an odd
paisa stays in the taxable value (the half is rounded toward zero), never between
CGST and SGST. Refund lines come in negative, so a report's rows are net of refunds.

An inter-state supply (a B2B tax invoice to a buyer in another state, issue #18) carries
IGST instead: ``tax_rows(parts, inter_state=True)`` gives each row IGST = the row's whole
GST, CGST = SGST = 0 and taxable = amount - GST. Only the split differs; the GST a line
carries is the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["TaxRow", "half_of", "mixed_tax_rows", "tax_rows"]


@dataclass(frozen=True, slots=True)
class TaxRow:
    """One rate of a document's GST table (amounts in paise, signed)."""

    rate_bp: int
    taxable: int
    cgst: int
    sgst: int
    igst: int = 0  # inter-state supplies only; then cgst == sgst == 0

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> int:
        """What the lines of this rate cost, GST included: taxable + CGST + SGST + IGST."""
        return self.taxable + self.tax


def half_of(tax: int) -> int:
    """CGST (= SGST) of a GST amount: exact for the even GST every line has; an odd
    paisa (older data) is left out, rounding toward zero so a refund mirrors its sale."""
    return tax // 2 if tax >= 0 else -(-tax // 2)


def tax_rows(parts: Iterable[tuple[int, int, int]], inter_state: bool = False
             ) -> tuple[TaxRow, ...]:
    """(rate in bp, amount incl. GST, GST in it) per line -> one row per rate, by rate.

    Lines of one rate are added first (amount and GST), then the row's half is taken,
    so a report built from per-rate sums gives the same rows as one built line by line.
    ``inter_state``: the rows carry IGST (the row's whole GST), CGST = SGST = 0.
    """
    sums: dict[int, tuple[int, int]] = {}
    for rate, amount, tax in parts:
        a, t = sums.get(rate, (0, 0))
        sums[rate] = (a + amount, t + tax)
    rows = []
    for rate, (amount, tax) in sorted(sums.items()):
        if inter_state:
            rows.append(TaxRow(rate, amount - tax, 0, 0, tax))
            continue
        half = half_of(tax)
        rows.append(TaxRow(rate, amount - 2 * half, half, half))
    return tuple(rows)


def mixed_tax_rows(parts: Iterable[tuple[int, int, int, bool]]) -> tuple[TaxRow, ...]:
    """(rate in bp, amount incl. GST, GST in it, inter-state?) per line -> one row per
    rate for a report that covers both kinds of supply (the X/Z report, the sales
    report): intra-state lines through ``tax_rows`` (equal CGST and SGST halves),
    inter-state ones through ``tax_rows(inter_state=True)`` (IGST), then the two rows
    of a rate side by side in one."""
    parts = list(parts)
    intra = tax_rows((r, a, t) for r, a, t, inter in parts if not inter)
    inter = tax_rows(((r, a, t) for r, a, t, inter in parts if inter), inter_state=True)
    merged: dict[int, TaxRow] = {r.rate_bp: r for r in intra}
    for r in inter:
        a = merged.get(r.rate_bp)
        merged[r.rate_bp] = r if a is None else TaxRow(
            r.rate_bp, a.taxable + r.taxable, a.cgst, a.sgst, a.igst + r.igst)
    return tuple(merged[k] for k in sorted(merged))
