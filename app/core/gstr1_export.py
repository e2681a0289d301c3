"""A :class:`app.core.gstr1.Gstr1` as the files an accountant uploads. Pure, no I/O.

- CSV, one file per section, with the column headers of the GST offline tool's
  templates (b2b, b2cl, b2cs, cdnr, cdnur, exemp, hsn(b2b), hsn(b2c), docs). Every cell
  goes through app/core/csv_safe (a buyer's name like ``=HYPERLINK(..)`` stays text).
- JSON in the layout the offline tool and the portal import (gstin, fp "MMYYYY", b2b,
  b2cl, b2cs, cdnr, cdnur, nil, hsn {hsn_b2b, hsn_b2c}, doc_issue). Sections with nothing
  in them are left out, as the offline tool does.

Amounts are paise up to here; they become rupees with two decimals only in this module
(:func:`rupees` for CSV text, :func:`_amount` for JSON numbers, both exact).
docs/gstr1.md lists what of the layout could not be checked against the tool itself.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

from app.core import csv_safe
from app.core.gst_invoice import STATE_NAMES
from app.core.gstr1 import Gstr1, HsnRow, Invoice, Note, RateRow
from app.core.money import to_decimal_string

__all__ = ["CSV_HEADERS", "SECTIONS", "csv_files", "section_csv", "to_json", "rupees",
           "state_label"]

JSON_VERSION = "GST3.2.4"  # the offline tool's schema version written in its JSON files

CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "b2b": ("GSTIN/UIN of Recipient", "Receiver Name", "Invoice Number", "Invoice date",
            "Invoice Value", "Place Of Supply", "Reverse Charge", "Applicable % of Tax Rate",
            "Invoice Type", "E-Commerce GSTIN", "Rate", "Taxable Value", "Cess Amount"),
    "b2cl": ("Invoice Number", "Invoice date", "Invoice Value", "Place Of Supply",
             "Applicable % of Tax Rate", "Rate", "Taxable Value", "Cess Amount",
             "E-Commerce GSTIN"),
    "b2cs": ("Type", "Place Of Supply", "Applicable % of Tax Rate", "Rate", "Taxable Value",
             "Cess Amount", "E-Commerce GSTIN"),
    "cdnr": ("GSTIN/UIN of Recipient", "Receiver Name", "Note Number", "Note Date",
             "Note Type", "Place Of Supply", "Reverse Charge", "Note Supply Type",
             "Note Value", "Applicable % of Tax Rate", "Rate", "Taxable Value",
             "Cess Amount"),
    "cdnur": ("UR Type", "Note Number", "Note Date", "Note Type", "Place Of Supply",
              "Note Value", "Applicable % of Tax Rate", "Rate", "Taxable Value",
              "Cess Amount"),
    "exemp": ("Description", "Nil Rated Supplies",
              "Exempted(other than nil rated/non GST supply)", "Non-GST Supplies"),
    "hsn_b2b": ("HSN", "Description", "UQC", "Total Quantity", "Total Value", "Rate",
                "Taxable Value", "Integrated Tax Amount", "Central Tax Amount",
                "State/UT Tax Amount", "Cess Amount"),
    "hsn_b2c": ("HSN", "Description", "UQC", "Total Quantity", "Total Value", "Rate",
                "Taxable Value", "Integrated Tax Amount", "Central Tax Amount",
                "State/UT Tax Amount", "Cess Amount"),
    "docs": ("Nature of Document", "Sr. No. From", "Sr. No. To", "Total Number", "Cancelled"),
}
SECTIONS = tuple(CSV_HEADERS)

UQC_TEXT = {"NOS": "NOS-NUMBERS", "KGS": "KGS-KILOGRAMS", "LTR": "LTR-LITRES",
            "OTH": "OTH-OTHERS"}
NIL_TEXT = {
    "INTRB2B": "Inter-State supplies to registered persons",
    "INTRAB2B": "Intra-State supplies to registered persons",
    "INTRB2C": "Inter-State supplies to unregistered persons",
    "INTRAB2C": "Intra-State supplies to unregistered persons",
}


def rupees(paise: int) -> str:
    """12345 -> '123.45'; -5 -> '-0.05': money.to_decimal_string, the CSV rule."""
    return to_decimal_string(paise)


def _amount(paise: int) -> float:
    """Paise as the JSON number of rupees; exact for every paise value a float holds
    exactly as a decimal of two places (below 2**53 paise, far above any return)."""
    return float(Decimal(paise).scaleb(-2))


def rate(rate_bp: int) -> int | float:
    """500 bp -> 5; 25 bp -> 0.25 (the tool's rates: 0.1, 0.25, 1.5, 3, 5, 7.5, ...)."""
    return rate_bp // 100 if rate_bp % 100 == 0 else float(Decimal(rate_bp).scaleb(-2))


def _rate_text(rate_bp: int) -> str:
    return str(rate(rate_bp))


def state_label(code: str) -> str:
    """'29' -> '29-Karnataka', the offline tool's place of supply; an unknown code as is."""
    name = STATE_NAMES.get(code)
    return f"{code}-{name}" if name else code


def _day(d: Any) -> str:
    """The templates' date: 05-Nov-2026 (dd-mmm-yyyy), in English whatever the locale."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
    return f"{d.day:02d}-{months[d.month - 1]}-{d.year:04d}"


def _json_day(d: Any) -> str:
    return f"{d.day:02d}-{d.month:02d}-{d.year:04d}"


def _quantity(h: HsnRow) -> Decimal:
    """Pieces as they are; grams and millilitres as kilograms and litres (3 places)."""
    return Decimal(h.quantity) if h.uqc in ("NOS", "OTH") else Decimal(h.quantity).scaleb(-3)


def _rows(r: Gstr1, section: str) -> list[list[Any]]:
    if section == "b2b":
        return [[i.ctin, i.buyer_name, i.number, _day(i.date), rupees(i.value),
                 state_label(i.pos), "N", "", "Regular B2B", "", _rate_text(x.rate_bp),
                 rupees(x.taxable), "0.00"] for i in r.b2b for x in i.rows]
    if section == "b2cl":
        return [[i.number, _day(i.date), rupees(i.value), state_label(i.pos), "",
                 _rate_text(x.rate_bp), rupees(x.taxable), "0.00", ""]
                for i in r.b2cl for x in i.rows]
    if section == "b2cs":
        return [["OE", state_label(x.pos), "", _rate_text(x.rate_bp), rupees(x.taxable),
                 "0.00", ""] for x in r.b2cs]
    if section == "cdnr":
        return [[n.ctin, n.buyer_name, n.number, _day(n.date), n.note_type,
                 state_label(n.pos), "N", "Regular B2B", rupees(n.value), "",
                 _rate_text(x.rate_bp), rupees(x.taxable), "0.00"]
                for n in r.cdnr for x in n.rows]
    if section == "cdnur":
        return [[n.ur_type, n.number, _day(n.date), n.note_type, state_label(n.pos),
                 rupees(n.value), "", _rate_text(x.rate_bp), rupees(x.taxable), "0.00"]
                for n in r.cdnur for x in n.rows]
    if section == "exemp":
        nil = {x.supply_type: x for x in r.nil}
        return [[text, rupees(nil[k].nil) if k in nil else "0.00", "0.00", "0.00"]
                for k, text in NIL_TEXT.items()]
    if section in ("hsn_b2b", "hsn_b2c"):
        table = section[4:]
        return [[h.hsn, "", UQC_TEXT.get(h.uqc, h.uqc), str(_quantity(h)), rupees(h.value),
                 _rate_text(h.rate_bp), rupees(h.taxable), rupees(h.igst), rupees(h.cgst),
                 rupees(h.sgst), "0.00"] for h in r.hsn if h.table == table]
    if section == "docs":
        return [[d.nature, d.first, d.last, d.total, d.cancelled] for d in r.docs]
    raise ValueError(f"no GSTR-1 section {section[:20]!r}")


def section_csv(r: Gstr1, section: str) -> str:
    """One section as CSV text: the template's header row, then the rows."""
    if section not in CSV_HEADERS:
        raise ValueError(f"no GSTR-1 section {section[:20]!r}")
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(CSV_HEADERS[section])
    w.writerows(_rows(r, section))
    return out.getvalue()


def csv_files(r: Gstr1) -> dict[str, str]:
    """File name -> CSV text, one per section (an empty month: headers only)."""
    return {f"{section}.csv": section_csv(r, section) for section in SECTIONS}


def _itm(x: RateRow, num: int, inter: bool) -> dict[str, Any]:
    det: dict[str, Any] = {"txval": _amount(x.taxable), "rt": rate(x.rate_bp)}
    if inter:
        det["iamt"] = _amount(x.igst)
    else:
        det["camt"] = _amount(x.cgst)
        det["samt"] = _amount(x.sgst)
    det["csamt"] = 0
    return {"num": num, "itm_det": det}


def _itms(rows: tuple[RateRow, ...], inter: bool) -> list[dict[str, Any]]:
    # The tool numbers items rate*100 + 1 (a 5 % row is item 501); any unique num is taken.
    return [_itm(x, x.rate_bp + 1, inter) for x in rows]


def _inv(i: Invoice, *, b2b: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"inum": i.number, "idt": _json_day(i.date), "val": _amount(i.value)}
    if b2b:
        d.update(pos=i.pos, rchrg="N", inv_typ="R")
    d["itms"] = _itms(i.rows, i.inter_state)
    return d


def _note(n: Note, *, registered: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"ntty": n.note_type, "nt_num": n.number, "nt_dt": _json_day(n.date),
                         "val": _amount(n.value), "pos": n.pos}
    if registered:
        d.update(rchrg="N", inv_typ="R")
    else:
        d = {"typ": n.ur_type, **d}
    d["itms"] = _itms(n.rows, n.inter_state)
    return d


def _hsn(rows: list[HsnRow]) -> list[dict[str, Any]]:
    return [{"num": k, "hsn_sc": h.hsn, "desc": "", "uqc": h.uqc, "qty": float(_quantity(h)),
             "rt": rate(h.rate_bp), "txval": _amount(h.taxable), "iamt": _amount(h.igst),
             "camt": _amount(h.cgst), "samt": _amount(h.sgst), "csamt": 0}
            for k, h in enumerate(rows, 1)]


def to_dict(r: Gstr1) -> dict[str, Any]:
    """The return as the offline tool's JSON object (see :func:`to_json`)."""
    out: dict[str, Any] = {"gstin": r.gstin, "fp": r.fp, "version": JSON_VERSION,
                           "hash": "hash"}
    by_ctin: dict[str, list[dict[str, Any]]] = {}
    for i in r.b2b:
        by_ctin.setdefault(i.ctin, []).append(_inv(i, b2b=True))
    if by_ctin:
        out["b2b"] = [{"ctin": k, "inv": v} for k, v in by_ctin.items()]
    by_pos: dict[str, list[dict[str, Any]]] = {}
    for i in r.b2cl:
        by_pos.setdefault(i.pos, []).append(_inv(i, b2b=False))
    if by_pos:
        out["b2cl"] = [{"pos": k, "inv": v} for k, v in sorted(by_pos.items())]
    if r.b2cs:
        rows = []
        for x in r.b2cs:
            row: dict[str, Any] = {"sply_ty": x.supply_type, "rt": rate(x.rate_bp),
                                   "typ": "OE", "pos": x.pos, "txval": _amount(x.taxable)}
            if x.inter_state:
                row["iamt"] = _amount(x.igst)
            else:
                row.update(camt=_amount(x.cgst), samt=_amount(x.sgst))
            row["csamt"] = 0
            rows.append(row)
        out["b2cs"] = rows
    notes_by: dict[str, list[dict[str, Any]]] = {}
    for n in r.cdnr:
        notes_by.setdefault(n.ctin, []).append(_note(n, registered=True))
    if notes_by:
        out["cdnr"] = [{"ctin": k, "nt": v} for k, v in notes_by.items()]
    if r.cdnur:
        out["cdnur"] = [_note(n, registered=False) for n in r.cdnur]
    if r.nil:
        out["nil"] = {"inv": [{"sply_ty": x.supply_type, "nil_amt": _amount(x.nil),
                               "expt_amt": _amount(x.exempt), "ngsup_amt": _amount(x.non_gst)}
                              for x in r.nil]}
    if r.hsn:
        out["hsn"] = {"hsn_b2b": _hsn([h for h in r.hsn if h.table == "b2b"]),
                      "hsn_b2c": _hsn([h for h in r.hsn if h.table == "b2c"])}
    if r.docs:
        det: dict[int, dict[str, Any]] = {}
        for d in r.docs:
            entry = det.setdefault(d.doc_num, {"doc_num": d.doc_num, "doc_typ": d.nature,
                                                "docs": []})
            entry["docs"].append({"num": len(entry["docs"]) + 1, "from": d.first,
                                  "to": d.last, "totnum": d.total, "cancel": d.cancelled,
                                  "net_issue": d.net_issued})
        out["doc_issue"] = {"doc_det": [det[k] for k in sorted(det)]}
    return out


def to_json(r: Gstr1) -> str:
    """The JSON text to import into the offline tool (UTF-8, no NaN ever)."""
    return json.dumps(to_dict(r), ensure_ascii=False, allow_nan=False, indent=1)
