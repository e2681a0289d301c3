"""The store's promotions: rows to engine Promotions, the till's cache, the manager's
create / end / preview. The engine (app/core/promotions.py) decides everything about
money; this module only stores, loads and checks.

The till prices a cart on every scan, so it must not read the table every time:
``running`` keeps each database's promotions in a per-process cache. A write through
this module bumps the cache's generation at once; a change made by another process
(the CLI, a restore) is noticed by a cheap stamp (count and newest ``updated_at``),
looked at no more often than every ``RECHECK_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, event, func, select, update

from app.config import StoreConfig
from app.core import audit
from app.core import coupons as coupon_rules
from app.core import promotions as engine
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import N_, _, ngettext
from app.core.ids import uuid7
from app.core.money import MoneyError, parse_amount
from app.core.prepared import Prepared
from app.promotions import coupons
from app.promotions.models import PromotionRow

log = logging.getLogger(__name__)
RECHECK_SECONDS = 5.0
MAX_TEXT = 10_000  # a form field longer than this is not a promotion: refused unread

_T = cast(Table, PromotionRow.__table__)
_STAMP = Prepared(select(func.count(_T.c.id), func.max(_T.c.updated_at)))
_ACTIVE = Prepared(select(_T).where(_T.c.active.is_(True)).order_by(_T.c.id))


# ---- rows -> engine promotions --------------------------------------------------------


def _list(text: str) -> frozenset[str]:
    value = json.loads(text or "[]")
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError("not a JSON list of strings")
    return frozenset(value)


def _days(text: str) -> frozenset[int]:
    return frozenset(int(d) for d in text.split(",") if d.strip())


def to_promotion(row: Any) -> engine.Promotion:
    """A stored row as the engine's Promotion, checked (PromotionError or ValueError:
    the row is not a promotion the engine can use)."""
    get_target = None
    get_skus, get_categories = _list(row.get_skus), _list(row.get_categories)
    if get_skus or get_categories:
        get_target = engine.Target(skus=get_skus, categories=get_categories)
    return engine.Promotion(
        id=row.id, name=row.name, kind=row.kind,
        target=engine.Target(skus=_list(row.target_skus),
                             categories=_list(row.target_categories)),
        percent_bp=row.percent_bp, amount=row.amount_minor, buy=row.buy, get=row.get,
        get_target=get_target, size=row.size, bundle_price=row.bundle_price_minor,
        min_bill=row.min_bill_minor, cap=row.cap_minor, free_sku=row.free_sku,
        window=engine.Window(starts=row.starts, ends=row.ends, days=_days(row.days),
                             since_minute=row.since_minute, until_minute=row.until_minute),
        exclusive=bool(row.exclusive), priority=row.priority, coupon=row.coupon,
    ).check()


def load(rows: Sequence[Any]) -> tuple[engine.Promotion, ...]:
    """Rows to Promotions; a row the engine cannot use is skipped with a log line (the
    till keeps selling, without that offer)."""
    out = []
    for row in rows:
        try:
            out.append(to_promotion(row))
        except (ValueError, TypeError) as exc:
            log.warning("promotion %s skipped: %s", row.id, exc)
    return tuple(out)


# ---- the till's cache -----------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    generation: int = -1
    stamp: tuple[Any, ...] | None = None
    checked: float = -math.inf
    promotions: tuple[engine.Promotion, ...] = ()
    loads: int = 0  # how many times the table was read (tests)


_CACHE: dict[str, _Entry] = {}
_GENERATION: dict[str, int] = {}


def _key(cfg: StoreConfig) -> str:
    return str(cfg.database_path)


def changed(cfg: StoreConfig) -> None:
    """This process wrote the table: the next pricing reloads it."""
    key = _key(cfg)
    _GENERATION[key] = _GENERATION.get(key, 0) + 1


def changed_on_commit(s: Session, cfg: StoreConfig) -> None:
    """`changed` once `s` commits: marked before the commit, a till reloading in between
    would read the old table and keep it as the new generation (a rollback: no mark)."""
    if s.info.get("promotions_changed"):
        return
    s.info["promotions_changed"] = True

    def mark(_session: object) -> None:
        s.info.pop("promotions_changed", None)
        changed(cfg)

    def forget(_session: object) -> None:
        s.info.pop("promotions_changed", None)
        if event.contains(s.sync_session, "after_commit", mark):
            event.remove(s.sync_session, "after_commit", mark)

    event.listen(s.sync_session, "after_commit", mark, once=True)
    event.listen(s.sync_session, "after_rollback", forget, once=True)


def cache_info(cfg: StoreConfig) -> _Entry:
    return _CACHE.setdefault(_key(cfg), _Entry())


async def running(s: Session, cfg: StoreConfig) -> tuple[engine.Promotion, ...]:
    """The store's active promotions (the engine picks those whose window runs), from
    the cache: no statement at all while nothing changed in this process and the last
    look is under RECHECK_SECONDS old."""
    key = _key(cfg)
    entry = _CACHE.setdefault(key, _Entry())
    generation = _GENERATION.get(key, 0)
    now = time.monotonic()
    if entry.generation == generation and now - entry.checked < RECHECK_SECONDS:
        return entry.promotions
    row = await _STAMP.first(s, {})
    stamp = tuple(row) if row is not None else None
    if entry.generation != generation or stamp != entry.stamp:
        entry.promotions = load(await _ACTIVE.all(s, {}))
        entry.loads += 1
    entry.generation, entry.stamp, entry.checked = generation, stamp, now
    return entry.promotions


# ---- the manager's page ---------------------------------------------------------------


class FormError(ValueError):
    """What is wrong with a promotion form, in words for the manager."""


@dataclass(frozen=True)
class Listed:
    row: PromotionRow
    state: str  # "running", "scheduled", "ended"
    summary: str
    problem: str = ""  # a stored row the engine refuses (never applied)


@dataclass(frozen=True)
class Listing:
    running: list[Listed] = field(default_factory=list)
    scheduled: list[Listed] = field(default_factory=list)
    ended: list[Listed] = field(default_factory=list)
    # code -> (uses in total or None, per customer or None, uses not given back)
    coupons: dict[str, tuple[int | None, int | None, int]] = field(default_factory=dict)


KIND_WORDS: Mapping[str, str] = {
    "buy_x_get_y": N_("Buy X get Y free (or at a percent off)"),
    "bundle_price": N_("A bundle price: 3 for ₹99"),
    "percent_off": N_("A percent off products or categories"),
    "amount_off": N_("An amount off each piece (or each kg)"),
    "qty_slab": N_("Off each piece from a quantity: ₹5 off each from 3"),
    "bill_amount_off": N_("An amount off the bill: ₹50 off on ₹500 or more"),
    "bill_percent_off": N_("A percent off the bill above a value"),
    "bill_free_item": N_("A free item on bills above a value"),
}


def _text(form: Mapping[str, str], name: str, limit: int = 200) -> str:
    value = form.get(name, "") or ""
    if len(value) > MAX_TEXT or "\x00" in value:
        raise FormError(_("the %(field)s field is not something that can be typed")
                        % {"field": name.replace("_", " ")})
    value = value.strip()
    if len(value) > limit:
        raise FormError(ngettext("the %(field)s is too long: at most %(num)d character",
                                 "the %(field)s is too long: at most %(num)d characters", limit)
                        % {"field": name.replace("_", " "), "num": limit})
    return value


def _whole(form: Mapping[str, str], name: str, what: str, limit: int = 1_000_000) -> int:
    text = _text(form, name, 20)
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()):
        raise FormError(_("%(what)s is a whole number") % {"what": _(what)})
    value = int(text)
    if value > limit:
        raise FormError(_("%(what)s is at most %(limit)s") % {"what": _(what), "limit": limit})
    return value


def _decimal(form: Mapping[str, str], name: str, what: str, places: int, limit: int) -> int:
    """'12.5' -> 1250 (places=2): rupees to paise, a percent to basis points. Digits and
    one point only: no exponent, NaN or infinity; at most `limit` (in the unit)."""
    text = _text(form, name, 20).replace(",", "")
    if not text:
        return 0
    whole, _point, frac = text.partition(".")
    if (not text.isascii() or not (whole or frac) or not (whole.isdigit() or not whole)
            or not (frac.isdigit() or not frac)):
        raise FormError(_("%(what)s is a number like 12 or 12.50") % {"what": _(what)})
    if len(frac) > places:
        raise FormError(ngettext("%(what)s has at most %(num)d digit after the point",
                                 "%(what)s has at most %(num)d digits after the point", places)
                        % {"what": _(what), "num": places})
    if len(whole) > 12:
        raise FormError(_("%(what)s is too big") % {"what": _(what)})
    value = int(whole or "0") * 10**places + int((frac or "0").ljust(places, "0"))
    if value > limit:
        raise FormError(_("%(what)s is too big") % {"what": _(what)})
    return value


def _rupees(form: Mapping[str, str], name: str, what: str) -> int:
    """An amount typed in rupees, by the one parser of amounts (money.parse_amount)."""
    text = _text(form, name, 20)
    if not text:
        return 0
    try:
        return parse_amount(text)
    except MoneyError as exc:
        raise FormError(f"{_(what)}: {exc}") from None


def _codes(form: Mapping[str, str], name: str, upper: bool) -> list[str]:
    text = _text(form, name, MAX_TEXT)
    items = [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]
    if any(len(x) > 60 for x in items):
        raise FormError(_("a product code or category is at most 60 characters"))
    return sorted({x.upper() if upper else x for x in items})


def _minute(text: str, what: str) -> int | None:
    if not text:
        return None
    hh, sep, mm = text.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(hh) <= 2 and len(mm) == 2):
        raise FormError(_("the start time is like 17:00") if what == "start"
                        else _("the end time is like 17:00"))
    return int(hh) * 60 + int(mm)


def _date(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(_("the start date is like 2026-12-31") if what == "start"
                        else _("the end date is like 2026-12-31")) from None


def _coupon(form: Mapping[str, str]) -> str | None:
    """The offer's coupon code, as the till will match it (spaces dropped, upper case)."""
    text = _text(form, "coupon", 60)
    if not text:
        return None
    try:
        return coupon_rules.check_new_code(text)
    except coupon_rules.CouponError as exc:
        raise FormError(str(exc)) from None


def coupon_limits(form: Mapping[str, str]) -> tuple[int | None, int | None]:
    """Uses in total and per customer (empty: no limit), for an offer with a coupon."""
    def limit(name: str, what: str) -> int | None:
        if not _text(form, name, 20):
            return None  # empty: no limit
        value = _whole(form, name, what, coupon_rules.MAX_LIMIT)
        if value < 1:
            raise FormError(_("%(what)s is a whole number from 1 (empty: no limit)")
                            % {"what": _(what)})
        return value

    total = limit("coupon_total", N_("uses in total"))
    mine = limit("coupon_per_customer", N_("uses per customer"))
    try:
        coupon_rules.check_limits(total, mine)
    except coupon_rules.CouponError as exc:
        raise FormError(str(exc)) from None
    return total, mine


def row_from_form(form: Mapping[str, str], user_id: str) -> PromotionRow:
    """A new promotion from the manager's form, checked by the engine (FormError or
    PromotionError); nothing is saved here."""
    kind = _text(form, "kind", 20)
    if kind not in engine.KINDS:
        raise FormError(_("choose what kind of offer it is"))
    name = _text(form, "name", engine.MAX_NAME)
    days = sorted({int(d) for d in form.get("days", "").split(",") if d.strip().isdigit()
                   and len(d.strip()) == 1})
    percent = _decimal(form, "percent", N_("the percent"), 2, 100_00)
    now = utcnow()
    coupon = _coupon(form)
    row = PromotionRow(
        id=uuid7(), name=name, kind=kind,
        target_skus=json.dumps(_codes(form, "skus", upper=True)),
        target_categories=json.dumps(_codes(form, "categories", upper=False)),
        get_skus=json.dumps(_codes(form, "get_skus", upper=True)),
        get_categories="[]",
        percent_bp=percent, amount_minor=_rupees(form, "amount", N_("the amount")),
        buy=_whole(form, "buy", N_("buy"), engine.MAX_GROUP),
        get=_whole(form, "get", N_("get"), engine.MAX_GROUP),
        size=_whole(form, "size", N_("the number of pieces"), engine.MAX_GROUP),
        bundle_price_minor=_rupees(form, "bundle_price", N_("the bundle price")),
        min_bill_minor=_rupees(form, "min_bill", N_("the minimum bill")),
        cap_minor=_rupees(form, "cap", N_("the cap")) or None,
        free_sku=_text(form, "free_sku", 40).upper(),
        starts=_date(_text(form, "starts", 10), "start"),
        ends=_date(_text(form, "ends", 10), "end"),
        days=",".join(str(d) for d in days),
        since_minute=_minute(_text(form, "since", 5), "start"),
        until_minute=_minute(_text(form, "until", 5), "end"),
        exclusive=form.get("exclusive", "") in ("1", "on", "yes"),
        priority=_whole(form, "priority", N_("the priority"), 1000),
        coupon=coupon, active=True, created_by=user_id, created_at=now, updated_at=now,
    )
    if kind == "buy_x_get_y" and not percent:
        row.percent_bp = engine.FULL_BP  # "Buy 2 get 1 free" unless a percent is given
    to_promotion(row)  # PromotionError: shown next to the form, nothing saved
    return row


async def create(db: Database, cfg: StoreConfig, form: Mapping[str, str],
                 user: StaffUser) -> PromotionRow:
    row = row_from_form(form, user.id)
    total, per_customer = coupon_limits(form)
    if not row.coupon and (total or per_customer):
        raise FormError(_("limits on uses need a coupon code"))
    async with db.write() as s:
        if row.coupon:
            try:
                await coupons.set_store_limits(s, row.coupon, total, per_customer)
            except coupon_rules.CouponError as exc:
                raise FormError(str(exc)) from None
        s.add(row)
        audit.record(s, "promotion_create", f"{row.id} {row.kind} {row.name}"[:200], user=user)
    changed(cfg)
    return row


async def end(db: Database, cfg: StoreConfig, promotion_id: str, user: StaffUser) -> bool:
    """End a promotion now (it stays listed, as ended). False: no such running one."""
    async with db.write() as s:
        now = utcnow()
        result = await s.execute(update(PromotionRow).where(
            PromotionRow.id == promotion_id, PromotionRow.active.is_(True),
            PromotionRow.source == "store",  # a chain offer is HQ's to end
        ).values(active=False, ended_at=now, updated_at=now))
        if not getattr(result, "rowcount", 0):
            return False
        audit.record(s, "promotion_end", promotion_id, user=user)
    changed(cfg)
    return True


def state_of(row: PromotionRow, at: datetime) -> str:
    if not row.active:
        return "ended"
    if row.ends is not None and at.date() > row.ends:
        return "ended"
    if row.starts is not None and at.date() < row.starts:
        return "scheduled"
    return "running"


async def listing(db: Database, cfg: StoreConfig) -> Listing:
    at = utcnow().astimezone(cfg.tz)
    async with db.read() as s:
        rows = list(await s.scalars(select(PromotionRow).order_by(
            PromotionRow.created_at.desc())))
        limits = {}
        by_code = await coupons.limits_by_code(s)
        for code, row_ in by_code.items():
            used = (await coupons.uses_of(s, code, "", coupons.counted_since(row_))).total
            limits[code] = (row_.allowance if row_.source == "hub" else row_.total_limit,
                            row_.per_customer_limit, used)
    out = Listing(coupons=limits)
    for row in rows:
        problem = ""
        try:
            summary = describe(to_promotion(row))
        except (ValueError, TypeError) as exc:
            summary, problem = _(KIND_WORDS.get(row.kind, row.kind)), str(exc)
        taken = by_code.get(row.coupon or "")
        if row.source == "store" and taken is not None and taken.source == "hub":
            problem = coupons.taken_by_hq(taken.code)
        getattr(out, state_of(row, at)).append(Listed(row, state_of(row, at), summary,
                                                      problem))
    return out


def describe(p: engine.Promotion) -> str:
    """The offer in plain words, as a manager would say it (in the reader's language)."""
    money = engine.format_amount
    pct = engine._pct
    if p.kind == "buy_x_get_y":
        if p.percent_bp == engine.FULL_BP:
            return _("Buy %(buy)s get %(get)s free") % {"buy": p.buy, "get": p.get}
        return (_("Buy %(buy)s get %(get)s at %(percent)s %% off")
                % {"buy": p.buy, "get": p.get, "percent": pct(p.percent_bp)})
    if p.kind == "bundle_price":
        return _("%(size)s for %(price)s") % {"size": p.size, "price": money(p.bundle_price)}
    if p.kind == "percent_off":
        return _("%(percent)s %% off") % {"percent": pct(p.percent_bp)}
    if p.kind == "amount_off":
        return _("%(amount)s off each") % {"amount": money(p.amount)}
    if p.kind == "qty_slab":
        if p.amount:
            return (_("%(amount)s off each from %(size)s")
                    % {"amount": money(p.amount), "size": p.size})
        return (_("%(percent)s %% off each from %(size)s")
                % {"percent": pct(p.percent_bp), "size": p.size})
    if p.kind == "bill_amount_off":
        return (_("%(amount)s off on %(bill)s or more")
                % {"amount": money(p.amount), "bill": money(p.min_bill)})
    if p.kind == "bill_percent_off":
        if p.cap:
            return (_("%(percent)s %% off bills of %(bill)s or more, at most %(cap)s")
                    % {"percent": pct(p.percent_bp), "bill": money(p.min_bill),
                       "cap": money(p.cap)})
        return (_("%(percent)s %% off bills of %(bill)s or more")
                % {"percent": pct(p.percent_bp), "bill": money(p.min_bill)})
    return _("%(sku)s free on %(bill)s or more") % {"sku": p.free_sku, "bill": money(p.min_bill)}


# ---- preview on a sample basket -------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    lines: list[tuple[str, str, int, int, int]]  # sku, name, quantity, gross, off
    result: engine.Result
    unknown: list[str]


async def preview(db: Database, cfg: StoreConfig, basket: str, coupons_text: str = ""
                  ) -> Preview:
    """What the store's running promotions give on a sample basket ("SKU qty" a line,
    or "SKU x qty", "SKU,qty"), priced by the engine as the till would."""
    wanted = parse_basket(basket)
    async with db.read() as s:
        promos = await running(s, cfg)
        return await preview_on(s, wanted, promos, utcnow().astimezone(cfg.tz),
                                parse_coupons(coupons_text))


def parse_basket(basket: str) -> list[tuple[str, int]]:
    """A sample basket as (SKU, quantity) pairs; FormError says which line is wrong."""
    if len(basket) > MAX_TEXT or "\x00" in basket:
        raise FormError(_("the sample basket is too long"))
    wanted: list[tuple[str, int]] = []
    for raw in basket.replace(",", " ").replace(" x ", " ").splitlines()[:50]:
        parts = raw.split()
        if not parts:
            continue
        qty_text = parts[1] if len(parts) > 1 else "1"
        if not (qty_text.isascii() and qty_text.isdigit() and len(qty_text) <= 4
                and 0 < int(qty_text) <= 1000):
            raise FormError(_("%(line)s: the quantity is a whole number up to 1000")
                            % {"line": raw.strip()[:40]})
        wanted.append((parts[0].upper()[:40], int(qty_text)))
    return wanted


def parse_coupons(text: str) -> list[str]:
    """Coupon codes shown with a sample basket (comma or space between)."""
    if len(text) > 1000:
        raise FormError(_("too many coupon codes"))
    codes = [coupon_rules.normalise(c) for c in text.replace(",", " ").split()]
    return [c for c in codes if c][:coupon_rules.MAX_ON_CART]


async def preview_on(s: Session, wanted: Sequence[tuple[str, int]],
                     promos: Sequence[engine.Promotion], at: datetime,
                     coupons_shown: Sequence[str] = ()) -> Preview:
    """A sample basket priced from the catalogue in `s` (the store's, or the hub's
    master) by the engine with `promos` at `at`: one preview for the store's page and
    HQ's."""
    from app.catalog.models import Product

    skus = {sku for sku, _ in wanted}
    products = {p.sku: p for p in await s.scalars(select(Product).where(
        Product.sku.in_(skus)))} if skus else {}
    items, lines, unknown = [], [], []
    for n, (sku, qty) in enumerate(wanted):
        product = products.get(sku)
        if product is None:
            unknown.append(sku)
            continue
        measured = product.unit != "piece"
        quantity = qty * 1000 if measured else qty
        gross = product.price_minor * qty
        items.append(engine.Item(key=str(n), sku=sku, unit_price=product.price_minor,
                                 quantity=quantity, gross=gross, measured=measured,
                                 category=product.category))
        lines.append((str(n), sku, product.name, qty, gross))
    result = engine.best(items, promos, at, coupons_shown)
    return Preview([(sku, name, qty, gross, result.line_discounts.get(key, 0))
                    for key, sku, name, qty, gross in lines], result, unknown)


# ---- chain promotions from the hub (promotion.upserted) -------------------------------


class BadPromotionEvent(ValueError):
    """A promotion.upserted the store cannot read (its frame fails with 4400)."""


_HUB_INTS = ("percent_bp", "amount_minor", "buy", "get", "size", "bundle_price_minor",
             "min_bill_minor", "priority")


def _hub_list(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) and len(x) <= 60
                                              for x in value) or len(value) > engine.MAX_TARGETS:
        raise BadPromotionEvent(f"{key} is not a list of codes")
    return json.dumps(sorted(value))


def _hub_int(data: Mapping[str, Any], key: str, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**40:
        raise BadPromotionEvent(f"{key} is not a whole number")
    return value


def _hub_date(data: Mapping[str, Any], key: str) -> date | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadPromotionEvent(f"{key} is not a date") from None


async def apply_hub_promotion(s: Session, cfg: StoreConfig, data: Mapping[str, Any]) -> bool:
    """A chain promotion's whole state from the hub, kept read-only here (source "hub").
    Applied only when its `version` is newer than the stored one: a replay or an older
    event changes nothing (False). An offer the engine refuses is kept ended, with a
    warning, rather than stopping the link."""
    promo_id = data.get("id")
    if not isinstance(promo_id, str) or not 0 < len(promo_id) <= 36:
        raise BadPromotionEvent("id missing")
    version = _hub_int(data, "version")
    if not version:
        raise BadPromotionEvent("version missing")
    row = await s.get(PromotionRow, promo_id)
    if row is not None and (row.source != "hub" or row.hub_version >= version):
        return False
    days = data.get("days") or []
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise BadPromotionEvent("days are 0 to 6")
    now = utcnow()
    coupon = data.get("coupon")
    values: dict[str, Any] = {
        "name": str(data.get("name", ""))[:engine.MAX_NAME] or "HQ offer",
        "kind": str(data.get("kind", ""))[:20],
        "target_skus": _hub_list(data, "target_skus"),
        "target_categories": _hub_list(data, "target_categories"),
        "get_skus": _hub_list(data, "get_skus"),
        "get_categories": _hub_list(data, "get_categories"),
        **{k: _hub_int(data, k) for k in _HUB_INTS},
        "cap_minor": _hub_int(data, "cap_minor", optional=True),
        "free_sku": str(data.get("free_sku") or "")[:40],
        "starts": _hub_date(data, "starts"), "ends": _hub_date(data, "ends"),
        "days": ",".join(str(d) for d in sorted(set(days))),
        "since_minute": _hub_int(data, "since_minute", optional=True),
        "until_minute": _hub_int(data, "until_minute", optional=True),
        "exclusive": data.get("exclusive") is True,
        "coupon": coupon_rules.normalise(coupon) if isinstance(coupon, str) else None,
        "active": data.get("active") is not False,
        "source": "hub", "hub_version": version, "updated_at": now,
    }
    if row is None:
        row = PromotionRow(id=promo_id, created_by="hub", created_at=now, **values)
        s.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    if row.active:
        try:
            to_promotion(row)
        except (ValueError, TypeError) as exc:
            log.warning("chain promotion %s kept ended: %s", promo_id, exc)
            row.active = False
    row.ended_at = None if row.active else (row.ended_at or now)
    changed_on_commit(s, cfg)  # after the commit: a reload before it reads the old table
    return True
