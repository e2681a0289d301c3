"""GST documents: the rules of tax invoices, credit notes and bills of supply (issue #18).

Pure, no I/O. The services (app/pos/payment.py, app/pos/refunds.py) ask these
functions and do the writing; the numbering itself is ``app.core.db.next_number`` on the
name :func:`sequence_name` gives.

- A GSTIN is 15 characters: 2-digit state code, the holder's PAN (10), the registration
  count (1, not '0'), 'Z', and a check character (Luhn mod 36 over 0-9A-Z).
  :func:`parse_gstin` says which of these is wrong, in words a cashier can act on.
- Place of supply of a B2B sale of goods over the counter = the buyer's state (the
  first two digits of the buyer's GSTIN). It is inter-state, so IGST, when that differs
  from the store's own state (from ``store.gstin``, else ``store.state_code``).
- Financial year: April to March, labelled "2026-27", from the store's local date.
- Document numbers (CGST rule 46(b)): at most 16 characters of letters, digits, '-' and
  '/', unique per financial year. Kirana writes ``<series>/<kind><yy><yy>/<5 digits>``,
  e.g. ``S1/I2627/00001`` (invoice) and ``S1/C2627/00001`` (credit note): the series
  is the store's (1 to 4 characters), so any series has room for 99999 documents of each
  kind a year. Invoices and credit notes count separately, each from 1 every April.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from stdnum import luhn
from stdnum.exceptions import ValidationError

from app.core.i18n import _
from app.core.words import count_of

__all__ = [
    "DOC_KINDS", "MAX_DOCUMENT_NUMBER", "MAX_NUMBER_LENGTH", "MAX_SERIES_LENGTH",
    "STATE_NAMES", "DocumentNumberError", "Gstin", "GstinError", "SeriesError",
    "business_bill_refusal", "check_series", "check_state_code", "document_number", "financial_year",
    "financial_year_at", "is_inter_state", "parse_gstin", "place_of_supply",
    "sequence_name", "state_label", "store_state",
]

DOC_KINDS = ("b2c", "b2b", "bos")  # sales.doc_kind: retail bill, tax invoice, bill of supply
MAX_NUMBER_LENGTH = 16  # CGST rule 46(b): "not exceeding sixteen characters"
MAX_SERIES_LENGTH = 4  # 4 + len("/I2627/") + 5 digits = 16
MAX_DOCUMENT_NUMBER = 99_999
_KIND_LETTER = {"invoice": "I", "credit": "C"}

# GST state codes, names as the GST portal (and its GSTR-1 offline tool) lists them for
# the place of supply: "29-Karnataka". 25 and 26 were merged in 2020 (26 now names both);
# 28 is Andhra Pradesh before Telangana was formed (GSTINs there start with 37).
STATE_NAMES: dict[str, str] = {
    "01": "Jammu and Kashmir", "02": "Himachal Pradesh", "03": "Punjab",
    "04": "Chandigarh", "05": "Uttarakhand", "06": "Haryana", "07": "Delhi",
    "08": "Rajasthan", "09": "Uttar Pradesh", "10": "Bihar", "11": "Sikkim",
    "12": "Arunachal Pradesh", "13": "Nagaland", "14": "Manipur", "15": "Mizoram",
    "16": "Tripura", "17": "Meghalaya", "18": "Assam", "19": "West Bengal",
    "20": "Jharkhand", "21": "Odisha", "22": "Chhattisgarh", "23": "Madhya Pradesh",
    "24": "Gujarat", "25": "Daman and Diu",
    "26": "Dadra and Nagar Haveli and Daman and Diu", "27": "Maharashtra",
    "28": "Andhra Pradesh (Before Division)", "29": "Karnataka", "30": "Goa",
    "31": "Lakshadweep", "32": "Kerala", "33": "Tamil Nadu", "34": "Puducherry",
    "35": "Andaman and Nicobar Islands", "36": "Telangana", "37": "Andhra Pradesh",
    "38": "Ladakh", "97": "Other Territory",
}

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHAPE = re.compile(r"[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][0-9A-Z]Z[0-9A-Z]")
_SERIES = re.compile(r"[A-Za-z0-9/-]+")


class GstinError(ValueError):
    """A GSTIN that cannot be right; the message says what is wrong, for the cashier."""


class SeriesError(ValueError):
    """A document series the rules do not allow."""


class DocumentNumberError(ValueError):
    """A document number that would not fit 16 characters (the year's series is full)."""


@dataclass(frozen=True, slots=True)
class Gstin:
    number: str  # 15 characters, upper case

    @property
    def state_code(self) -> str:
        return self.number[:2]

    @property
    def pan(self) -> str:
        return self.number[2:12]


def _tidy(text: str) -> str:
    return "".join(text.split()).upper()


def parse_gstin(text: str) -> Gstin:
    """Check a GSTIN as typed (spaces ignored, any case); raise GstinError saying why not."""
    if not isinstance(text, str):
        raise GstinError(_("Type the GSTIN: 15 letters and digits."))
    if "\x00" in text:
        raise GstinError(_("The GSTIN has a character that cannot be typed; type it again."))
    if len(text) > 200:  # a pasted document, not a GSTIN; do not echo it back
        raise GstinError(_("That is far too long for a GSTIN: it has 15 letters and digits."))
    number = _tidy(text)
    if not number:
        raise GstinError(_("Type the GSTIN: 15 letters and digits."))
    if len(number) != 15:
        raise GstinError(_("A GSTIN has 15 letters and digits; this one has %(num)s.")
                         % {"num": len(number)})
    if not number.isascii() or not number.isalnum():
        raise GstinError(_("A GSTIN has only letters and digits; check what was typed."))
    if not number[:2].isdigit():
        raise GstinError(_("A GSTIN starts with the 2-digit state code, like 29 for Karnataka."))
    if number[:2] not in STATE_NAMES:
        raise GstinError(_("%(code)s is not a GST state code (the GSTIN's first 2 digits).")
                         % {"code": number[:2]})
    if not _SHAPE.fullmatch(number):
        raise GstinError(_("Characters 3 to 12 of a GSTIN are the PAN (5 letters, 4 digits, "
                           "1 letter) and the 14th is Z; check what was typed."))
    if number[12] == "0":
        raise GstinError(_("The 13th character of a GSTIN is never 0; check what was typed."))
    try:
        luhn.validate(number, _ALPHABET)
    except ValidationError:
        raise GstinError(_("The last character (check character) %(char)s does not match: "
                           "a character was typed wrong. Check the GSTIN again.")
                         % {"char": number[14]}) from None
    return Gstin(number)


def check_state_code(code: str) -> str:
    """A 2-digit GST state code from the table, else ValueError."""
    if not isinstance(code, str) or code not in STATE_NAMES:
        shown = code[:10] if isinstance(code, str) else code
        raise ValueError(f"{shown!r} is not a GST state code (01 to 38, or 97)")
    return code


def state_label(code: str) -> str:
    """ "29" -> "29-Karnataka", as the GST portal writes a place of supply."""
    return f"{code}-{STATE_NAMES[check_state_code(code)]}"


def store_state(store_gstin: str, state_code: str = "") -> str:
    """The store's own state: its GSTIN's first two digits, else the configured code;
    '' when neither is set (then every sale counts as within the state)."""
    if store_gstin:
        return parse_gstin(store_gstin).state_code
    return check_state_code(state_code) if state_code else ""


def place_of_supply(buyer: Gstin) -> str:
    """Goods sold over the counter to a registered buyer: the buyer's state."""
    return buyer.state_code


def is_inter_state(own_state: str, place: str) -> bool:
    """IGST applies when the place of supply is not the store's own state. An unknown
    own state (no GSTIN, no store.state_code) or no place (B2C) is within the state."""
    return bool(own_state and place and own_state != place)


def business_bill_refusal(store_gstin: str, own_state: str, composition: bool,
                          place: str) -> str:
    """Why this store may not bill this registered buyer ('' when it may):
    - a store with no GSTIN issues no tax invoice (rule 46 names the supplier's GSTIN);
    - a composition dealer may not supply to another state (CGST Act s.10(2)(c))."""
    if not store_gstin:
        return _("This store has no GSTIN in its settings, so it cannot issue a tax "
                 "invoice. Sell it as a retail bill, or ask the manager to set store.gstin.")
    if composition and place and own_state and place != own_state:
        return _("Under the composition scheme this store cannot sell to a buyer in "
                 "another state (%(place)s). Sell it as a retail bill to a buyer here, or "
                 "refuse the sale.") % {"place": state_label(place)}
    return ""


def financial_year(day: date) -> str:
    """The Indian financial year (April to March) of a local date: 2026-04-01 -> "2026-27",
    2027-03-31 -> "2026-27"."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def financial_year_at(at: datetime, tz: tzinfo) -> str:
    """The financial year of an instant, by the store's local date (an aware datetime, or
    a naive one meaning UTC as app.core.clock gives)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return financial_year(at.astimezone(tz).date())


def check_series(series: str) -> str:
    """A store's document series: 1 to 4 letters, digits, '-' or '/'."""
    if not isinstance(series, str) or not series:
        raise SeriesError("the series is empty; use 1 to 4 letters or digits, like S1")
    if len(series) > MAX_SERIES_LENGTH:
        raise SeriesError(f"the series has {count_of(len(series), 'character')}; at most "
                          f"{MAX_SERIES_LENGTH} fit the 16 of a GST document number")
    if not _SERIES.fullmatch(series) or not series.isascii():
        raise SeriesError("a series has only letters, digits, '-' and '/'")
    return series


def sequence_name(kind: str, series: str, fy: str) -> str:
    """The gapless counter of one kind of document of one series in one year:
    "invoice:S1:2026-27" or "credit:S1:2026-27"."""
    if kind not in _KIND_LETTER:
        raise ValueError(f"unknown document kind {kind!r}")
    return f"{kind}:{check_series(series)}:{fy}"


def document_number(kind: str, series: str, fy: str, n: int) -> str:
    """The printed number of the n-th document of its kind in the year: "S1/I2627/00001"."""
    if kind not in _KIND_LETTER:
        raise ValueError(f"unknown document kind {kind!r}")
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", fy):
        raise ValueError(f"{fy[:20]!r} is not a financial year like 2026-27")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DocumentNumberError("document numbers start at 1")
    if n > MAX_DOCUMENT_NUMBER:
        raise DocumentNumberError(_("the series %(series)s has used all %(most)s numbers of "
                                    "%(year)s; set another store.invoice_series")
                                  % {"series": series, "most": MAX_DOCUMENT_NUMBER, "year": fy})
    number = f"{check_series(series)}/{_KIND_LETTER[kind]}{fy[2:4]}{fy[5:7]}/{n:05d}"
    assert len(number) <= MAX_NUMBER_LENGTH, number
    return number
