from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sync.protocol import (
    HUB_TO_STORE,
    MAX_EVENTS_PER_FRAME,
    MAX_FRAME_BYTES,
    STORE_TO_HUB,
    Ack,
    Event,
    Events,
    Hello,
    ProtocolError,
    Resend,
    decode,
    encode,
    frames,
    receive,
)


def event(seq: int, kind: str = "stock.moved", size: int = 0) -> Event:
    return Event(seq=seq, id=f"e{seq}", kind=kind, at="2026-11-27T10:00:00+00:00",
                 data={"pad": "x" * size})


def test_round_trip_and_wire_names():
    hello = decode('{"type":"hello","proto":1,"store_id":"S1","epoch":"0123456789ab",'
                   '"applied_down":7}')
    assert hello == Hello(proto=1, store_id="S1", epoch="0123456789ab", applied_down=7)
    assert json.loads(encode(Resend(from_=5))) == {"type": "resend", "from": 5}
    assert decode(encode(Ack(upto=3))) == Ack(upto=3)


@pytest.mark.parametrize(("frame", "message"), [
    ("not json", "not JSON"),
    ('{"type":"hello","proto":4,"store_id":"S1","epoch":"0123456789ab","applied_down":0}',
     "the store speaks protocol 4, the hub protocols 1 to 3: upgrade the hub"),
    ('{"type":"hello","proto":1,"store_id":"s1","epoch":"0123456789ab","applied_down":0}',
     "store_id"),
    ('{"type":"ack","upto":-1}', "upto"),
    ('{"type":"ack","upto":1,"extra":true}', "extra"),
    ('{"type":"dance"}', "dance"),
    ('{"type":"events","events":[]}', "events"),
])
def test_bad_frames_are_refused_with_a_reason(frame, message):
    with pytest.raises(ProtocolError, match=message) as err:
        decode(frame)
    assert err.value.code == 4400


def test_a_deeply_nested_frame_is_a_bad_message_not_a_crash():
    deep = ('{"type":"events","events":[{"seq":1,"id":"e1","kind":"stock.snapshot",'
            '"at":"2026-11-27T10:00:00+00:00","data":{"levels":' + "[" * 3000 + "]" * 3000
            + "}}]}")
    with pytest.raises(ProtocolError, match="nested too deeply") as err:
        decode(deep)
    assert err.value.code == 4400


def test_limits_and_direction():
    big = encode(Events(events=[event(1, size=MAX_FRAME_BYTES)]))
    with pytest.raises(ProtocolError, match="over the 1 MiB limit"):
        decode(big)
    gap = encode(Events(events=[event(1), event(3)]))
    with pytest.raises(ProtocolError, match="consecutive"):
        decode(gap)
    wrong_way = encode(Events(events=[event(1, kind="product.upserted")]))
    with pytest.raises(ProtocolError, match="not sent this way"):
        decode(wrong_way, expect_kinds=STORE_TO_HUB)
    assert decode(wrong_way, expect_kinds=HUB_TO_STORE)
    too_many = encode(Events(events=[event(i) for i in range(1, MAX_EVENTS_PER_FRAME + 2)]))
    with pytest.raises(ProtocolError):
        decode(too_many)


def test_receive_skips_repeats_and_asks_for_gaps():
    r = receive(5, Events(events=[event(4), event(5), event(6), event(7)]))
    assert [e.seq for e in r.apply] == [6, 7] and r.cursor == 7 and r.reply == Ack(upto=7)
    r = receive(5, Events(events=[event(8)]))
    assert r.apply == () and r.cursor == 5 and r.reply == Resend(from_=6)
    r = receive(9, Events(events=[event(3)]))
    assert r.apply == () and r.reply == Ack(upto=9)


@given(st.integers(1, 60), st.lists(st.tuples(st.integers(1, 60), st.integers(1, 20)),
                                    max_size=40))
def test_any_delivery_order_applies_each_event_exactly_once(total, deliveries):
    """Frames arrive duplicated, late and out of order (a flaky link); after the sender
    finally resends from the receiver's cursor, every event was applied once, in order."""
    cursor, applied = 0, []
    for start, length in deliveries:
        start = min(start, total)
        frame = Events(events=[event(s) for s in range(start, min(total, start + length - 1) + 1)])
        result = receive(cursor, frame)
        applied += [e.seq for e in result.apply]
        cursor = result.cursor
    while cursor < total:  # the resend after reconnect: everything from cursor + 1
        for frame in frames([event(s) for s in range(cursor + 1, total + 1)]):
            result = receive(cursor, frame)
            applied += [e.seq for e in result.apply]
            cursor = result.cursor
    assert applied == list(range(1, total + 1))


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=1200))
def test_frames_respect_both_limits(sizes):
    pending = [event(i + 1, size=size) for i, size in enumerate(sizes)]
    out = frames(pending, limit_bytes=64 * 1024)
    assert [e.seq for f in out for e in f.events] == list(range(1, len(sizes) + 1))
    for f in out:
        assert len(f.events) <= MAX_EVENTS_PER_FRAME
        assert len(encode(f)) <= 64 * 1024


async def test_a_newer_peers_unknown_kind_is_acknowledged_and_skipped():
    """New kinds need no new proto: an older receiver logs, acknowledges and skips them
    (a known kind the wrong way is still refused, above)."""
    from app.sync.store_apply import apply_hub_event

    newer = decode(encode(Events(events=[event(1, kind="store.rename")])),
                   expect_kinds=HUB_TO_STORE)
    await apply_hub_event(None, None, newer.events[0])  # touches nothing, raises nothing
    assert receive(0, newer).reply == Ack(upto=1)
    assert "stock.snapshot" in STORE_TO_HUB and "store.resync" in HUB_TO_STORE
