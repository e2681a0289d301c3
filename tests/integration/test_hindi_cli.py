"""The store commands staff read, in the store's default language (issue #22): `kirana
user …`, `kirana catalog import/export` and `kirana bins import` speak Hindi for a store
whose [store] language is "hi", and print exactly the English they always did for an
English store (tests/integration/test_credentials.py and test_catalog_import.py)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from app.cli import main
from app.core import i18n
from tests.conftest import make_config
from tests.hindi import english_runs

HEADER = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level\n"


@pytest.fixture
def hindi_store(tmp_path, migrated_template) -> str:
    cfg = make_config(tmp_path, **{'language = "en"': 'language = "hi"'})
    assert cfg.store.language == "hi"
    shutil.copy(migrated_template, cfg.database_path)
    return cfg.source


def _run(*args: str) -> str:
    out = CliRunner().invoke(main, list(args))
    assert out.exit_code in (0, 1), out.output
    return " ".join(out.output.split())  # rich wraps long lines at the terminal's width


def test_staff_commands_in_hindi(hindi_store):
    said = _run("user", "add", "--config", hindi_store, "--name", "Asha", "--role",
                "cashier", "--pin", "3816")
    assert said.strip() == "Asha (कैशियर) जोड़े गए।"
    listed = _run("user", "list", "--config", hindi_store)
    assert "कैशियर" in listed and "आख़िरी साइन इन कभी नहीं" in listed
    assert "(बंद)" in _run("user", "deactivate", "--config", hindi_store, "Asha") + _run(
        "user", "list", "--config", hindi_store)
    assert "Asha फिर से साइन इन कर सकते हैं।" in _run("user", "activate", "--config",
                                                        hindi_store, "Asha")
    assert "Asha का नया PIN रख दिया।" in _run("user", "reset-pin", "--config", hindi_store,
                                              "Asha", "--pin", "6047")
    assert i18n.current_language() == "en"  # the command's language did not leak


def test_catalogue_and_bins_commands_in_hindi(hindi_store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "TEA-1,Tata Tea,,285,5,,piece,,,yes,0\n")
    dry = _run("catalog", "import", "--config", hindi_store, str(good), "--dry-run")
    assert "इंपोर्ट होगा: 1 नए, 0 बदले, 0 बिना बदलाव।" in dry
    assert "फ़ाइल सही है।" in dry
    real = _run("catalog", "import", "--config", hindi_store, str(good))
    assert "इंपोर्ट हुआ: 1 नए" in real
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "TEA-2,Bad price,,abc,5,,piece,,,yes,0\n")
    refused = _run("catalog", "import", "--config", hindi_store, str(bad))
    assert "1 गलत पंक्ति; कुछ भी इंपोर्ट नहीं हुआ।" in refused and "--skip-bad" in refused
    out = tmp_path / "out.csv"
    assert "सामान लिखा" in _run("catalog", "export", "--config", hindi_store, "--out", str(out))
    bins = tmp_path / "bins.csv"
    bins.write_text("code,zone,aisle,shelf,pick_seq\nA-01-1,ambient,A,1,1\n")
    loaded = _run("bins", "import", "--config", hindi_store, str(bins))
    assert loaded.strip() == "1 बिन लोड हुआ।"
    assert english_runs("<p>" + loaded + dry + "</p>", allow={"Tata Tea", "--dry-run"}) == []


def test_english_store_prints_as_before(cfg, tmp_path):
    said = _run("user", "add", "--config", cfg.source, "--name", "Ravi", "--role", "picker",
                "--pin", "5209")
    assert said.strip() == "Added Ravi (picker)."
    assert "Ravi picker last sign-in never" in _run("user", "list", "--config", cfg.source)
    assert _run("user", "deactivate", "--config", cfg.source, "Ravi").strip() == \
        "Ravi can no longer sign in."
    assert _run("user", "reset-pin", "--config", cfg.source, "Ravi", "--pin", "6047").strip() \
        == "Ravi has a new PIN."
    bins = tmp_path / "bins.csv"
    bins.write_text("code,zone,aisle,shelf,pick_seq\nA-01-1,ambient,A,1,1\nA-01-2,ambient,A,1,2\n")
    assert _run("bins", "import", "--config", cfg.source, str(bins)).strip() == "2 bins loaded."
    out = tmp_path / "out.csv"
    wrote = _run("catalog", "export", "--config", cfg.source, "--out", str(out))
    assert wrote.replace(" ", "") == f"Wrote 0 products to {out}.".replace(" ", "")  # wraps
