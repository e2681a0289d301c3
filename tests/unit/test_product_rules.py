"""The product rules (app/catalog/rules.py): one validator for the store's CSV, the hub's
form and CSV, and the CLI. Tests marked "old:" failed before the copies were merged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog import rules
from app.catalog.barcodes import MeasureRule, gtin_check_digit, make_variable_barcode
from app.catalog.csv_io import parse_catalog
from app.catalog.rules import ProductError, ProductFields, check_product, parse_product

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level,tracks_expiry\n"
WEIGHT = MeasureRule("weight", "21.....{NNDDD}", "weight")


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


def product(**over: object) -> ProductFields:
    fields: dict = {"sku": "ATTA-1KG", "name": "Atta 1 kg", "price_minor": 6800,
                    "gst_rate_bp": 500}
    fields.update(over)
    return ProductFields(**fields)


def csv_error(row: str, measure_rules: tuple = ()) -> str:
    parsed = parse_catalog(HEADER + row + "\n", measure_rules)
    assert parsed.errors, f"accepted: {row}"
    return str(parsed.errors[0])


def test_a_good_row_and_form_give_the_same_product() -> None:
    code = ean("890100000001")
    parsed = parse_catalog(HEADER + f" atta-1kg , Atta   1 kg ,{code},68.00,5,1101,KG,1 kg,"
                           "Atta,yes,10\n")
    assert parsed.clean, parsed.errors
    row = parsed.rows[0]
    typed = parse_product(sku="atta-1kg", name="Atta 1 kg", price="68", gst_rate="5%",
                          barcodes=[code], hsn="1101", unit="kg", pack_size="1 kg",
                          category="Atta", active=True, reorder_level="10")
    assert ProductFields(**{k: v for k, v in vars(row).items() if k != "line"}) == typed
    assert check_product(typed) == typed  # checking a checked product changes nothing


def test_old_csv_took_a_sku_with_a_slash_that_no_page_can_address() -> None:
    """old: the CSV allowed '/', the hub form did not; /products/{sku} cannot hold it."""
    assert "SKU 'A/B' may only use" in csv_error("A/B,Atta,,10,5,,piece,,,yes,0")
    with pytest.raises(ProductError, match="SKU"):
        check_product(product(sku="A/B"))


def test_old_csv_took_free_text_as_a_barcode() -> None:
    """old: the CSV stored 'ABC123' (parse_scan's 'text'); the hub refused it."""
    assert "not an EAN, UPC or GTIN" in csv_error("A1,Atta,ABC123,10,5,,piece,,,yes,0")
    with pytest.raises(ProductError, match="not an EAN"):
        check_product(product(barcodes=("ABC123",)))


def test_scale_label_codes_are_the_same_rule_everywhere() -> None:
    """old: the hub stored any 20-29 EAN-13 as a GTIN: one with weight digits (never
    what a scan looks up) or one no barcode rule reads (a scan is refused)."""
    item = make_variable_barcode(WEIGHT, "00127", 0)
    weighed = make_variable_barcode(WEIGHT, "00127", 1250)
    assert check_product(product(barcodes=(item,)), [WEIGHT]).barcodes == (item,)
    with pytest.raises(ProductError, match="zero value digits"):
        check_product(product(barcodes=(weighed,)), [WEIGHT])
    with pytest.raises(ProductError, match="unknown prefix 21"):
        check_product(product(barcodes=(item,)), [])
    assert "zero value digits" in csv_error(f"A1,Atta,{weighed},10,5,,piece,,,yes,0", (WEIGHT,))


def test_gtins_are_stored_in_one_form_and_a_code_twice_is_refused() -> None:
    upca = "012345678905"
    assert check_product(product(barcodes=(upca,))).barcodes == ("0" + upca,)
    with pytest.raises(ProductError, match="listed twice"):  # old hub: silently merged
        check_product(product(barcodes=(upca, "0" + upca)))
    with pytest.raises(ProductError, match="GS1 element string"):
        check_product(product(barcodes=(f"(01)00{upca}(10)AB",)))


@pytest.mark.parametrize(("over", "says"), [
    ({"name": "x" * 121}, "longer than 120"),  # old hub: cut to 120 silently
    ({"name": "  "}, "name is empty"),
    ({"hsn": "ABCD"}, "hsn 'ABCD' must be 4, 6 or 8 digits"),  # old hub: stored as typed
    ({"hsn": "12345"}, "must be 4, 6 or 8 digits"),
    ({"price_minor": 0}, "more than zero"),
    ({"price_minor": rules.MAX_PRICE_MINOR + 1}, "at most ₹1,00,00,000"),
    ({"gst_rate_bp": 700}, "GST rate must be one of"),
    ({"unit": "dozen"}, "unit 'dozen' must be one of piece, kg, litre"),
    ({"reorder_level": -1}, "reorder level"),
    ({"reorder_level": rules.MAX_REORDER_LEVEL + 1}, "reorder level"),
    ({"sku": "-A"}, "start with a letter or digit"),
    ({"sku": "A" * 41}, "at most 40"),
])
def test_each_rule_refuses_with_the_field_named(over: dict, says: str) -> None:
    with pytest.raises(ProductError, match=says):
        check_product(product(**over))


def test_the_limits_themselves_are_taken() -> None:
    p = check_product(product(sku="A" * 40, name="x" * 120, price_minor=rules.MAX_PRICE_MINOR,
                              reorder_level=rules.MAX_REORDER_LEVEL, hsn="12345678"))
    assert (len(p.sku), len(p.name)) == (40, 120)
    assert rules.parse_price("1,00,00,000") == rules.MAX_PRICE_MINOR


@pytest.mark.parametrize("text", ["12.345", "1e3", "1_000", "inf", "NaN", "-5", "0", "٣",
                                  "1,00,00,000.01", "50,00"])
def test_prices_are_read_by_parse_amount_only(text: str) -> None:
    with pytest.raises(ProductError, match="price"):
        rules.parse_price(text)


@given(st.builds(ProductFields, sku=st.from_regex(rules.SKU_RE, fullmatch=True),
                 name=st.text(min_size=1, max_size=120).filter(  # no hidden characters
                     lambda t: t.strip() and not rules.hidden_characters(t)),
                 price_minor=st.integers(1, rules.MAX_PRICE_MINOR),
                 gst_rate_bp=st.sampled_from(sorted(rules.GST_SLABS_BP)),
                 unit=st.sampled_from(rules.UNITS)))
def test_a_checked_product_is_a_fixed_point(p: ProductFields) -> None:
    once = check_product(p)
    assert check_product(once) == once
