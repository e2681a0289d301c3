"""Languages (issue #22): gettext catalogues through Babel, the language of each request,
and money and dates as the language writes them.

* Catalogues are app/locale/<code>/LC_MESSAGES/messages.po. They are compiled in memory
  on first use (babel.messages.pofile -> mofile): no build step, no .mo files to go stale.
  Fuzzy entries are left out (English shows instead), as gettext does.
* The language in force is a context variable. A request's is set by
  ``language_middleware``: the signed-in staff member's own language, else this device's
  choice (the PIN screen's toggle, cookie ``kirana_lang``), else the store's default
  (``[store] language``). ``use_language`` sets it for other work (printing a receipt in
  the store's receipt language, the CLI).
* ``gettext``/``_`` translate at call time; services wrap the messages they raise in
  ``_()`` so a Hindi cashier reads the error in Hindi while the English text (and every
  test of it) stays the same.
"""

from __future__ import annotations

import contextlib
import gettext as gettext_module
import io
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from app.locale import SOURCE_LANGUAGE, catalogue_path, shipped_languages

LANG_COOKIE = "kirana_lang"
STORE_DEFAULT = "default"  # the toggle's value for "no choice of my own: the store's"
PINNED = "kirana_lang_pinned"  # a request's (language, bilingual) set by pin_language
# Lakh grouping for every Indian language (CLDR writes kn, mr and ta the Western way).
INDIAN_MONEY = "¤#,##,##0.00"

_fixed: ContextVar[str | None] = ContextVar("kirana_language", default=None)
_scope: ContextVar[dict | None] = ContextVar("kirana_request_scope", default=None)
_bilingual: ContextVar[bool] = ContextVar("kirana_bilingual", default=False)


def is_shipped(code: object) -> bool:
    return isinstance(code, str) and code in shipped_languages()


@cache
def translations(code: str) -> gettext_module.NullTranslations:
    """The language's catalogue, compiled in memory once (English: none)."""
    if code == SOURCE_LANGUAGE or not is_shipped(code):
        return gettext_module.NullTranslations()
    with catalogue_path(code).open("rb") as po:
        catalog = read_po(po, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


@cache
def babel_locale(code: str) -> Locale:
    """The Indian variant of a language (en_IN, hi_IN, ...)."""
    try:
        return Locale.parse(f"{code}_IN")
    except (ValueError, LookupError):
        return Locale.parse(code)


def language_name(code: str) -> str:
    """A language's name in itself, for the toggle ("हिन्दी")."""
    return str(Locale.parse(code).display_name)


def choose_language(own: str | None, device: str | None, store_default: str) -> str:
    """The rule: a signed-in staff member's own language, else the device's choice, else
    the store's default. Anything not shipped (an old cookie, a language since removed)
    is skipped."""
    for code in (own, device, store_default):
        if is_shipped(code):
            return str(code)
    return SOURCE_LANGUAGE


def current_language() -> str:
    fixed = _fixed.get()
    if fixed is not None:
        return fixed
    scope = _scope.get()
    if scope is None:
        return SOURCE_LANGUAGE
    state = scope.get("state") or {}
    pinned = state.get(PINNED)
    if pinned is not None:
        return str(pinned[0])
    user = state.get("kirana_user")
    return choose_language(getattr(user, "language", ""), state.get("kirana_lang_device"),
                           state.get("kirana_lang_store", SOURCE_LANGUAGE))


def store_language() -> str:
    """The store's default language (``[store] language``) for this request."""
    scope = _scope.get()
    store = (scope.get("state") or {}).get("kirana_lang_store") if scope is not None else None
    return str(store) if is_shipped(store) else SOURCE_LANGUAGE


def names_language() -> str:
    """The language of products' local names (name_local) for screens' lang=: the
    store's language when it is not English, else Hindi, so a screen reader reads the
    name in its own voice whatever the staff member's language (issue #22)."""
    scope = _scope.get()
    store = (scope.get("state") or {}).get("kirana_lang_store") if scope is not None else None
    return str(store) if is_shipped(store) and store != SOURCE_LANGUAGE else "hi"


@contextlib.contextmanager
def use_language(code: str, *, bilingual: bool = False) -> Iterator[None]:
    """Translate into `code` inside the block (`bilingual`: labels also keep their
    English, for printed documents)."""
    token = _fixed.set(code if is_shipped(code) else SOURCE_LANGUAGE)
    token2 = _bilingual.set(bilingual)
    try:
        yield
    finally:
        _bilingual.reset(token2)
        _fixed.reset(token)


def pin_language(scope: Any, code: str, *, bilingual: bool = False) -> None:
    """This request's page speaks `code` whoever reads it (the customer's e-receipt, in
    the receipt language): kept in the request's scope, since its template is rendered
    after the handler returns."""
    scope.setdefault("state", {})[PINNED] = (
        code if is_shipped(code) else SOURCE_LANGUAGE, bilingual)


def _is_bilingual() -> bool:
    if _bilingual.get():
        return True
    scope = _scope.get()
    pinned = scope is not None and (scope.get("state") or {}).get(PINNED)
    return bool(pinned and pinned[1])


def gettext(message: str) -> str:
    text = translations(current_language()).gettext(message)
    if text != message and _is_bilingual():
        return f"{text} / {message}"
    return text


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context`: one English word, two Hindi ones ("Open" the
    button is खोलें, "Open" the state खुली; "To" a store is पाने वाला, "To" a date तक)."""
    text = translations(current_language()).pgettext(context, message)
    if text != message and _is_bilingual():
        return f"{text} / {message}"
    return text


_ = gettext


def N_(message: str) -> str:
    """Marks text for the catalogue that is translated later (labels in tables)."""
    return message


# Words shown from data, marked here so the catalogue has them (`_(u.role)` in templates).
ROLE_NAMES = (N_("cashier"), N_("picker"), N_("manager"), N_("admin"))


def money(minor: int, currency: str = "INR", symbol: bool = True) -> str:
    """Paise as the language writes money: ₹1,23,456.00 (lakh grouping); the same text
    as app.core.money.format_amount in English and Hindi (tests/unit/test_i18n.py)."""
    return _money(minor, currency, symbol, current_language())


# Babel takes ~25 us an amount; a till page shows the same prices again and again.
@lru_cache(maxsize=8192)
def _money(minor: int, currency: str, symbol: bool, code: str) -> str:
    locale = babel_locale(code)
    if not symbol:
        return str(format_decimal(Decimal(minor) / 100, format=INDIAN_MONEY[1:],
                                  locale=locale, decimal_quantization=True))
    return str(format_currency(Decimal(minor) / 100, currency, format=INDIAN_MONEY,
                               locale=locale, currency_digits=False))


def number(value: int) -> str:
    """A count as the language writes it, grouped in lakhs and crores the Indian way
    (10,00,000 for a million) in every language, as money is."""
    return _number(int(value), current_language())


@lru_cache(maxsize=4096)
def _number(value: int, code: str) -> str:
    return str(format_decimal(value, format="#,##,##0", locale=babel_locale(code)))


# strftime's codes as CLDR patterns, so `local(dt, "%d %b %Y")` speaks every language.
_CLDR = {"%d": "dd", "%e": "d", "%b": "MMM", "%B": "MMMM", "%m": "MM", "%Y": "y",
         "%y": "yy", "%H": "HH", "%I": "hh", "%M": "mm", "%S": "ss", "%p": "a", "%a": "EEE",
         "%A": "EEEE", "%%": "'%'"}


def _cldr_pattern(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        code = fmt[i:i + 2]
        if code in _CLDR:
            out.append(_CLDR[code])
            i += 2
        else:
            ch = fmt[i]
            out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
            i += 1
    return "".join(out)


def day_text(day: date, fmt: str = "%d %b %Y") -> str:
    """A day as the language in force writes it: strftime in English (as before),
    Babel's month and weekday names otherwise (local_time's rule, for dates)."""
    code = current_language()
    if code == SOURCE_LANGUAGE:
        return day.strftime(fmt)
    return str(format_date(day, _cldr_pattern(fmt), locale=babel_locale(code)))


def local_time(tz: ZoneInfo) -> Callable[..., str]:
    """The templates' ``local(dt, fmt)``: a time in the store's time zone, written the
    English way by strftime, in any other language by Babel (month names, am/pm)."""

    def local(dt: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
        if not dt:
            return ""
        code = current_language()
        if code == SOURCE_LANGUAGE:
            return dt.astimezone(tz).strftime(fmt)
        return str(format_datetime(dt, _cldr_pattern(fmt), tzinfo=tz,
                                   locale=babel_locale(code)))

    return local


def install(env: Any) -> None:
    """Give a Jinja environment `_()`, `{% trans %}` and the language-aware helpers."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext)
    env.globals["current_language"] = current_language
    env.globals["language_name"] = language_name
    env.globals["names_language"] = names_language
    env.globals["store_language"] = store_language
    env.globals["shipped_languages"] = shipped_languages
    env.filters["money"] = money
    env.filters["number"] = number


def language_middleware(app: Any) -> Any:
    """ASGI middleware: the request's scope becomes the language's source (the user is
    known only after the guards run, so the choice is read when text is translated)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        cfg = getattr(scope["app"].state, "cfg", None)
        store = getattr(cfg, "store", None)
        state["kirana_lang_store"] = getattr(store, "language", SOURCE_LANGUAGE)
        state["kirana_lang_device"] = _cookie(scope, LANG_COOKIE)
        token = _scope.set(scope)
        try:
            await app(scope, receive, send)
        finally:
            _scope.reset(token)

    return middleware


def _cookie(scope: Any, name: str) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _sep, v = part.strip().partition("=")
                if k == name:
                    return v[:8]
    return ""
