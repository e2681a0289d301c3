"""The store commands staff read, in the store's default language (issue #22): `kirana
user …`, `kirana catalog import/export`, `kirana bins import`, `kirana backup` (and
--list), `kirana restore` and `kirana report gstr1` speak Hindi for a store whose [store]
language is "hi", and print exactly the English they always did for an English store
(tests/integration/test_credentials.py, test_catalog_import.py, test_gstr1_cli_page.py)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.core import gstr1_export, i18n
from app.ops.backup import BackupError, ServerLock
from tests.conftest import make_config
from tests.hindi import english_runs
from tests.integration.test_gstr1_cli_page import a_day, today  # noqa: F401 (fixture)
from tests.integration.test_gstr1_z import store  # noqa: F401 (fixture)

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


# ---- backup, restore and the GSTR-1 report (the owner's, manager's, accountant's) -----------


def _plain(*args: str, code: int = 0, **kwargs) -> str:
    """The command's whole output, stdout and stderr, its spacing as printed (rich wraps
    long lines at 80 columns: `_flat` undoes that)."""
    out = CliRunner().invoke(main, list(args), terminal_width=500, **kwargs)
    assert out.exit_code == code, out.output
    return out.output


def _flat(text: str) -> str:
    return " ".join(text.split())


def _hindi(cfg_source: str) -> None:
    """Turn a test store's config (its database untouched) into a Hindi store's."""
    path = Path(cfg_source)
    path.write_text(path.read_text().replace('language = "en"', 'language = "hi"'))


def test_backup_and_restore_in_hindi(hindi_store, tmp_path):
    folder = tmp_path / "backups"
    empty = _flat(_plain("backup", "--config", hindi_store, "--to", str(folder), "--list"))
    assert empty == f"{folder} में स्टोर S1 का कोई बैकअप नहीं है।"
    taken = _flat(_plain("backup", "--config", hindi_store, "--to", str(folder)))
    made = next(folder.iterdir())
    assert re.fullmatch(rf"बैकअप लिया गया: {re.escape(str(made))} \([\d.,]+ [KM]B, \d+\.\d "
                        r"सेकंड\)", taken), taken
    listed = _plain("backup", "--config", hindi_store, "--to", str(folder), "--list")
    assert re.fullmatch(rf"{made.name}  +[\d.,]+ [KM]B  0 दिन 0 घंटे पहले\n", listed), listed
    restored = _flat(_plain("restore", "--config", hindi_store, str(made), "--yes"))
    moved = next(tmp_path.glob("store.db.before-restore-*"))
    assert restored.startswith("इस बैकअप में 0 बिक्री है; आख़िरी बिक्री (कोई नहीं) है, - UTC पर। ")
    assert " सेकंड में बैकअप वापस लाया गया। " in restored
    assert f"जिस डेटाबेस की जगह यह आया, वह {moved} नाम से रखा है" in restored
    assert f"आगे: 1. स्टोर चालू करें: kirana serve --config {hindi_store} 2. हब पहले" in restored
    assert 'हब के स्टोर पेज पर "स्टोर का डेटाबेस स्वीकार करें" दबाएँ। 3. फिर स्टोर' in restored
    said = " | ".join([empty, taken, listed, restored])
    for data in (str(moved), str(made), str(folder), made.name, hindi_store,
                 "kirana serve --config"):
        said = said.replace(data, " ")
    assert english_runs(f"<p>{said}</p>") == []
    assert i18n.current_language() == "en"


def test_backup_refusals_in_hindi(hindi_store, tmp_path):
    from app.ops.backup import read_facts

    live = tmp_path / "store.db"
    copy = shutil.copy(live, tmp_path / "copy.db")
    with ServerLock(live, "kirana serve"):
        busy = _flat(_plain("restore", "--config", hindi_store, str(copy), "--yes", code=2))
    # who holds it is what that process wrote in the lock file: "kirana serve (process 12)"
    assert re.search(r"गड़बड़ी: बैकअप वापस नहीं लाया गया: store.db को kirana serve \(process \d+\) "
                     "इस्तेमाल कर रहा है। पहले उसे बंद करें", busy), busy
    itself = _flat(_plain("restore", "--config", hindi_store, str(live), "--yes", code=2))
    assert itself.endswith("बैकअप वापस नहीं लाया गया: यह तो चालू डेटाबेस ही है; किसी बैकअप "
                           "फ़ाइल का नाम दें")
    not_a_db = _flat(_plain("restore", "--config", hindi_store, hindi_store, "--yes", code=2))
    assert f"{hindi_store} पढ़ने लायक SQLite डेटाबेस नहीं है (" in not_a_db  # then SQLite's words
    with i18n.use_language("hi"), pytest.raises(BackupError, match="मौजूद नहीं है"):
        read_facts(tmp_path / "missing.db")
    said = f"{busy} | {itself}".replace("kirana serve", " ")
    assert english_runs(f"<p>{said}</p>") == []


async def test_gstr1_report_in_hindi(cfg, db, store, today, tmp_path):  # noqa: F811
    await a_day(cfg, db, store)
    english_json = (await _gstr1(cfg, "--month", "2026-11", "--json")).stdout
    _hindi(cfg.source)
    out = tmp_path / "gstr1"
    result = await _gstr1(cfg, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    said = result.output
    assert "B2B इनवॉइस" in said and "कर योग्य" in said and "कुल बाहरी सप्लाई" in said
    assert "Z रिपोर्ट से पैसे-पैसे तक मेल खाता है। Z रिपोर्ट: महीने में 1 बंद हुई" in said
    assert "CSV फ़ाइलें और GSTR1_" in said
    as_json = await _gstr1(cfg, "--month", "2026-11", "--json")
    assert as_json.exit_code == 0 and as_json.stdout == english_json  # the data, untouched
    assert json.loads(as_json.stdout)["fp"] == "112026"
    for data in (str(out), cfg.store.name, "GSTR-1", "GSTIN"):
        said = said.replace(data, " ")
    said = re.sub(r"GSTR1_\S+\.json", " ", said)
    assert english_runs("<p>" + said.replace("\n", "</p><p>") + "</p>") == []


async def test_gstr1_difference_in_hindi_exits_1(cfg, db, store, today):  # noqa: F811
    await a_day(cfg, db, store, odd=True)
    _hindi(cfg.source)
    result = await _gstr1(cfg, "--month", "2026-11")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Z रिपोर्ट से मेल नहीं खाता: कर योग्य में ₹0.0" in text


async def _gstr1(cfg, *args: str):
    return await asyncio.to_thread(CliRunner().invoke, main,
                                   ["report", "gstr1", "--config", cfg.source, *args])


def test_english_backup_and_restore_print_as_before(cfg, tmp_path):
    """Word for word what these commands printed before they spoke the store's language
    (rich's wrapping aside)."""
    folder = tmp_path / "backups"
    assert _flat(_plain("backup", "--config", cfg.source, "--to", str(folder), "--list")) == \
        f"No backups of store S1 in {folder}."
    taken = _flat(_plain("backup", "--config", cfg.source, "--to", str(folder)))
    made = next(folder.iterdir())
    assert re.fullmatch(rf"Backup taken: {re.escape(str(made))} \([\d.,]+ [KM]B, "
                        r"\d+\.\d s\)", taken), taken
    assert re.fullmatch(rf"{made.name}  +[\d.,]+ [KM]B  0 d 0 h ago\n",
                        _plain("backup", "--config", cfg.source, "--to", str(folder), "--list"))
    restored = _flat(_plain("restore", "--config", cfg.source, str(made), "--yes"))
    moved = next(tmp_path.glob("store.db.before-restore-*"))
    assert re.fullmatch(
        r"This backup holds 0 sales; the last is \(none\) at - UTC\. "
        r"Restored in \d+\.\d s\. "
        rf"The database it replaced is kept as {re.escape(str(moved))} "
        "Next: "
        f"1\\. Start the store: kirana serve --config {re.escape(cfg.source)} "
        r"2\. The hub refuses it at first \(its database changed\)\. On the hub's Stores "
        r'page, press "Accept the store\'s database"\. '
        r"3\. The store then sends its stock figures and the hub sends what it missed; the "
        r"next receipt number continues after the hub's last one\.", restored), restored
    assert _flat(_plain("restore", "--config", cfg.source, str(cfg.database_path), "--yes",
                        code=2)) == ("This backup holds 0 sales; the last is (none) at - UTC. "
                                     "Error: not restored: that is the live database itself; "
                                     "name a backup file")
    no = _flat(_plain("restore", "--config", cfg.source, str(made), code=2, input="n\n"))
    assert no.endswith(f"Replace {cfg.database_path} with it? Sales made after the backup "
                       "stay at the hub but not in this store's database. [y/N]: n "
                       "Error: nothing changed")


async def test_english_gstr1_prints_as_before(cfg, db, store, today, tmp_path):  # noqa: F811
    await a_day(cfg, db, store)
    result = await _gstr1(cfg, "--month", "2026-11", "--out", str(tmp_path / "g"))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert _flat(result.output).startswith(
        f"Wrote {len(gstr1_export.SECTIONS)} CSV files and GSTR1_{cfg.store.gstin}_112026.json "
        f"to {tmp_path / 'g'} GSTR-1 2026-11 for ")
    lines = lines[lines.index(f"GSTR-1 2026-11 for {cfg.store.name} (GSTIN {cfg.store.gstin})"):]
    assert re.fullmatch(r"  B2B invoices {16} taxable +₹[\d,.]+   GST +₹[\d,.]+   total "
                        r"+₹[\d,.]+", lines[1]), lines[1]
    assert [line[2:30].rstrip() for line in lines[1:8]] == [
        "B2B invoices", "B2C large", "B2C small (net of refunds)", "Nil-rated",
        "Credit notes, registered", "Credit notes, unregistered", "Net outward supplies"]
    assert lines[-1] == "Agrees with the Z reports to the paisa. Z reports: 1 closed in the month"
