"""Protocol versions in hello/welcome (issue #23, "Upgrades"): a new hub answers an old
store in exactly the v1 shape, a new store and a new hub agree on the highest version
both speak, a store offering only versions the hub does not speak gets a clear 4400,
and an older store skips a newer hub's event kinds without losing the known ones."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from app.hub.link_history import SKEW_BOUND_SECONDS, skew_words, status_values
from app.sync.protocol import (
    HUB_TO_STORE,
    PROTO,
    PROTOS,
    Ack,
    Event,
    Events,
    Hello,
    ProtocolError,
    Status,
    Welcome,
    decode,
    encode,
    hello,
    negotiate,
    receive,
    welcome,
    welcomed_version,
)

EPOCH = "0123456789abcdef"
V1_HELLO = '{"type":"hello","proto":1,"store_id":"S1","epoch":"0123456789abcdef","applied_down":4}'
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def status(**changes) -> Status:
    values = {"version": "0.9.0", "clock": NOW, "disk_free_bytes": 5 * 2**30,
              "last_backup_at": NOW - timedelta(hours=3)}
    return Status(**{**values, **changes})


class OldWelcome(msgspec.Struct, tag="welcome", forbid_unknown_fields=True):
    """The v1 store's welcome, as the previous release decodes it."""

    acked_up: int
    hub_time: str


def test_an_old_stores_hello_gets_exactly_the_v1_welcome():
    old = decode(V1_HELLO)
    assert isinstance(old, Hello) and old.proto_max is None and old.status is None
    assert negotiate(old) == 1
    reply = welcome(old, negotiate(old), 12, "2026-12-01T10:00:00+00:00")
    wire = encode(reply)
    assert json.loads(wire) == {"type": "welcome", "acked_up": 12,
                                "hub_time": "2026-12-01T10:00:00+00:00"}
    # The old store refuses unknown fields: this welcome must decode under its rules.
    assert msgspec.json.decode(wire, type=OldWelcome).acked_up == 12
    # Whereas a welcome naming a version would not (what the test above guards).
    with pytest.raises(msgspec.ValidationError, match="proto"):
        msgspec.json.decode(encode(Welcome(acked_up=12, hub_time="x", proto=2)),
                            type=OldWelcome)


def test_a_new_store_and_a_new_hub_speak_the_highest_common_version():
    offer = hello("S1", EPOCH, 4, status())
    assert (offer.proto, offer.proto_max) == (min(PROTOS), PROTO)
    got = decode(encode(offer))
    assert got == offer and negotiate(got) == PROTO == 3
    reply = welcome(got, negotiate(got), 0, "t", catalog_head=9)
    assert json.loads(encode(reply))["proto"] == 3
    assert json.loads(encode(reply))["catalog_after"] == 0
    assert welcomed_version(offer, decode(encode(reply))) == 3


def test_a_v2_store_and_a_v3_hub_speak_v2_without_the_catalogue_log():
    offer = hello("S1", EPOCH, 4, status(), newest=2)
    assert "applied_catalog" not in json.loads(encode(offer))
    reply = welcome(offer, negotiate(offer), 0, "t", catalog_head=9)
    assert "catalog_after" not in json.loads(encode(reply))
    assert welcomed_version(offer, reply) == 2


def test_the_catalogue_cursor_in_the_welcome():
    offer = hello("S1", EPOCH, 0, None, applied_catalog=40)
    assert welcome(offer, 3, 0, "t", catalog_head=90).catalog_after == 40
    # A store past the hub's log (the hub restored from a backup) starts again at 0.
    assert welcome(offer, 3, 0, "t", catalog_head=39).catalog_after == 0
    # A v3 welcome without the cursor, or a v2 one with it, is refused.
    with pytest.raises(ProtocolError, match="catalog_after"):
        welcomed_version(offer, Welcome(acked_up=0, hub_time="t", proto=3))
    with pytest.raises(ProtocolError, match="catalog_after"):
        welcomed_version(offer, Welcome(acked_up=0, hub_time="t", proto=2, catalog_after=0))


def test_a_newer_store_offering_more_settles_on_what_the_hub_speaks():
    newer = Hello(proto=1, proto_max=7, store_id="S1", epoch=EPOCH, applied_down=0)
    assert negotiate(newer) == 3
    assert negotiate(newer, speaks=(1,)) == 1  # an older hub, had it understood proto_max


@pytest.mark.parametrize(("proto", "proto_max", "speaks", "words"), [
    (3, 4, (1, 2), "the store speaks protocols 3 to 4, the hub protocols 1 to 2: "
                   "upgrade the hub"),
    (5, None, (1, 2), "the store speaks protocol 5, the hub protocols 1 to 2: upgrade the hub"),
    (1, 1, (2, 3), "the store speaks protocol 1, the hub protocols 2 to 3: upgrade the store"),
    (2, 1, (1, 2), "proto_max 1 is below proto 2"),
])
def test_a_store_offering_nothing_the_hub_speaks_gets_a_clear_4400(proto, proto_max, speaks,
                                                                   words):
    offer = Hello(proto=proto, proto_max=proto_max, store_id="S1", epoch=EPOCH, applied_down=0)
    with pytest.raises(ProtocolError) as err:
        negotiate(offer, speaks=speaks)
    assert err.value.code == 4400 and str(err.value) == words
    if speaks == PROTOS:  # the hub's decode says the same before anything else happens
        with pytest.raises(ProtocolError, match=words):
            decode(encode(offer))


@pytest.mark.parametrize("frame", [
    # status on a hello that offers only v1
    '{"type":"hello","proto":1,"store_id":"S1","epoch":"0123456789abcdef","applied_down":0,'
    '"status":{"type":"status","version":"1","clock":"2026-12-01T10:00:00Z"}}',
    # a clock without a zone, a negative or absurd disk, an overlong version
    '{"type":"status","version":"1","clock":"2026-12-01T10:00:00"}',
    '{"type":"status","version":"1","clock":"2026-12-01T10:00:00Z","disk_free_bytes":-1}',
    '{"type":"status","version":"1","clock":"2026-12-01T10:00:00Z",'
    '"disk_free_bytes":99999999999999999999}',
    '{"type":"status","version":"99999999999999999999999999999999999999999","clock":"2026-12-01T10:00:00Z"}',
    '{"type":"status","version":"1","clock":"2026-12-01T10:00:00Z","cpu":3}',
    '{"type":"status","version":"1","clock":"2026-12-01T10:00:00Z","last_backup_at":"soon"}',
    # proto out of bounds, an unknown hello field, a welcome naming a silly version
    '{"type":"hello","proto":0,"store_id":"S1","epoch":"0123456789abcdef","applied_down":0}',
    '{"type":"hello","proto":1,"proto_max":100000,"store_id":"S1","epoch":"0123456789abcdef",'
    '"applied_down":0}',
    '{"type":"hello","proto":1,"store_id":"S1","epoch":"0123456789abcdef","applied_down":0,"x":1}',
    '{"type":"welcome","acked_up":0,"hub_time":"t","proto":-2}',
])
def test_hostile_or_malformed_version_and_status_frames_are_4400(frame):
    with pytest.raises(ProtocolError) as err:
        decode(frame)
    assert err.value.code == 4400


def test_the_store_refuses_a_welcome_naming_a_version_it_did_not_offer():
    offer = hello("S1", EPOCH, 0, status())
    with pytest.raises(ProtocolError, match="the hub chose protocol 4, not offered"):
        welcomed_version(offer, Welcome(acked_up=0, hub_time="t", proto=4))
    # An older hub's welcome (no proto) means protocol 1, and so no status messages.
    assert welcomed_version(offer, Welcome(acked_up=0, hub_time="t")) == 1


def test_the_v1_fallback_hello_is_exactly_the_old_one():
    """After an older hub refused the longer hello, the store says exactly this."""
    v1 = hello("S1", EPOCH, 4, status(), newest=1)
    assert json.loads(encode(v1)) == json.loads(V1_HELLO)


def test_status_round_trip_and_the_hub_columns():
    sent = status(clock=NOW + timedelta(minutes=3), disk_free_bytes=None, last_backup_at=None)
    got = decode(encode(sent))
    assert got == sent
    assert "disk_free_bytes" not in json.loads(encode(sent))  # unknown: left out
    values = status_values(got, NOW)
    assert values["status_clock_skew"] == 180.0 and values["status_disk_free"] is None
    assert values["status_at"] == NOW and values["status_backup_at"] is None
    ancient = status_values(status(clock=datetime(1970, 1, 1, tzinfo=UTC)), NOW)
    assert ancient["status_clock_skew"] == -SKEW_BOUND_SECONDS


@pytest.mark.parametrize(("skew", "words"), [
    (0.0, ""), (59.0, ""), (-60.0, ""),
    (180.0, "Clock 3 min fast: SLA timers will be wrong. Set the time on the store's "
            "computer."),
    (-61.0, "Clock 1 min slow: SLA timers will be wrong. Set the time on the store's "
            "computer."),
    (3 * 3600.0, "Clock 3 hours fast: SLA timers will be wrong. Set the time on the "
                 "store's computer."),
    (-400 * 86400.0, "Clock 400 days slow: SLA timers will be wrong. Set the time on the "
                     "store's computer."),
])
def test_clock_skew_in_plain_words(skew, words):
    assert skew_words(skew) == words


def event(seq: int, kind: str, sku: str = "") -> Event:
    return Event(seq=seq, id=f"e{seq}", kind=kind, at="2026-12-01T10:00:00+00:00",
                 data={"sku": sku, "name": sku} if sku else {"anything": [1, 2]})


async def test_an_older_store_skips_a_newer_kind_between_known_ones(caplog):
    """A frame [known, unknown, known]: both known events are applied in order, the
    unknown one is logged, and the ack covers all three (nothing known skipped)."""
    from app.sync import store_apply

    applied: list[str] = []

    async def upserted(s, cfg, data):
        applied.append(data["sku"])

    frame = decode(encode(Events(events=[event(1, "product.upserted", "A"),
                                         event(2, "store.rename"),
                                         event(3, "product.upserted", "B")])),
                   expect_kinds=HUB_TO_STORE)
    got = receive(0, frame)
    handlers = {**store_apply.HANDLERS, "product.upserted": upserted}
    with caplog.at_level(logging.WARNING, "kirana.sync"):
        original = store_apply.HANDLERS
        store_apply.HANDLERS = handlers
        try:
            for e in got.apply:
                await store_apply.apply_hub_event(None, None, e)
        finally:
            store_apply.HANDLERS = original
    assert applied == ["A", "B"]
    assert got.reply == Ack(upto=3) and got.cursor == 3
    assert "hub event 2 of kind 'store.rename' is unknown here: skipped" in caplog.text


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                  "1800-01-01T00:00:00+00:00", "9500-01-01T00:00:00+00:00"])
def test_a_status_time_a_database_cannot_hold_is_a_bad_message(when):
    """Review: the far-future backup time decoded and then raised in the hub's write."""
    for field in ("clock", "last_backup_at"):
        status = {"type": "status", "version": "2.0", "clock": "2026-12-01T10:00:00+00:00",
                  field: when}
        with pytest.raises(ProtocolError) as raised:
            decode(json.dumps(status))
        assert raised.value.code == 4400 and field in str(raised.value)
