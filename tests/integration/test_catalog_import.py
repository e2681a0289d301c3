"""CSV import on a real SQLite file: good files land whole, bad files change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.models import Barcode, Product
from app.catalog.service import ImportRejected, export_rows, import_catalog, search

ROOT = Path(__file__).resolve().parents[2]
HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"


def ean(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


A, B, C = ean("890100000001"), ean("890100000002"), ean("890100000003")


async def count(db, model) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_demo_catalogue_imports_clean(db, cfg):
    parsed = parse_catalog(
        (ROOT / "store_config" / "demo_catalog.csv").read_text(), cfg.measure_rules
    )
    assert parsed.clean, parsed.errors[:3]
    assert len(parsed.rows) >= 300
    report = await import_catalog(db, parsed)
    assert report.created == len(parsed.rows)
    assert await count(db, Product) == len(parsed.rows)
    again = await import_catalog(db, parsed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(parsed.rows))


async def test_bad_rows_are_reported_by_line_and_nothing_is_written(db, cfg):
    text = HEADER + (
        f"TEA-1,Tata Tea Gold 500 g,{A},285.00,5,0902,piece,500 g,Beverages,yes,10\n"
        f"TEA-2,Bad price,{B},12.345,5,0902,piece,,Beverages,yes,0\n"
        f"TEA-3,Bad barcode,{C[:-1]}0,10,5,0902,piece,,Beverages,yes,0\n"
        f"TEA-1,Duplicate sku,,10,5,,piece,,,yes,0\n"
        f"TEA-5,Bad gst,,10,7,,piece,,,yes,0\n"
        f"TEA-6,Bad unit,,10,5,,dozen,,,yes,0\n"
        f"TEA-7,Same code again,{A},10,5,,piece,,,yes,0\n"
    )
    parsed = parse_catalog(text, cfg.measure_rules)
    messages = [str(e) for e in parsed.errors]
    assert messages[0].startswith("line 3: price:")
    assert messages[1].startswith("line 4: barcode") and "check digit wrong" in messages[1]
    assert messages[2] == "line 5: sku TEA-1 already on line 2"
    assert messages[3].startswith("line 6: GST rate '7' is not a GST slab")
    assert messages[4].startswith("line 7: unit 'dozen'")
    assert messages[5] == f"line 8: barcode {A} already on line 2"
    with pytest.raises(ImportRejected) as rejected:
        await import_catalog(db, parsed)
    assert len(rejected.value.errors) == 6
    assert await count(db, Product) == 0


async def test_skip_bad_imports_the_good_rows(db, cfg):
    text = HEADER + (
        f"TEA-1,Tata Tea Gold 500 g,{A},285.00,5,0902,piece,500 g,Beverages,yes,10\n"
        "TEA-2,Bad price,,abc,5,,piece,,,yes,0\n"
    )
    report = await import_catalog(db, parse_catalog(text, cfg.measure_rules), skip_bad=True)
    assert report.created == 1 and [e.line for e in report.skipped] == [3]
    assert await count(db, Product) == 1


async def test_dry_run_writes_nothing(db, cfg):
    text = HEADER + f"TEA-1,Tata Tea,{A},285,5,,piece,,,yes,0\n"
    report = await import_catalog(db, parse_catalog(text, cfg.measure_rules), dry_run=True)
    assert report.created == 1 and not report.written
    assert await count(db, Product) == 0


async def test_update_and_barcode_owned_by_another_product(db, cfg):
    first = HEADER + (
        f"TEA-1,Tata Tea,{A},285,5,,piece,,,yes,0\nTEA-2,Red Label,{B},250,5,,piece,,,yes,0\n"
    )
    await import_catalog(db, parse_catalog(first, cfg.measure_rules))
    # Moving B to TEA-1 while TEA-2 (its owner) is not in the file: refused.
    steal = HEADER + f"TEA-1,Tata Tea,{A}|{B},290,5,,piece,,,yes,0\n"
    with pytest.raises(ImportRejected) as rejected:
        await import_catalog(db, parse_catalog(steal, cfg.measure_rules))
    assert "belongs to product TEA-2" in str(rejected.value.errors[0])
    # Swapping codes between two products in one file is fine.
    swap = HEADER + (
        f"TEA-1,Tata Tea,{B},290,5,,piece,,,yes,0\nTEA-2,Red Label,{A},250,5,,piece,,,yes,0\n"
    )
    report = await import_catalog(db, parse_catalog(swap, cfg.measure_rules))
    assert report.updated == 2
    async with db.read() as s:
        owner = dict((await s.execute(select(Barcode.code, Product.sku).join(Product))).all())
    assert owner == {A: "TEA-2", B: "TEA-1"}


async def test_header_problems(cfg):
    parsed = parse_catalog("sku,name,price\nX,Y,1\n", cfg.measure_rules)
    assert str(parsed.errors[0]) == "line 1: missing column(s): gst_rate"
    parsed = parse_catalog("sku,name,price,gst_rate,colour\n", cfg.measure_rules)
    assert "unknown column(s): colour" in str(parsed.errors[0])
    assert str(parse_catalog("", cfg.measure_rules).errors[0]).startswith(
        "line 1: the file is empty"
    )


async def test_export_round_trips(db, cfg, tmp_path):
    import io

    parsed = parse_catalog(
        (ROOT / "store_config" / "demo_catalog.csv").read_text(), cfg.measure_rules
    )
    await import_catalog(db, parsed)
    out = io.StringIO()
    write_catalog(await export_rows(db), out)
    again = parse_catalog(out.getvalue(), cfg.measure_rules)
    assert again.clean
    report = await import_catalog(db, again)
    assert report.unchanged == len(parsed.rows)


async def test_search_by_name_sku_and_barcode(db, cfg):
    text = HEADER + (
        f"TEA-1,Tata Tea Gold 500 g,{A},285,5,,piece,,,yes,0\n"
        f"SALT-1,Tata Salt 1 kg,{B},28,0,,piece,,,yes,0\n"
        f"OIL-100,Odd 100% name,{C},10,5,,piece,,,yes,0\n"
    )
    await import_catalog(db, parse_catalog(text, cfg.measure_rules))
    assert {p.sku for p in await search(db, "tata")} == {"TEA-1", "SALT-1"}
    assert [p.sku for p in await search(db, "tata salt")] == ["SALT-1"]
    assert [p.sku for p in await search(db, B)] == ["SALT-1"]
    assert [p.sku for p in await search(db, "tea-")] == ["TEA-1"]
    assert [p.sku for p in await search(db, "100%")] == ["OIL-100"]  # % is literal


def test_cli_import_reports_lines_and_exit_code(cfg, tmp_path):
    from click.testing import CliRunner

    from app.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "TEA-2,Bad price,,abc,5,,piece,,,yes,0\n")
    runner = CliRunner()
    result = runner.invoke(main, ["catalog", "import", "--config", cfg.source, str(bad)])
    assert result.exit_code == 1
    assert "line 2: price" in result.output and "nothing was imported" in result.output
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"TEA-1,Tata Tea,{A},285,5,,piece,,,yes,0\n")
    dry = runner.invoke(main, ["catalog", "import", "--config", cfg.source, str(good), "--dry-run"])
    assert dry.exit_code == 0 and "Would import: 1 new" in dry.output
    real = runner.invoke(main, ["catalog", "import", "--config", cfg.source, str(good)])
    assert real.exit_code == 0 and "Imported: 1 new" in real.output
    export = runner.invoke(main, ["catalog", "export", "--config", cfg.source])
    assert "TEA-1,Tata Tea," in export.output
