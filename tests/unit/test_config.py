from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "store_config" / "store.toml").read_text()


@pytest.mark.parametrize("name", ["store.toml", "darkstore.toml"])
def test_example_configs_load(name):
    cfg = load_config(ROOT / "store_config" / name)
    assert cfg.store.currency == "INR"
    assert cfg.database_path.is_absolute()
    assert [r.prefix for r in cfg.measure_rules] == ["21", "22", "23"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('kind = "counter"', 'kind = "shop"', "s.toml: store.kind: "),
        (
            'name = "Kirana Fresh, Indiranagar"',
            "name = 5",
            "s.toml: store.name: expected str, got int",
        ),
        ('id = "S1"', 'id = "s 1"', "s.toml: store.id: "),
        (
            'timezone = "Asia/Kolkata"',
            'timezone = "Mars/Base"',
            "store.timezone: unknown time zone",
        ),
        ('gstin = "29AAACK1234F1ZW"', 'gstin = "29AAACK1234F1ZX"', "store.gstin: "),
        ('gstin = "29AAACK1234F1ZW"', 'gstin = " 29aaack1234f1zw"',
         "store.gstin: write the GSTIN as '29AAACK1234F1ZW': capitals, no spaces"),
        ("port = 8000", "port = 70000", "s.toml: server.port: "),
        ("[security]", "[security]\npin_tries = 3", "s.toml: security.pin_tries: unknown key"),
        ('pattern = "21.....{NNDDD}"', 'pattern = "21....{NNDDD}"', "barcode_rules[0].pattern: "),
        (
            'kind = "preview"               #',
            'kind = "network"               #',
            "printers[0].host: a network printer needs host",
        ),
        ('url = ""', 'url = "http://hub"', "hub.url: must start with ws:// or wss://"),
    ],
)
def test_bad_values_give_file_key_reason(old, new, message):
    assert old in GOOD
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace(old, new, 1), source="s.toml")
    assert message in str(err.value)
    assert "Traceback" not in str(err.value)


def test_missing_required_value():
    text = GOOD.replace(
        'id = "S1"                      # short code: A-Z and digits, shown on '
        "receipts (S1-000123)\n",
        "",
    )
    with pytest.raises(ConfigError, match=r"s.toml: store.id: required value is missing"):
        parse_config(text, source="s.toml")


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[store\n", source="x.toml")
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_config_error_without_traceback(tmp_path):
    from click.testing import CliRunner

    from app.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('kind = "counter"', 'kind = "shop"'))
    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(bad)])
    assert result.exit_code == 2
    assert "store.kind" in result.output and "Traceback" not in result.output


def test_printer_documents_and_counters_are_checked():
    with pytest.raises(ConfigError, match=r"printers\[0\].documents: unknown document 'reciept'"):
        parse_config(GOOD.replace('documents = ["receipt", "refund", "report"]',
                                  'documents = ["reciept"]'), source="s.toml")
    with pytest.raises(ConfigError, match=r"printers\[0\].counters: 'C9' is not in pos.counters"):
        parse_config(GOOD.replace('documents = ["receipt", "refund", "report"]',
                                  'documents = ["receipt"]\ncounters = ["C9"]'), source="s.toml")


def test_derived_values_belong_to_their_own_config(tmp_path):
    """Two configs loaded one after the other (the first freed) never share cached rules,
    even when the second gets the first's id()."""
    first = parse_config(GOOD, source="a.toml")
    rules = first.measure_rules
    assert first.measure_rules is rules  # cached
    first_id = id(first)
    del first, rules
    for _ in range(50):
        other = parse_config(GOOD.replace('pattern = "21.....{NNDDD}"',
                                          'pattern = "24.....{NNDDD}"'), source="b.toml")
        assert other.measure_rules[0].prefix == "24"
        if id(other) == first_id:
            break


def test_example_hub_config_loads_and_bad_values_are_named():
    from app.config import load_hub_config, parse_hub_config

    cfg = load_hub_config(ROOT / "store_config" / "hub.toml")
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("hub.db")
    assert len(cfg.measure_rules) == 3 and cfg.store.name == "Kirana HQ"
    pg = parse_hub_config('[hub]\ndatabase_url = "postgresql+asyncpg://k@db:5432/hub"\n')
    assert pg.database_url == "postgresql+asyncpg://k@db:5432/hub"
    for text, message in [
        ('[hub]\ndatabase_url = "mysql://x"\n', "hub.database_url: use postgresql+asyncpg://"),
        ('[hub]\ntimezone = "Mars/Base"\n', "hub.timezone: unknown time zone"),
        ("[sync]\nsend_window = 10\n", "sync.send_window"),
        ("[sync]\nsend_windw = 1000\n", "sync.send_windw: unknown key"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_hub_config(text, source="hub.toml")
