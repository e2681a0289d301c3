"""app.core.gstr1: the GSTR-1 sections from plain documents (issue #18, GST returns)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import gstr1 as g
from app.core.gst import tax_rows

HOME = "29"  # the store's state: Karnataka
BUYER = "27AAPFU0939F1ZV"  # a registered buyer in Maharashtra
LOCAL_BUYER = "29AAACK1234F1ZX"


def line(amount: int, rate_bp: int = 500, hsn: str = "1101", unit: str = "piece",
         qty: int = 1, inter: bool = False) -> g.Line:
    """A line of `amount` paise incl. GST at `rate_bp`, split the way the till splits it."""
    tax = amount * rate_bp // (10_000 + rate_bp)
    tax -= tax % 2  # the till's rule: even GST, equal halves
    if inter:
        return g.Line(hsn, unit, qty, rate_bp, amount - tax, 0, 0, tax)
    return g.Line(hsn, unit, qty, rate_bp, amount - tax, tax // 2, tax // 2)


def doc(number: str, *lines: g.Line, kind: str = "invoice", doc_kind: str = "b2c",
        pos: str = "", gstin: str = "", day: int = 5, **kw) -> g.Document:
    return g.Document(kind, number, date(2026, 11, day), doc_kind, HOME, tuple(lines),  # type: ignore[arg-type]
                      buyer_gstin=gstin, place_of_supply=pos, **kw)


def test_an_empty_month_is_a_valid_empty_return():
    r = g.build(2026, 11, "29AAACK1234F1ZX", [])
    assert r.empty and r.fp == "112026"
    assert r.supplies == g.Figures() and r.hsn == () and r.docs == ()
    assert all(f == g.Figures() for f in r.section_figures().values())


def test_b2b_invoice_rows_per_rate_and_igst_when_inter_state():
    inv = doc("INV/I2627/00001", line(10_500, 500, inter=True), line(11_800, 1800, "3304",
              inter=True), line(5_000, 0, "0701", "kg", 1500, inter=True),
              doc_kind="b2b", pos="27", gstin=BUYER, value=27_300)
    r = g.build(2026, 11, "", [inv])
    (b,) = r.b2b
    assert b.ctin == BUYER and b.pos == "27" and b.value == 27_300
    assert [(x.rate_bp, x.taxable, x.igst, x.cgst, x.sgst) for x in b.rows] == [
        (500, 10_000, 500, 0, 0), (1800, 10_000, 1800, 0, 0)]  # nil-rated line: table 8
    assert r.nil == (g.NilRow("INTRB2B", 5_000),)
    assert {h.table for h in r.hsn} == {"b2b"}
    veg = next(h for h in r.hsn if h.hsn == "0701")
    assert veg.uqc == "KGS" and veg.quantity == 1500 and veg.taxable == 5_000
    assert r.docs == (g.DocSeries(g.INVOICES, "INV/I2627/00001", "INV/I2627/00001", 1),)
    assert any("no GSTIN" in n for n in r.notes)


def test_intra_state_b2b_has_equal_halves():
    r = g.build(2026, 11, "", [doc("I1", line(10_500), doc_kind="b2b", pos=HOME,
                                   gstin=LOCAL_BUYER)])
    (row,) = r.b2b[0].rows
    assert (row.igst, row.cgst, row.sgst) == (0, 250, 250)


def test_b2cl_only_above_the_threshold_and_only_inter_state():
    t = g.B2CL_THRESHOLD_MINOR
    at_limit = doc("S1-1", line(t, inter=True), pos="27")
    above = doc("S1-2", line(t + 1, inter=True), pos="27")
    local_big = doc("S1-3", line(t * 2))
    r = g.build(2026, 11, "", [at_limit, above, local_big])
    assert [i.number for i in r.b2cl] == ["S1-2"]
    assert {(x.pos, x.inter_state) for x in r.b2cs} == {("27", True), (HOME, False)}
    assert t == 100_000_00  # Rs 1 lakh since 1 August 2024


def test_b2c_refunds_net_into_b2cs_and_credit_notes_of_b2b_go_to_cdnr():
    sale = doc("S1-000001", line(21_000), line(11_800, 1800, "3304"))
    refund = doc("S1-R00001", line(10_500), kind="credit_note", original_number="S1-000001")
    b2b = doc("INV/I2627/00001", line(10_500), doc_kind="b2b", gstin=LOCAL_BUYER, pos=HOME)
    note = doc("INV/C2627/00001", line(10_500), kind="credit_note", doc_kind="b2b",
               gstin=LOCAL_BUYER, pos=HOME, original_number="INV/I2627/00001",
               original_date=date(2026, 11, 5), day=9)
    r = g.build(2026, 11, "", [sale, refund, b2b, note])
    by_rate = {x.rate_bp: x for x in r.b2cs}
    assert by_rate[500].taxable == 10_000 and by_rate[500].cgst == 250
    (cn,) = r.cdnr
    assert cn.ctin == LOCAL_BUYER and cn.original_number == "INV/I2627/00001"
    assert cn.rows[0].taxable == 10_000 and cn.note_type == "C"
    assert r.supplies == g.Figures(10_000 + 10_000 + 10_000 - 10_000, 500 + 1800 + 500 - 500)
    natures = [(d.nature, d.first, d.last, d.total) for d in r.docs]
    assert (g.CREDIT_NOTES, "S1-R00001", "S1-R00001", 1) in natures
    assert (g.INVOICES, "INV/I2627/00001", "INV/I2627/00001", 1) in natures


def test_a_refund_of_a_b2cl_invoice_is_cdnur():
    big = g.B2CL_THRESHOLD_MINOR + 10_500
    note = doc("S1-R00002", line(10_500, inter=True), kind="credit_note", pos="27",
               original_number="S1-000009", original_value=big)
    r = g.build(2026, 11, "", [note])
    (cn,) = r.cdnur
    assert cn.ur_type == "B2CL" and cn.rows[0].igst == 500 and r.b2cs == ()


def test_bills_of_supply_are_left_out_with_a_note():
    r = g.build(2026, 11, "", [doc("S1-1", line(10_000, 0), doc_kind="bos"),
                               doc("S1-R1", line(4_000, 0), doc_kind="bos", kind="credit_note")])
    assert r.b2cs == () and r.nil == () and r.hsn == () and r.docs == ()
    assert r.excluded == g.Excluded(1, 1, g.Figures(6_000, 0))
    assert any("CMP-08" in n for n in r.notes) and r.documents == g.Figures(6_000, 0)


def test_document_series_by_prefix_in_number_order():
    docs = [doc(n, line(100)) for n in ("S1-000010", "S1-000002", "S1-000009", "S2-000001")]
    r = g.build(2026, 11, "", docs)
    assert [(d.first, d.last, d.total, d.cancelled, d.net_issued) for d in r.docs] == [
        ("S1-000002", "S1-000002", 1, 0, 1), ("S1-000009", "S1-000010", 2, 0, 2),
        ("S2-000001", "S2-000001", 1, 0, 1)]  # one row per unbroken run


def test_documents_outside_the_month_are_refused():
    outside = g.Document("invoice", "S1-1", date(2026, 12, 1), "b2c", HOME, (line(100),))
    with pytest.raises(ValueError, match="not in 2026-11"):
        g.build(2026, 11, "", [outside])


@pytest.mark.parametrize("change", [
    {"place_of_supply": "Karnataka"}, {"place_of_supply": "2\x00"}, {"doc_kind": "b2x"},
    {"kind": "debit"}, {"place_of_supply": "9" * 100_000},
    {"lines": (g.Line("1", "piece", 1, -5, 1, 0, 0),)},
    {"lines": (g.Line("1", "piece", 1, 2**63, 1, 0, 0),)},
])
def test_hostile_documents_are_refused_with_their_number(change):
    base = dict(kind="invoice", number="S1-9", date=date(2026, 11, 3), doc_kind="b2c",
                store_state=HOME, lines=(line(100),))
    with pytest.raises(ValueError, match="S1-9") as err:
        g.build(2026, 11, "", [g.Document(**{**base, **change})])  # type: ignore[arg-type]
    assert len(str(err.value)) < 200


@pytest.mark.parametrize(("year", "month"), [(2026, 13), (2026, 0), (0, 5), (2**63, 1)])
def test_not_a_month(year, month):
    with pytest.raises(ValueError, match="not a month"):
        g.build(year, month, "", [])


def test_a_sale_refunded_in_full_leaves_no_hsn_row():
    r = g.build(2026, 11, "", [doc("S1-1", line(10_500)),
                               doc("S1-R1", line(10_500), kind="credit_note")])
    assert r.hsn == () and r.b2cs == () and r.supplies == g.Figures()


# ---- random months ----------------------------------------------------------------------

RATES = st.sampled_from([0, 25, 300, 500, 1200, 1800, 2800])
lines_st = st.lists(st.builds(
    lambda amount, rate, hsn, unit, qty, inter: line(amount, rate, hsn, unit, qty, inter),
    st.integers(1, 3_00_000_00), RATES, st.sampled_from(["1101", "0701", "3304", ""]),
    st.sampled_from(["piece", "kg", "litre"]), st.integers(1, 5000), st.booleans()),
    min_size=1, max_size=6)


@st.composite
def documents(draw) -> g.Document:
    kind = draw(st.sampled_from(["invoice", "credit_note"]))
    doc_kind = draw(st.sampled_from(["b2c", "b2b", "bos"]))
    pos = draw(st.sampled_from(["", HOME, "27", "07"]))
    inter = g.is_inter_state(pos, HOME)
    ls = tuple(line(x.amount, x.rate_bp, x.hsn, x.unit, x.quantity, inter)
               for x in draw(lines_st))
    return g.Document(kind, draw(st.from_regex(r"S[12]-[0-9]{6}", fullmatch=True)),  # type: ignore[arg-type]
                      date(2026, 11, draw(st.integers(1, 30))), doc_kind, HOME, ls,  # type: ignore[arg-type]
                      buyer_gstin=BUYER if doc_kind == "b2b" else "", place_of_supply=pos,
                      original_value=draw(st.integers(0, 3_00_000_00)))


def _net(docs: list[g.Document], include_bos: bool = False) -> g.Figures:
    total = g.Figures()
    for d in docs:
        if d.doc_kind == "bos" and not include_bos:
            continue
        f = g.Figures(sum(x.taxable for x in d.lines), sum(x.tax for x in d.lines))
        total = total - f if d.kind == "credit_note" else total + f
    return total


@settings(max_examples=150, deadline=None)
@given(st.lists(documents(), max_size=25))
def test_sections_add_up_to_the_whole_and_hsn_to_the_lines(docs):
    r = g.build(2026, 11, "29AAACK1234F1ZX", docs)
    whole = _net(docs)
    assert r.supplies == whole
    assert r.hsn_figures == whole
    assert r.documents == _net(docs, include_bos=True)
    # HSN quantities are the lines' quantities, credit notes subtracted
    qty = sum((-1 if d.kind == "credit_note" else 1) * x.quantity
              for d in docs if d.doc_kind != "bos" for x in d.lines)
    assert sum(h.quantity for h in r.hsn) == qty
    # every document but the bills of supply is counted once in table 13
    assert sum(s.total for s in r.docs) == sum(1 for d in docs if d.doc_kind != "bos")
    # CGST always equals SGST; inter-state rows have neither
    for row in r.b2cs:
        assert row.cgst == row.sgst and (row.igst == 0 or row.cgst == 0)
    for inv in (*r.b2b, *r.b2cl, *r.cdnr, *r.cdnur):
        assert all(x.rate_bp for x in inv.rows)


@settings(max_examples=80, deadline=None)
@given(st.lists(documents(), max_size=12))
def test_per_rate_rows_come_from_the_one_tax_rows_rule(docs):
    r = g.build(2026, 11, "", docs)
    for inv in r.b2b:
        same = [x for x in docs if x.number == inv.number and x.kind == "invoice"
                and x.doc_kind == "b2b"]
        if len(same) != 1:
            continue
        d = same[0]
        expected = [t for t in tax_rows(((x.rate_bp, x.amount, x.tax) for x in d.lines),
                                        inter_state=d.inter_state) if t.rate_bp]
        assert [(x.rate_bp, x.taxable, x.tax) for x in inv.rows] == [
            (t.rate_bp, t.taxable, t.tax) for t in expected]


# ---- the month asked for ---------------------------------------------------------------

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11", (2026, 11)), (" 2026-12 ", (2026, 12)), ("2017-07", (2017, 7))])
def test_parse_month(text, expected):
    assert g.parse_month(text, TODAY) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("2026-13", "not a month of GST"), ("2026-00", "not a month of GST"),
    ("abc", "write it as YYYY-MM"), ("", "write it as YYYY-MM"), ("2026-1", "YYYY-MM"),
    ("2027-01", "has not begun yet"), ("2026-11\x00", "YYYY-MM"), ("x" * 100_000, "YYYY-MM"),
    ("1999-05", "from 2017"), ("２０２６-１１", "YYYY-MM"), ("NaN", "YYYY-MM"),
    ("inf", "YYYY-MM"), (str(2**63), "YYYY-MM"), ("2026-11/2026-10", "YYYY-MM"),
])
def test_a_bad_month_is_one_clear_line(text, words):
    with pytest.raises(ValueError, match=words) as err:
        g.parse_month(text, TODAY)
    assert "\n" not in str(err.value) and len(str(err.value)) < 120


@pytest.mark.parametrize("bad", [
    {"taxable": float("nan")}, {"taxable": float("inf")}, {"cgst": 2**63}, {"sgst": -(2**60)},
    {"quantity": 1.5}, {"igst": "100"}, {"taxable": True}, {"hsn": "1" * 100_000},
    {"hsn": "11\x0001"},
])
def test_hostile_line_values_are_refused(bad):
    good = dict(hsn="1101", unit="piece", quantity=1, rate_bp=500, taxable=100, cgst=2, sgst=2)
    d = doc("S1-7", g.Line(**{**good, **bad}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="S1-7") as err:
        g.build(2026, 11, "", [d])
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("number", ["", "x" * 100_000, "S1\x00-1", "S1\n2", None])
def test_a_bad_document_number_is_refused_briefly(number):
    d = g.Document("invoice", number, date(2026, 11, 2), "b2c", HOME, (line(100),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a bill or note number") as err:
        g.build(2026, 11, "", [d])
    assert len(str(err.value)) < 120


def test_a_hostile_value_is_refused():
    with pytest.raises(ValueError, match="whole number"):
        g.build(2026, 11, "", [doc("S1-8", line(100), value=float("nan"))])


def test_igst_lines_stay_igst_when_the_stores_state_is_unknown():
    """The hub may not know a store's state: the document is filed as it was taxed."""
    inv = g.Document("invoice", "S1/I2627/00001", date(2026, 11, 5), "b2b", "",
                     (line(10_500, inter=True),), buyer_gstin=BUYER, place_of_supply="27")
    r = g.build(2026, 11, "", [inv])
    [b2b] = r.b2b
    assert b2b.inter_state and b2b.rows[0].igst == 500 and b2b.rows[0].cgst == 0
    [hsn] = r.hsn
    assert (hsn.igst, hsn.cgst, hsn.sgst) == (500, 0, 0)


def test_every_document_summary_row_holds_exactly_its_total():
    """The till's bill numbers run S1-000001.. for every sale, and a tax invoice is
    listed by its invoice number: the retail series breaks there, in two rows."""
    docs_ = [doc("S1-000001", line(1_000)), doc("S1-000003", line(1_000)),
             doc("S1-000004", line(1_000)),
             doc("S1/I2627/00001", line(1_050, inter=True), doc_kind="b2b", gstin=BUYER,
                 pos="27")]
    r = g.build(2026, 11, "29AAACK1234F1ZX", docs_)
    rows = [(d.first, d.last, d.total) for d in r.docs]
    assert ("S1-000001", "S1-000001", 1) in rows and ("S1-000003", "S1-000004", 2) in rows
    assert ("S1/I2627/00001", "S1/I2627/00001", 1) in rows
    for d in r.docs:
        lo = int(d.first.rsplit("-", 1)[-1].rsplit("/", 1)[-1])
        hi = int(d.last.rsplit("-", 1)[-1].rsplit("/", 1)[-1])
        assert hi - lo + 1 == d.total


def test_a_credit_note_of_nil_rated_goods_only_is_not_an_empty_cdnr_entry():
    note = doc("S1/C2627/00001", line(2_000, rate_bp=0), kind="credit_note",
               doc_kind="b2b", gstin=BUYER, pos="27", original_number="S1/I2627/00001",
               original_date=date(2026, 11, 1), original_value=2_000)
    r = g.build(2026, 11, "29AAACK1234F1ZX", [note])
    assert r.cdnr == ()
    assert sum(n.nil for n in r.nil) == -2_000  # it nets in the nil-rated table
