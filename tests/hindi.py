"""Shared by the Hindi page tests (issue #22): which English texts the Hindi catalogue
translates, and which of them a rendered page still shows untranslated."""

from __future__ import annotations

import html as html_module
import re
from functools import cache

from app.locale import check

PLACEHOLDER = re.compile(r"%\(|%[sd]|\{")
_HIDDEN = re.compile(r"<(script|style|template)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_PLACEHOLDER_ATTR = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')


@cache
def english_sources() -> frozenset[str]:
    """Every English text the Hindi catalogue translates (not the ones Hindi writes the
    same, like "UPI", nor texts with placeholders: their fixed parts show up in the texts
    around them)."""
    out = set()
    for m in check.read_catalogue("hi"):
        if not m.id or not isinstance(m.id, str) or PLACEHOLDER.search(m.id):
            continue
        if m.string and m.string != m.id and len(m.id.strip()) >= 3:
            out.add(m.id.strip())
    return frozenset(out)


def visible_texts(page: str) -> list[str]:
    """The text nodes of an HTML page or fragment, plus the placeholder, aria-label,
    title and alt attributes (what a sighted or screen-reader user meets)."""
    body = _HIDDEN.sub(" ", page)
    texts = [html_module.unescape(t).strip() for t in _TAG.split(body)]
    texts += [html_module.unescape(a).strip() for a in _PLACEHOLDER_ATTR.findall(body)]
    return [t for t in texts if t]


@cache
def _patterns(sources: frozenset[str]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """Each source with its word-bounded pattern (several words only), compiled once:
    compiling them per text node took half a minute a page."""
    return tuple((s, re.compile(rf"(?<!\w){re.escape(s)}(?!\w)") if " " in s else None)
                 for s in sources)


def untranslated(page: str, extra_sources: set[str] = frozenset()) -> list[str]:
    """The English texts a Hindi page still shows: a text node equal to a known source
    text, or containing a known source text of several words."""
    patterns = _patterns(english_sources() | frozenset(extra_sources))
    found = set()
    for text in visible_texts(page):
        for s, pattern in patterns:
            if text == s or (pattern is not None and pattern.search(text)):
                found.add(text)
    return sorted(found)


# Two or more Latin words in a row ("Save changes"): English a Hindi page should not show.
_ENGLISH_RUN = re.compile(r"[A-Za-z][a-z]+(?:[ '’-]+[A-Za-z][a-z]+)+")


def english_runs(page: str, allow: set[str] = frozenset()) -> list[str]:
    """Text nodes of a Hindi page that still hold a run of English words: wording nobody
    has wrapped in _() yet (which `untranslated` cannot know of). `allow` holds texts
    that are data, not wording: product and store names, people, suppliers."""
    out = set()
    for text in visible_texts(page):
        for a in allow:
            text = text.replace(a, " ")
        if _ENGLISH_RUN.search(text):
            out.add(text)
    return sorted(out)
