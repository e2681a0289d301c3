"""Languages (issue #22): the shipped catalogues are complete, money and dates speak the
language, the language choice rule, and hostile config values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest
from babel.messages.catalog import Catalog
from hypothesis import given
from hypothesis import strategies as st

from app.config import ConfigError, parse_config
from app.core import i18n
from app.core.money import MAX_AMOUNT_MINOR, format_amount
from app.locale import check, shipped_languages

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "store_config" / "store.toml").read_text()
# The screens this work translated: every _() in them must be in every catalogue.
# Every template speaks through gettext (issue #22) but these, which hold no wording of
# their own (they show a message made elsewhere, or codes).
NO_WORDING = {"templates/errors/_error.html", "templates/pos/_message.html",
              "templates/pos/_printer_alerts.html", "templates/purchasing/_bin_options.html"}
CONVERTED = sorted(str(path.relative_to(ROOT)) for pattern in ("*.html", "*.j2")
                   for path in (ROOT / "templates").rglob(pattern)
                   if str(path.relative_to(ROOT)) not in NO_WORDING)
TRANS_CALL = re.compile(r"""(?<![\w.])_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*[,)]""")
NGETTEXT_CALL = re.compile(r"""ngettext\(\s*"((?:[^"\\]|\\.)*)"\s*,""")


def _unquote(literal: str) -> str:
    """A string literal's text: `\\"` is `"` (Jinja and Python alike)."""
    return re.sub(r"\\(.)", r"\1", literal)


def test_english_and_hindi_ship():
    assert shipped_languages()[:2] == ("en", "hi")


@pytest.mark.parametrize("code", [c for c in shipped_languages() if c != "en"])
def test_shipped_catalogue_is_complete(code):
    """What `make i18n` checks: nothing untranslated, fuzzy or with other placeholders,
    and nothing in the code or templates missing from the catalogue."""
    assert check.problems(check.read_catalogue(code), check.extracted_messages()) == []


def test_every_string_of_the_converted_screens_is_catalogued():
    catalogue = {m.id if isinstance(m.id, str) else m.id[0]
                 for m in check.read_catalogue("hi") if m.id}
    for name in CONVERTED:
        text = (ROOT / name).read_text(encoding="utf-8")
        found = {_unquote(a or b) for a, b in TRANS_CALL.findall(text)} | {
            _unquote(t) for t in NGETTEXT_CALL.findall(text)}
        assert found, name
        assert found <= catalogue, (name, found - catalogue)


def _catalog(*entries: tuple[str, str], fuzzy: bool = False) -> Catalog:
    cat = Catalog(locale="hi")
    for msgid, msgstr in entries:
        cat.add(msgid, msgstr, flags=("fuzzy",) if fuzzy else ())
    return cat


@pytest.mark.parametrize(("entries", "fuzzy", "says"), [
    ((("Items", ""),), False, "not translated"),
    ((("Items", "सामान"),), True, "fuzzy"),
    ((("Bill %(number)s", "बिल"),), False, "placeholders"),
    ((("Bill %(number)s", "बिल %(nmber)s"),), False, "placeholders"),
    ((("Counter {name}", "काउंटर"),), False, "placeholders"),
])
def test_the_check_fails_on_a_bad_entry(entries, fuzzy, says):
    found = check.problems(_catalog(*entries, fuzzy=fuzzy))
    assert len(found) == 1 and says in found[0]


def test_the_check_fails_on_text_missing_from_the_catalogue():
    found = check.problems(_catalog(("Items", "सामान")), {"Items", "Pay now"})
    assert found == ["hi: 'Pay now' is not in the catalogue (run make i18n)"]


def test_translation_and_fallbacks():
    with i18n.use_language("hi"):
        assert i18n.gettext("TOTAL") == "कुल"
        assert i18n.gettext("not in any catalogue") == "not in any catalogue"
        assert i18n.ngettext("%(num)d minute", "%(num)d minutes", 3) % {"num": 3} == "3 मिनट"
    with i18n.use_language("hi", bilingual=True):
        assert i18n.gettext("TOTAL") == "कुल / TOTAL"
        assert i18n.gettext("UPI") == "UPI"  # the same in both: said once
    with i18n.use_language("xx"):  # unknown: English
        assert i18n.gettext("TOTAL") == "TOTAL"
    assert i18n.gettext("TOTAL") == "TOTAL"  # outside any request or block


@pytest.mark.parametrize(("own", "device", "store", "chosen"), [
    ("hi", "en", "en", "hi"),  # the signed-in person's own choice wins
    ("", "hi", "en", "hi"),  # then this device's (the PIN screen toggle)
    ("", "", "hi", "hi"),  # then the store's default
    ("", "", "en", "en"),
    ("zz", "../../etc", "hi", "hi"),  # not shipped: skipped, never a path
    (None, None, "xx", "en"),
])
def test_language_choice_rule(own, device, store, chosen):
    assert i18n.choose_language(own, device, store) == chosen


@given(st.integers(min_value=-MAX_AMOUNT_MINOR, max_value=MAX_AMOUNT_MINOR))
def test_money_filter_equals_the_core_format_in_english_and_hindi(minor):
    for code in ("en", "hi"):
        with i18n.use_language(code):
            assert i18n.money(minor) == format_amount(minor)
            assert i18n.money(minor, symbol=False) == format_amount(minor, symbol=False)


def test_money_groups_in_lakhs_in_every_indian_language():
    assert i18n.money(12345600) == "₹1,23,456.00"
    with i18n.use_language("hi"):
        assert i18n.money(12345600) == "₹1,23,456.00"
    for code in ("kn", "ta", "mr", "bn"):  # CLDR groups some the Western way
        i18n._fixed.set(code)
        try:
            assert i18n.money(12345600).replace("\xa0", "") == "₹1,23,456.00"
        finally:
            i18n._fixed.set(None)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_counts_are_grouped_in_lakhs_and_crores(n):
    """i18n.number: the last three digits, then pairs (10,00,000 is a million)."""
    digits = str(abs(n))
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(0, i - 2):i] for i in range(len(head), 0, -2)][::-1]
    expected = ("-" if n < 0 else "") + ",".join([*pairs, tail])
    for code in ("en", "hi"):
        with i18n.use_language(code):
            assert i18n.number(n) == expected


def test_dates_in_the_store_time_zone_as_the_language_writes_them():
    local = i18n.local_time(ZoneInfo("Asia/Kolkata"))
    at = datetime(2026, 12, 2, 4, 50, tzinfo=UTC)
    assert local(at) == "02 Dec 2026, 10:20"  # English: strftime, as before
    assert local(None) == ""
    with i18n.use_language("hi"):
        text = local(at)
        assert "10:20" in text and "2026" in text and "दिस" in text
        assert local(at, "%d-%m-%Y %H:%M") == "02-12-2026 10:20"


def test_jinja_trans_and_filter():
    env = jinja2.Environment(autoescape=True)
    i18n.install(env)
    page = env.from_string('{{ _("Bill %(number)s", number=n) }} {{ 12345600|money }}')
    with i18n.use_language("hi"):
        assert page.render(n="<b>") == "बिल &lt;b&gt; ₹1,23,456.00"
    assert page.render(n="7") == "Bill 7 ₹1,23,456.00"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('language = "en"', 'language = "fr"', "s.toml: store.language: 'fr' is not a shipped"),
    ('language = "en"', 'language = "../hi"', "store.language: '../hi' is not a shipped"),
    ('language = "en"', 'language = ""', "store.language: '' is not a shipped"),
    ('language = "en"', "language = 5", "store.language: expected str, got int"),
    ("[security]", '[printing]\nreceipt_language = "hindi"\n\n[security]',
     "printing.receipt_language: 'hindi' is not a shipped language"),
    ("[security]", '[printing]\nreceipt_langauge = "hi"\n\n[security]',
     "printing.receipt_langauge: unknown key"),
])
def test_bad_language_settings_are_refused_naming_the_key(old, new, message):
    assert old in GOOD
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace(old, new, 1), source="s.toml")
    assert message in str(err.value)


@pytest.mark.parametrize("value", ["", "en", "hi", "bilingual"])
def test_receipt_languages_accepted(value):
    cfg = parse_config(GOOD.replace("[security]", f'[printing]\nreceipt_language = "{value}"'
                                    "\n\n[security]", 1))
    assert cfg.printing.receipt_language == value


def test_one_english_word_two_hindi_ones_by_context():
    """pgettext: the returns desk's "Open" button is not the state "Open", and a transfer's
    "To" store is not a date range's "To"."""
    with i18n.use_language("hi"):
        assert i18n.pgettext("button", "Open") == "खोलें"
        assert i18n.gettext("Open") == "खुली"
        assert i18n.pgettext("store", "To") == "पाने वाला स्टोर" != i18n.gettext("To")
        rendered = jinja2.Environment(extensions=["jinja2.ext.i18n"])
        i18n.install(rendered)
        assert rendered.from_string('{{ pgettext("button", "Open") }}').render() == "खोलें"
    with i18n.use_language("en"):
        assert i18n.pgettext("button", "Open") == "Open"
