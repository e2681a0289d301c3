"""Documents as layout text: Jinja2 templates that output the layout DSL (layout.py).

Defaults live in templates/print/. A store may override one by putting a file of
the same name in print_templates/ beside its config. A broken override (syntax
error, unknown directive, a failing expression) never stops a receipt: it is
reported with the template's line and the default layout is used instead.

``templates_for(cfg)`` is the registry: one ``PrintTemplates`` per loaded config, shared
by every feature that asks for paper (the till, picking) and the printers page.

Overrides are files anyone with access to the store's folder can drop in, so they run
in Jinja's SandboxedEnvironment: no attributes starting with '_' (the way from a string
to ``os.popen``), no unsafe str.format, ranges of at most 100,000. A template that tries
is a broken override like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any

import jinja2
from babel.dates import format_date
from jinja2.sandbox import SandboxedEnvironment

from app.catalog.units import format_quantity
from app.config import StoreConfig, per_config
from app.core import i18n, resources
from app.core.money import format_amount, format_rate
from app.core.web import tender_label
from app.printing.layout import LayoutError, parse_layout

log = logging.getLogger("kirana.printing")
DEFAULT_DIR = resources.PRINT_TEMPLATES
DOCUMENTS = ("receipt", "refund", "report", "test", "pick_list", "packing_slip", "bag_label",
             "price_label", "purchase_order")
CUSTOMER_DOCUMENTS = ("receipt", "refund")
BILINGUAL_FALLBACK = "hi"  # "bilingual" in an English store: Hindi beside the English


def safe_text(value: Any) -> str:
    """Data placed in a layout line: one line, no row separator, a leading '[' escaped."""
    text = " ".join(str(value).split()).replace("||", "|")
    return "\\" + text if text.startswith("[") else text


def local_day(day: date | None, fmt: str = "%d %b %Y") -> str:
    """A calendar date (no time of day, so no time zone) as the document's language writes
    it: strftime in English, Babel's month names in any other (issue #22)."""
    if not day:
        return ""
    code = i18n.current_language()
    if code == i18n.SOURCE_LANGUAGE:
        return day.strftime(fmt)
    return str(format_date(day, i18n._cldr_pattern(fmt), locale=i18n.babel_locale(code)))


def _environment(loader: jinja2.BaseLoader, *, sandboxed: bool = False) -> jinja2.Environment:
    env = (SandboxedEnvironment if sandboxed else jinja2.Environment)(
        loader=loader, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["t"] = safe_text
    i18n.install(env)  # _() in the document's language (PrintTemplates.render)
    env.globals.update(money=format_amount, rate=format_rate, tender=tender_label,
                       qty=format_quantity, day=local_day)
    return env


@dataclass
class PrintTemplates:
    """Renders documents for one store, remembering problems with its overrides."""

    cfg: StoreConfig
    problems: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._defaults = _environment(jinja2.FileSystemLoader(DEFAULT_DIR))
        override_dir = self.cfg.templates_dir
        self._overrides = (_environment(jinja2.FileSystemLoader(override_dir), sandboxed=True)
                           if override_dir.is_dir() else None)
        local = i18n.local_time(self.cfg.tz)
        for env in filter(None, (self._defaults, self._overrides)):
            env.globals["local"] = lambda dt, fmt="%d-%m-%Y %H:%M": local(dt, fmt)

    def language(self, document: str) -> tuple[str, bool]:
        """(language, bilingual) a document prints in: customers' documents (receipt,
        refund) in `[printing] receipt_language`, the rest in the store's language.
        "bilingual" pairs the store's language with English; a store whose own language
        is English pairs Hindi with it (issue #22), as its products' local names are."""
        store = self.cfg.store.language
        if document not in CUSTOMER_DOCUMENTS:
            return store, False
        chosen = self.cfg.printing.receipt_language
        if chosen == "bilingual":
            local = store if store != i18n.SOURCE_LANGUAGE else BILINGUAL_FALLBACK
            return local, i18n.is_shipped(local) and local != i18n.SOURCE_LANGUAGE
        return chosen or store, False

    def render(self, document: str, **context: Any) -> str:
        """Layout text for `document`, from the store's override when it works, in the
        document's language (self.language)."""
        if document not in DOCUMENTS:
            raise ValueError(f"unknown document {document!r}")
        code, bilingual = self.language(document)
        with i18n.use_language(code, bilingual=bilingual):
            return self._render(document, context)

    def _render(self, document: str, context: dict[str, Any]) -> str:
        name = f"{document}.txt.j2"
        context.setdefault("store", self.cfg.store)
        if self._overrides is not None and (self.cfg.templates_dir / name).exists():
            try:
                text = self._overrides.get_template(name).render(**context)
                parse_layout(text)  # a layout error is a broken override too
                self.problems.pop(name, None)
                return text
            except (jinja2.TemplateError, LayoutError, ArithmeticError, LookupError,
                    TypeError, ValueError, AttributeError, OverflowError) as exc:
                self.problems[name] = describe_problem(name, exc)
                log.warning("print template override %s", self.problems[name])
        return self._defaults.get_template(name).render(**context)


def describe_problem(name: str, exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    if line is None and exc.__traceback__ is not None:
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:  # Jinja maps template frames to "<template>" file names
            if tb.tb_frame.f_code.co_filename.endswith(name):
                line = tb.tb_lineno
            tb = tb.tb_next
    where = f"line {line}" if line else "layout"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{name} {where}: {message} (the built-in layout was used)"


_REGISTRY: dict = {}


def templates_for(cfg: StoreConfig) -> PrintTemplates:
    """The store's print templates (one per loaded config, so override problems are
    remembered for the printers page)."""
    return per_config(_REGISTRY, cfg, PrintTemplates)
