"""The page scripts keep no English of their own (issue #22): every word they show comes
from app/core/page_words.py, which the catalogue translates.

* every `word("key")` in static/js is a key of WORDS, and every key is asked for;
* no string literal in static/js reads like a sentence a person would see, except the
  few listed below that only reach the browser's console or an Error never shown;
* a Hindi request gets every word in Hindi, with the English placeholders kept.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.core import i18n
from app.core.page_words import WORDS, page_words

JS = Path(__file__).resolve().parents[2] / "static" / "js"
WORD_CALL = re.compile(r"""\bword\(\s*(?:"([^"]+)"|'([^']+)'|([^)]*))""")
# Literals that look like words but no one reads on the page: console lines, an Error's
# message for the console, class names, the strict-mode directive.
NOT_FOR_STAFF = {
    "use strict",
    "Service worker registration failed:",
    "barcode-detector ponyfill did not load",
    "could not load ",
    "no mediaDevices",
    "Camera scanner: barcode reader failed to load:",
    "Camera scanner: detect() keeps failing:",
}
CLASS_NAMES = re.compile(r"^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*$")


def scripts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(JS.glob("*.js"))}


def without_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"(?m)(^|\s)//.*$", "", src)


def literals(src: str) -> list[str]:
    found = re.finditer(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`([^`]*)`', src)
    return [m.group(1) or m.group(2) or m.group(3) or "" for m in found]


def test_every_word_asked_for_is_listed_and_every_listed_word_is_asked_for() -> None:
    """A key is a literal shaped like one of WORDS' (`camera.ready`), passed to word()
    directly or through a choice (`word(ok ? "unsent.will_retry" : "unsent.tap_again")`)."""
    groups = {key.split(".")[0] for key in WORDS}
    asked: set[str] = set()
    for name, src in scripts().items():
        code = without_comments(src)
        for text in literals(code):
            if re.fullmatch(r"[a-z]+\.[a-z_]+", text) and text.split(".")[0] in groups:
                assert text in WORDS, f"{name} asks for {text!r}, not in app/core/page_words.py"
                asked.add(text)
        for m in WORD_CALL.finditer(code):
            key = m.group(1) or m.group(2)
            if key is not None:
                assert key in WORDS, f"{name} asks for word({key!r}), not in page_words.py"
    assert asked == set(WORDS), f"listed but never asked for: {sorted(set(WORDS) - asked)}"


def test_no_sentence_is_written_in_a_script() -> None:
    sentences = []
    for name, src in scripts().items():
        for text in literals(without_comments(src)):
            if not re.search(r"[A-Za-z]{2,} [a-z]{2,}", text) or text in NOT_FOR_STAFF:
                continue
            if CLASS_NAMES.match(text):
                continue
            sentences.append(f"{name}: {text!r}")
    assert sentences == [], "English in a script; put it in app/core/page_words.py:\n" + "\n".join(
        sentences
    )


def test_the_check_sees_a_sentence() -> None:
    """The literal scan finds what it is for (else the test above could never fail)."""
    src = 'box.textContent = "Not sent: store server unreachable."; // a comment "not this"'
    texts = [t for t in literals(without_comments(src)) if re.search(r"[A-Za-z]{2,} [a-z]{2,}", t)]
    assert texts == ["Not sent: store server unreachable."]


def test_hindi_gets_every_word_in_hindi_with_its_placeholders() -> None:
    with i18n.use_language("hi"):
        hindi = page_words()
    with i18n.use_language("en"):
        english = page_words()
    assert english == WORDS
    assert set(hindi) == set(WORDS)
    for key, text in hindi.items():
        assert text != WORDS[key], f"{key} is not translated"
        assert re.findall(r"%\(\w+\)s", text) == re.findall(r"%\(\w+\)s", WORDS[key]), key
        words = re.sub(r"%\(\w+\)s|QR|https", "", text)
        assert not re.search(r"[A-Za-z]{3,}", words), f"{key}: English left in {text!r}"
