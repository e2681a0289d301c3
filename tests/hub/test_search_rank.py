"""Name search ranks how a word matches (issue #16): a whole word first, then a word
that starts with it, then the text inside a word. "toor" used to list "Santoor Soap"
before "Toor Dal" (alphabetical). One SQL expression, so it runs on the hub's
PostgreSQL as well as SQLite, and the ranking is done before the LIMIT."""

from __future__ import annotations

from app.catalog.barcodes import gtin_check_digit
from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog, search
from tests.integration.test_catalog_import import HEADER

NAMES = {
    "SOAP-1": "Santoor Sandal Soap 100 g",  # inside a word
    "DAL-1": "Tata Sampann Toor Dal 1 kg",  # whole word
    "DAL-2": "Toor Dal (Loose)",  # whole word, first
    "MIX-1": "Toorfresh Mix 200 g",  # starts a word
    "DAL-3": "Arhar-Toor Dal 500 g",  # whole word after a dash
    "OLD-1": "Toor Dal Old Pack",  # whole word, but discontinued
}


def _csv() -> str:
    rows = []
    for i, (sku, name) in enumerate(NAMES.items()):
        body = f"89010000{i:04d}"
        active = "no" if sku == "OLD-1" else "yes"
        rows.append(f"{sku},{name},{body + gtin_check_digit(body)},10,5,,piece,,,{active},0\n")
    return HEADER + "".join(rows)


async def test_whole_words_then_word_starts_then_inside(hub_db):
    await import_catalog(hub_db, parse_catalog(_csv(), ()))
    found = [p.sku for p in await search(hub_db, "toor")]
    # whole word (by name), then the word start, then inside a word; discontinued last
    assert found == ["DAL-3", "DAL-1", "DAL-2", "MIX-1", "SOAP-1", "OLD-1"]
    assert [p.sku for p in await search(hub_db, "TOOR dal")][:3] == ["DAL-3", "DAL-1", "DAL-2"]
    assert [p.sku for p in await search(hub_db, "dal (loose")] == ["DAL-2"]
    # a limit keeps the best matches, not the first names in the alphabet
    assert [p.sku for p in await search(hub_db, "toor", limit=2)] == ["DAL-3", "DAL-1"]
    # a sku prefix still comes before name matches, an exact code before everything
    assert [p.sku for p in await search(hub_db, "soap")] == ["SOAP-1"]
    assert [p.sku for p in await search(hub_db, "mix")] == ["MIX-1"]
    assert [p.sku for p in await search(hub_db, "100%")] == []  # % is literal
