"""Checks the shipped catalogues: `python -m app.locale.check` (run by `make i18n`, and by
tests/unit/test_i18n.py so CI fails on an untranslated string).

A catalogue fails on an entry with no translation (or an empty plural form), a fuzzy
entry (a guess `pybabel update` made that no translator has confirmed), a translation
whose placeholders (``%(name)s``, ``%s``, ``{name}``) differ from the English, and on
text in the code or templates that the catalogue does not have yet (run `make i18n`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.locale import SOURCE_LANGUAGE, catalogue_path, shipped_languages

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]|%[sdif]|\{[A-Za-z_][A-Za-z0-9_]*\}")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def read_catalogue(code: str) -> Catalog:
    with catalogue_path(code).open("rb") as po:
        return read_po(po, locale=code)


def extracted_messages(root: Path = ROOT) -> set[str]:
    """Every msgid in the code and templates, as `pybabel extract -F babel.cfg` finds it
    (plural entries by their singular)."""
    with (root / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(root), method_map, options_map):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def problems(catalog: Catalog, wanted: Iterable[str] = ()) -> list[str]:
    """What is wrong with one language's catalogue (empty: nothing)."""
    out: list[str] = []
    have: set[str] = set()
    for message in catalog:
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = (message.string if isinstance(message.string, (list, tuple))
                   else (message.string,))
        have.add(ids[0])
        where = f"{catalog.locale}: {ids[0]!r}"
        if message.fuzzy:
            out.append(f"{where} is fuzzy (check the translation, then remove '#, fuzzy')")
        if not all(strings):
            out.append(f"{where} is not translated")
            continue
        for i, text in enumerate(str(t) for t in strings):
            source = str(ids[min(i, len(ids) - 1)])
            if placeholders(text) != placeholders(source) and not (
                    len(ids) > 1 and placeholders(text) == placeholders(str(ids[0]))):
                out.append(f"{where}: the translation's placeholders {placeholders(text)} "
                           f"differ from {placeholders(source)}")
    for missing in sorted(set(wanted) - have):
        out.append(f"{catalog.locale}: {missing!r} is not in the catalogue (run make i18n)")
    return out


def main() -> int:
    wanted = extracted_messages()
    found = []
    for code in shipped_languages():
        if code != SOURCE_LANGUAGE:
            found += problems(read_catalogue(code), wanted)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"catalogues complete: {', '.join(shipped_languages())} "
              f"({len(wanted)} messages)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
