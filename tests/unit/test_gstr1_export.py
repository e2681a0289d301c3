"""app.core.gstr1_export: the CSV files and the offline tool's JSON (issue #18)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import gstr1 as g
from app.core import gstr1_export as x
from tests.unit.test_gstr1 import BUYER, HOME, doc, documents, line

GSTIN = "29AAACK1234F1ZX"


def sample() -> g.Gstr1:
    return g.build(2026, 11, GSTIN, [
        doc("S1-000001", line(21_000), line(11_800, 1800, "3304"),
            line(9_000, 0, "0701", "kg", 1250)),
        doc("S1-R00001", line(10_500), kind="credit_note"),
        doc("INV/I2627/00001", line(10_500, inter=True), doc_kind="b2b", pos="27",
            gstin=BUYER, value=10_500, buyer_name="=HYPERLINK(\"http://x\")"),
        doc("INV/C2627/00001", line(10_500, inter=True), kind="credit_note", doc_kind="b2b",
            pos="27", gstin=BUYER, original_number="INV/I2627/00001", day=20),
        doc("S1-000002", line(g.B2CL_THRESHOLD_MINOR + 100, 1800, inter=True), pos="07"),
    ])


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_rupees_are_exact_two_decimals():
    assert [x.rupees(p) for p in (0, 5, 12345, -5, -100, 10**15 + 1)] == [
        "0.00", "0.05", "123.45", "-0.05", "-1.00", "10000000000000.01"]
    assert x.rate(500) == 5 and x.rate(25) == 0.25 and x.rate(0) == 0 and x.rate(750) == 7.5


def test_csv_headers_and_rows_per_section():
    files = x.csv_files(sample())
    assert set(files) == {f"{s}.csv" for s in x.SECTIONS}
    b2b = read(files["b2b.csv"])
    assert b2b[0][:5] == ["GSTIN/UIN of Recipient", "Receiver Name", "Invoice Number",
                          "Invoice date", "Invoice Value"]
    assert b2b[1][0] == BUYER and b2b[1][3] == "05-Nov-2026" and b2b[1][5] == "27-Maharashtra"
    assert b2b[1][1].startswith("'=")  # the buyer's name cannot run as a formula
    assert b2b[1][10:12] == ["5", "100.00"]
    b2cs = read(files["b2cs.csv"])
    assert b2cs[0] == list(x.CSV_HEADERS["b2cs"])
    assert ["OE", "29-Karnataka", "", "5", "100.00", "0.00", ""] in b2cs  # 200 sold - 100 back
    assert read(files["b2cl.csv"])[1][3] == "07-Delhi"
    assert read(files["cdnr.csv"])[1][2:5] == ["INV/C2627/00001", "20-Nov-2026", "C"]
    hsn = read(files["hsn_b2c.csv"])
    veg = next(r for r in hsn if r[0] == "0701")
    assert veg[2:4] == ["KGS-KILOGRAMS", "1.250"] and veg[5] == "0"
    assert read(files["exemp.csv"])[4] == ["Intra-State supplies to unregistered persons",
                                           "90.00", "0.00", "0.00"]
    assert read(files["docs.csv"])[1:] == [
        ["Invoices for outward supply", "INV/I2627/00001", "INV/I2627/00001", "1", "0"],
        ["Invoices for outward supply", "S1-000001", "S1-000002", "2", "0"],
        ["Credit Note", "INV/C2627/00001", "INV/C2627/00001", "1", "0"],
        ["Credit Note", "S1-R00001", "S1-R00001", "1", "0"]]


def test_json_layout():
    j = json.loads(x.to_json(sample()))
    assert j["gstin"] == GSTIN and j["fp"] == "112026"
    (party,) = j["b2b"]
    assert party["ctin"] == BUYER
    (inv,) = party["inv"]
    assert inv == {"inum": "INV/I2627/00001", "idt": "05-11-2026", "val": 105.0, "pos": "27",
                   "rchrg": "N", "inv_typ": "R",
                   "itms": [{"num": 501, "itm_det": {"txval": 100.0, "rt": 5, "iamt": 5.0,
                                                      "csamt": 0}}]}
    assert j["b2cl"][0]["pos"] == "07" and j["b2cl"][0]["inv"][0]["inum"] == "S1-000002"
    intra = next(r for r in j["b2cs"] if r["rt"] == 5)
    assert intra == {"sply_ty": "INTRA", "rt": 5, "typ": "OE", "pos": "29", "txval": 100.0,
                     "camt": 2.5, "samt": 2.5, "csamt": 0}
    (cn,) = j["cdnr"][0]["nt"]
    assert cn["ntty"] == "C" and cn["nt_num"] == "INV/C2627/00001" and cn["nt_dt"] == "20-11-2026"
    assert set(j["hsn"]) == {"hsn_b2b", "hsn_b2c"}
    assert j["hsn"]["hsn_b2b"] == []  # the B2B invoice and its credit note net out
    first = j["hsn"]["hsn_b2c"][0]
    assert (first["num"], first["hsn_sc"], first["uqc"], first["qty"]) == (1, "0701", "KGS", 1.25)
    assert j["nil"]["inv"] == [{"sply_ty": "INTRAB2C", "nil_amt": 90.0, "expt_amt": 0.0,
                                "ngsup_amt": 0.0}]
    det = {d["doc_num"]: d for d in j["doc_issue"]["doc_det"]}
    assert det[1]["doc_typ"] == "Invoices for outward supply" and len(det[1]["docs"]) == 2
    assert det[5]["docs"][1] == {"num": 2, "from": "S1-R00001", "to": "S1-R00001",
                                 "totnum": 1, "cancel": 0, "net_issue": 1}


def test_an_empty_month_exports_headers_and_a_bare_json():
    r = g.build(2026, 11, GSTIN, [])
    assert json.loads(x.to_json(r)) == {"gstin": GSTIN, "fp": "112026",
                                        "version": x.JSON_VERSION, "hash": "hash"}
    for section, text in x.csv_files(r).items():
        rows = read(text)
        expected = 5 if section == "exemp.csv" else 1  # exemp always lists its four kinds
        assert len(rows) == expected and rows[0] == list(x.CSV_HEADERS[section[:-4]])


def test_an_unknown_section_is_refused():
    with pytest.raises(ValueError, match="no GSTR-1 section"):
        x.section_csv(g.build(2026, 11, GSTIN, []), "../../etc/passwd" * 1000)


def test_hostile_text_in_numbers_stays_text():
    r = g.build(2026, 11, GSTIN, [doc("=1+1", line(100)), doc("@SUM(A1)", line(100)),
                                  doc("+91 98450", line(100))])
    rows = read(x.csv_files(r)["docs.csv"])
    cells = [c for row in rows[1:] for c in row[1:3]]
    assert all(not c.startswith(("=", "+", "@")) for c in cells)
    assert json.loads(x.to_json(r))["doc_issue"]  # JSON keeps them as plain strings


@settings(max_examples=60, deadline=None)
@given(st.lists(documents(), max_size=20))
def test_exported_amounts_add_up_to_the_return(docs):
    r = g.build(2026, 11, GSTIN, docs)
    files = x.csv_files(r)
    j = json.loads(x.to_json(r))

    def total(name: str, column: str) -> int:
        rows = read(files[name])
        i = rows[0].index(column)
        return sum(int(Decimal(row[i]) * 100) for row in rows[1:])

    f = r.section_figures()
    assert total("b2b.csv", "Taxable Value") == f["b2b"].taxable
    assert total("b2cs.csv", "Taxable Value") == f["b2cs"].taxable
    assert total("cdnr.csv", "Taxable Value") == f["cdnr"].taxable
    assert total("hsn_b2b.csv", "Taxable Value") + total("hsn_b2c.csv", "Taxable Value") == (
        r.hsn_figures.taxable)
    assert total("exemp.csv", "Nil Rated Supplies") == f["nil"].taxable
    hsn = j.get("hsn", {"hsn_b2b": [], "hsn_b2c": []})
    tax = sum(round(Decimal(str(h[k])) * 100) for t in hsn.values() for h in t
              for k in ("iamt", "camt", "samt"))
    assert tax == r.hsn_figures.tax
    txval = sum(round(Decimal(str(i["itm_det"]["txval"])) * 100)
                for p in j.get("b2b", []) for inv in p["inv"] for i in inv["itms"])
    assert txval == f["b2b"].taxable


def test_state_label_of_an_unknown_code_is_the_code():
    assert x.state_label("29") == "29-Karnataka" and x.state_label("99") == "99"
    assert HOME == "29" and date(2026, 11, 1)
