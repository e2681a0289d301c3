"""The shared catalogue log's wire rule (sync protocol 3, issue #24): `catalog` frames, the
store's cursor, and what a compacted log with lost, repeated and stale frames still
promises: every product reaches the store's newest state, no product ever goes back to an
older state, and nothing is applied past a gap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sync.protocol import (
    Catalog,
    CatalogAck,
    CatalogResend,
    Event,
    Hello,
    ProtocolError,
    catalog_frames,
    decode,
    encode,
    receive_catalog,
)

EPOCH = "0123456789abcdef"


def entry(seq: int, sku: str = "A", version: int = 0, pad: int = 0) -> Event:
    return Event(seq=seq, id=f"c{seq}", kind="product.upserted", at="2026-12-02T10:00:00Z",
                 data={"sku": sku, "version": version, "pad": "x" * pad})


def test_round_trip():
    frame = Catalog(after=3, events=[entry(5), entry(9)])
    assert decode(encode(frame)) == frame
    assert decode(encode(CatalogAck(upto=9))) == CatalogAck(upto=9)
    assert decode(encode(CatalogResend(after=3))) == CatalogResend(after=3)


@pytest.mark.parametrize(("frame", "words"), [
    ('{"type":"catalog","after":5,"events":[' + encode(entry(5)).decode() + "]}",
     "past `after`"),
    ('{"type":"catalog","after":0,"events":[' + encode(entry(7)).decode() + ","
     + encode(entry(6)).decode() + "]}", "must rise"),
    ('{"type":"catalog","after":0,"events":[' + encode(entry(7)).decode().replace(
        "product.upserted", "order.assigned") + "]}", "not a catalogue entry"),
    ('{"type":"catalog","after":-1,"events":[' + encode(entry(1)).decode() + "]}", "after"),
    ('{"type":"catalog","after":0,"events":[]}', "events"),
    ('{"type":"catalog_ack","upto":99999999999999999999}', "upto"),
    ('{"type":"catalog_resend","after":1,"x":2}', "x"),
    ('{"type":"hello","proto":1,"proto_max":2,"store_id":"S1","epoch":"0123456789abcdef",'
     '"applied_down":0,"applied_catalog":0}', "applied_catalog needs protocol 3"),
])
def test_hostile_catalogue_frames_are_4400(frame, words):
    with pytest.raises(ProtocolError, match=words) as err:
        decode(frame)
    assert err.value.code == 4400


def test_a_v3_hello_carries_the_cursor():
    got = decode(encode(Hello(proto=1, proto_max=3, store_id="S1", epoch=EPOCH,
                              applied_down=0, applied_catalog=12)))
    assert isinstance(got, Hello) and got.applied_catalog == 12


def test_receive_skips_what_it_has_and_asks_after_a_lost_frame():
    fresh, cursor, reply = receive_catalog(5, Catalog(after=2, events=[entry(4), entry(8)]))
    assert [e.seq for e in fresh] == [8] and cursor == 8 and reply == CatalogAck(upto=8)
    fresh, cursor, reply = receive_catalog(5, Catalog(after=7, events=[entry(9)]))
    assert fresh == () and cursor == 5 and reply == CatalogResend(after=5)
    fresh, cursor, reply = receive_catalog(9, Catalog(after=0, events=[entry(3)]))
    assert fresh == () and cursor == 9 and reply == CatalogAck(upto=9)


class Log:
    """The hub's compacted log in miniature: one entry per SKU, a new seq per write."""

    def __init__(self) -> None:
        self.head = 0
        self.rows: dict[str, Event] = {}
        self.versions: dict[str, int] = {}

    def write(self, sku: str) -> None:
        self.head += 1
        self.versions[sku] = self.versions.get(sku, 0) + 1
        self.rows[sku] = entry(self.head, sku, self.versions[sku])

    def after(self, cursor: int) -> list[Event]:
        return sorted((e for e in self.rows.values() if e.seq > cursor), key=lambda e: e.seq)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from("ABCDE")),
    # a frame sent from some cursor the hub believed (stale, current, or lost: not kept)
    st.tuples(st.just("send"), st.integers(0, 40), st.integers(1, 4), st.booleans()),
), max_size=80))
def test_any_delivery_reaches_the_newest_state_and_never_goes_back(steps):
    log, cursor, store = Log(), 0, {}
    frames_in_flight: list[Catalog] = []

    def deliver(frame: Catalog) -> None:
        nonlocal cursor
        fresh, cursor, _reply = receive_catalog(cursor, frame)
        for e in fresh:
            sku, version = e.data["sku"], e.data["version"]
            assert version > store.get(sku, 0), "a product went back to an older state"
            store[sku] = version

    for step in steps:
        if step[0] == "write":
            log.write(step[1])
        else:
            _, believed, count, lost = step
            believed = min(believed, log.head)
            entries = log.after(believed)[:count]
            if not entries:
                continue
            frame = Catalog(after=believed, events=entries)
            if not lost:
                frames_in_flight.append(frame)
            if frames_in_flight and len(frames_in_flight) % 2 == 0:
                deliver(frames_in_flight.pop(0))  # late and out of turn
    for frame in frames_in_flight:  # the rest arrive late
        deliver(frame)
    # Reconnect: the hub sends from the cursor the store's hello names.
    for frame in catalog_frames(cursor, log.after(cursor)):
        deliver(frame)
    assert cursor == log.head
    assert store == log.versions


@given(st.lists(st.integers(0, 3000), min_size=1, max_size=1200))
def test_catalogue_frames_chain_their_cursors_within_the_limits(sizes):
    entries = [entry(2 * i + 3, pad=size) for i, size in enumerate(sizes)]
    out = catalog_frames(1, entries, limit_bytes=64 * 1024)
    assert [e.seq for f in out for e in f.events] == [e.seq for e in entries]
    assert out[0].after == 1
    for before, frame in zip(out, out[1:], strict=False):
        assert frame.after == before.events[-1].seq
    for frame in out:
        assert len(encode(frame)) <= 64 * 1024
        assert decode(encode(frame)) == frame
