"""The message catalogues (gettext .po files) and the list of shipped languages.

A language is shipped when app/locale/<code>/LC_MESSAGES/messages.po exists; English is
the source language and needs none. Adding one is a translator's job (docs/translating.md):
start it with `pybabel init -l <code> -i app/locale/messages.pot -d app/locale` (a
copy of hi's would pass the check while showing Hindi), translate every msgstr, run
`make i18n`.
Kept free of imports so the store config (app/config.py) can check `[store] language`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent
SOURCE_LANGUAGE = "en"
DOMAIN = "messages"


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def shipped_languages() -> tuple[str, ...]:
    """English first, then every language with a catalogue, by code."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *(code for code in found if code != SOURCE_LANGUAGE))
