"""Barcodes quoted in the docs must scan: staff copy them from there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.catalog.barcodes import is_valid_gtin

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "store_config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_example_barcodes_in_docs_are_valid(doc):
    for code in re.findall(r"`(\d{13})`", doc.read_text()):
        assert is_valid_gtin(code), f"{doc.name}: example barcode {code} has a wrong check digit"
