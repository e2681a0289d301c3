"""Keep card numbers (PANs) out of the system, so it stays out of PCI DSS scope.

The till only ever needs the card terminal's approval code, its RRN or the last four
digits. A card number is 13 to 19 digits with a valid Luhn check digit; staff type it as
one run (4111111111111111) or in groups (4111 1111 1111 1111, 4111-1111-1111-1111).
:func:`looks_like_card_number` finds one anywhere in a piece of text, so free-text fields
(reasons, notes) are checked as well as references.

What is refused: any run of consecutive digit groups (separated by spaces or dashes) that
has 13-19 digits in all and passes Luhn. What is still accepted: approval codes (6
characters), 12-digit RRNs and UPI reference numbers, 10-digit phone numbers, bill and
refund numbers (S1-000123), and any 13-19 digit number whose check digit is wrong (9 in
10 of them). Digits from any script (Devanagari ४, full-width ４) count as digits.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import luhn

from app.core.i18n import N_

# Marked for the catalogue; translated where it is shown (app/pos/common.py).
CARD_NUMBER_MESSAGE = N_("That looks like a card number. Type only the terminal's approval "
                         "code or the last 4 digits.")
_GROUPS = re.compile(r"[0-9]+(?:[ \-]+[0-9]+)*")
_SEPARATORS = re.compile(r"[ \-]+")


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def looks_like_card_number(text: str) -> bool:
    """True if `text` holds 13-19 digits, in one run or in neighbouring groups, that
    pass the Luhn check."""
    for run in _GROUPS.findall(_ascii_digits(text)):
        groups = _SEPARATORS.split(run)
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn.is_valid(digits):
                    return True
    return False
