"""A store's live load (issue #24): the pure function that makes it, the one query that
reads it from a store database, what the protocol refuses (hostile figures), that only a
v3 link carries it, and how the allocation uses it (capacity, ranking, words)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import msgspec
import pytest

from app.catalog.models import Product
from app.core.auth import create_user
from app.core.clock import utcnow
from app.core.ids import uuid7
from app.hub.allocation import Live, OrderView, Rules, StoreView, allocate
from app.orders.models import Order, OrderLine
from app.picking.models import PickBatch, PickTaskRow
from app.sync import protocol as p
from app.sync.store_load import live_load, read_load, uuid7_floor

NOW = utcnow()


# --- the pure part ---------------------------------------------------------------------


def test_live_load_counts_and_turns_picks_into_an_hourly_rate():
    load = live_load({"accepted": 3, "picking": 2, "ready": 0}, 3, 11,
                     timedelta(minutes=15))
    assert load == p.Load(pickers=3, orders={"accepted": 3, "picking": 2}, picks_per_hour=44)
    assert load.open_orders == 5


@pytest.mark.parametrize("bad", [-1, -2**63, 2**63, float("nan"), float("inf"), None, "x"])
def test_live_load_clamps_hostile_counts_instead_of_failing(bad):
    load = live_load({"accepted": bad, "picking": 1}, bad, bad)
    assert 0 <= load.pickers <= 1_000_000 and 0 <= load.picks_per_hour <= 1_000_000
    assert all(0 < n <= 1_000_000 for n in load.orders.values())
    # What it makes always passes the protocol's own checks.
    assert p.decode(p.encode(p.Status(version="1", clock=NOW, load=load))) is not None


def test_live_load_drops_state_names_the_protocol_cannot_carry():
    load = live_load({"Picking": 1, "a" * 17: 1, "": 1, 7: 1, "with_rider": 2}, 1, 0)
    assert load.orders == {"with_rider": 2}
    many = live_load({f"s{chr(97 + i)}": 1 for i in range(26)}, 1, 0)
    assert len(many.orders) == 16


def test_uuid7_floor_sorts_below_every_id_made_after_it():
    floor = uuid7_floor(utcnow() - timedelta(seconds=1))
    assert floor < uuid7() and len(floor) == 36
    assert uuid7_floor(utcnow() + timedelta(hours=1)) > uuid7()


# --- the protocol ----------------------------------------------------------------------


def status_frame(load: dict) -> bytes:
    return json.dumps({"type": "status", "version": "1", "clock": NOW.isoformat(),
                       "load": load}).encode()


GOOD = {"pickers": 3, "orders": {"accepted": 7}, "picks_per_hour": 42}


@pytest.mark.parametrize("change", [
    {"pickers": -1}, {"pickers": 2**63}, {"picks_per_hour": 2**63},
    {"orders": {"accepted": -3}}, {"orders": {"accepted": 2**63}},
    {"pickers": 1.5}, {"pickers": "3"}, {"pickers": None},
    {"orders": {"Accepted": 1}}, {"orders": {f"s{chr(97 + i)}": 1 for i in range(17)}},
    {"surprise": 1},
])
def test_the_status_refuses_hostile_load_figures(change):
    with pytest.raises(p.ProtocolError) as err:
        p.decode(status_frame({**GOOD, **change}))
    assert err.value.code == p.BAD_MESSAGE


def test_the_status_refuses_nan_and_infinity():
    for word in ("NaN", "Infinity", "-Infinity", "1e400"):
        raw = status_frame(GOOD).replace(b'"pickers": 3', b'"pickers": ' + word.encode())
        assert word.encode() in raw
        with pytest.raises(p.ProtocolError):
            p.decode(raw)


def test_a_good_load_decodes_and_a_status_without_one_is_unchanged():
    got = p.decode(status_frame(GOOD))
    assert isinstance(got, p.Status) and got.load == p.Load(**GOOD)
    bare = p.encode(p.Status(version="1", clock=NOW))
    assert b"load" not in bare  # omitted: the v2 status, byte for byte


def test_only_a_v3_hello_carries_the_load():
    status = p.Status(version="1", clock=NOW, load=p.Load(**GOOD))
    v3 = p.hello("S1", "e" * 16, 0, status)
    assert v3.status is not None and v3.status.load is not None
    v2 = p.hello("S1", "e" * 16, 0, status, newest=2)  # for a hub that refused v3
    assert v2.status is not None and v2.status.load is None and v2.applied_catalog is None
    assert b"load" not in p.encode(v2)
    forged = msgspec.structs.replace(v2, status=status)
    with pytest.raises(p.ProtocolError, match="load needs protocol 3"):
        p.negotiate(forged)


class V2Status(msgspec.Struct, tag="status", forbid_unknown_fields=True):
    """A v2 hub's status, as the previous release decodes it."""

    version: str
    clock: str
    disk_free_bytes: int | None = None
    last_backup_at: str | None = None


class V2Hello(msgspec.Struct, tag="hello", forbid_unknown_fields=True):
    proto: int
    store_id: str
    epoch: str
    applied_down: int
    proto_max: int | None = None
    status: V2Status | None = None
    outbox_first: int | None = None


def test_a_v2_hub_refuses_the_load_by_name_and_takes_the_v2_hello():
    status = p.Status(version="1", clock=NOW, load=p.Load(**GOOD))
    with pytest.raises(msgspec.ValidationError) as err:
        msgspec.json.decode(p.encode(p.hello("S1", "e" * 16, 0, status)), type=V2Hello)
    # What the store's client looks for to say the v2 hello next (client._session).
    assert "`load`" in str(err.value)
    v2 = msgspec.json.decode(p.encode(p.hello("S1", "e" * 16, 0, status, newest=2)),
                             type=V2Hello)
    assert v2.status is not None and v2.proto_max == 2
    # And a status after the welcome on a v2 link carries none either.
    assert b"load" not in p.encode(p.Status(version="1", clock=NOW, load=None))


# --- the query, on a store database ------------------------------------------------------


async def test_read_load_on_a_store_database(db, staff):
    now = utcnow()
    async with db.write() as s:
        product = Product(sku="RICE", name="Rice", price_minor=4500, gst_rate_bp=500,
                          updated_at=now)
        s.add(product)
        await s.flush()
        for i, state in enumerate(("received", "accepted", "accepted", "picking",
                                   "handed_over", "delivered", "cancelled")):
            s.add(Order(id=uuid7(), number=f"D2-{i:06d}", channel="webshop",
                        external_id=f"W-{i}", state=state, customer_name="K",
                        customer_phone="9800000000", address="x", pincode="560034",
                        promised_by=now, payment="prepaid", handover_code="1234",
                        created_at=now, updated_at=now))
        await s.flush()
        order = Order(id=uuid7(), number="D2-999999", channel="webshop", external_id="W-9",
                      state="picking", customer_name="K", customer_phone="9800000000",
                      address="x", pincode="560034", promised_by=now, payment="prepaid",
                      handover_code="1234", created_at=now, updated_at=now)
        s.add(order)
        await s.flush()
        line = OrderLine(order_id=order.id, position=1, product_id=product.id, sku="RICE",
                         name="Rice", unit="piece", quantity=9, price_minor=4500)
        s.add(line)
        await s.flush()
        # Ravi (picker) picked 3 lines in the last 15 minutes and 1 an hour ago.
        batch = PickBatch(id=uuid7(), number="D2-B0001", picker_id=staff["picker"],
                          status="open", created_at=now - timedelta(hours=1))
        s.add(batch)
        await s.flush()
        for seq, done in enumerate((now - timedelta(minutes=1), now - timedelta(minutes=5),
                                    now - timedelta(minutes=14), now - timedelta(hours=1),
                                    None), start=1):
            s.add(PickTaskRow(batch_id=batch.id, seq=seq, order_id=order.id,
                              order_number=order.number, order_line_id=line.id,
                              product_id=product.id, bin_code="A1", sku="RICE", name="Rice",
                              unit="piece", quantity=1, picked=1 if done else 0, bag="A",
                              status="done" if done else "open", done_at=done))
        # A batch older than the lookback, left open: its picker is not on the floor.
        old = PickBatch(id=uuid7_floor(now - timedelta(hours=13)), number="D2-B0000",
                        picker_id=staff["manager"], status="open",
                        created_at=now - timedelta(hours=13))
        s.add(old)
    load = await read_load(db, now=now)
    assert load.orders == {"received": 1, "accepted": 2, "picking": 2}
    assert load.picks_per_hour == 12  # 3 lines in 15 min
    assert load.pickers == 1  # Ravi: an open batch (the manager's is too old)

    # Another picker who just signed in counts too, before their first batch.
    sita = await create_user(db, "Sita", "picker", "6052")
    async with db.write() as s:
        (await s.get(type(sita), sita.id)).last_login_at = now - timedelta(minutes=2)
    assert (await read_load(db, now=now)).pickers == 2
    # Later: nobody picked for 20 minutes and Ravi's batch is done.
    async with db.write() as s:
        (await s.get(PickBatch, batch.id)).status = "done"
        (await s.get(PickBatch, batch.id)).finished_at = now
    later = await read_load(db, now=now + timedelta(minutes=20))
    assert (later.pickers, later.picks_per_hour) == (0, 0)


# --- the allocation ------------------------------------------------------------------------


def store(sid: str, **kw) -> StoreView:
    return StoreView(id=sid, name=f"Store {sid}", lat=12.97, lon=77.64,
                     pincodes=frozenset({"560038"}), level={"RICE": 50}, **kw)


ORDER = OrderView(pincode="560038", lat=None, lon=None, lines=(("RICE", 1),))


def test_capacity_uses_the_pickers_signed_in_when_known():
    rules = Rules(orders_per_picker=4)
    registered = store("S1", pickers=5, open_orders=8)
    assert registered.capacity(rules) == 20
    live = store("S1", pickers=5, open_orders=8, live=Live(1, 8, 30))
    assert live.capacity(rules) == 4  # one picker signed in: full at 4
    decision = allocate(ORDER, [live], rules)
    assert decision.chosen is None
    assert decision.skipped[0].reason == ("is full (8 open orders, capacity 4; 1 picker "
                                          "signed in, 8 open orders, 30 picks/h)")
    assert allocate(ORDER, [live], Rules(live_pickers=False)).chosen is not None
    nobody = store("S1", pickers=5, live=Live(0, 0, 0))
    assert nobody.capacity(rules) == 4  # at least one, like the registered figure


def test_the_live_load_decides_between_equal_stores():
    busy = store("A1", pickers=4, live=Live(2, 6, 40))
    idle = store("B2", pickers=4, live=Live(2, 0, 10))
    assert allocate(ORDER, [busy, idle], Rules()).chosen.store_id == "B2"
    # Weight 0: the live load does not rank; the store id decides (A1 first).
    assert allocate(ORDER, [busy, idle], Rules(live_load_weight=0)).chosen.store_id == "A1"
    # Small by default: the hub's own count of open orders still comes first.
    hub_busy = store("B2", pickers=4, open_orders=3, live=Live(2, 0, 10))
    assert allocate(ORDER, [busy, hub_busy], Rules()).chosen.store_id == "A1"
    # Not in the criteria: still the last tie-break before the id.
    only = Rules(criteria=("distance", "priority"))
    assert allocate(ORDER, [busy, idle], only).chosen.store_id == "B2"


def test_the_candidate_words_show_the_figures_used():
    chosen = allocate(ORDER, [store("S1", pickers=4, live=Live(3, 7, 42))], Rules()).chosen
    assert chosen.describe().endswith(", 3 pickers signed in, 7 open orders, 42 picks/h")
    plain = allocate(ORDER, [store("S1", pickers=4)], Rules()).chosen
    assert "signed in" not in plain.describe()


@pytest.mark.parametrize("weight", [-0.1, 11, math.nan, math.inf])
def test_the_weight_is_bounded(weight):
    with pytest.raises(ValueError):
        Rules(live_load_weight=weight)
