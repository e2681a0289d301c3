"""Sync protocol (store <-> hub), the pure part: messages, limits, the version
negotiation in hello/welcome, and the receiver's rule that makes delivery exactly-once.
No I/O here; the store client and the hub endpoint move these messages over a websocket.

Versions: 1 is the original exchange; 2 adds the store's `status` (in its hello and then
every few minutes); 3 adds the shared catalogue log (issue #24): products come in
`catalog` frames from one ordered log the hub keeps once for all stores, each store with
its own cursor (`applied_catalog`), instead of one copy per store in its own stream;
and the store's live load (`status.load`: pickers, open orders, pick rate).
A store offers `proto`..`proto_max` (a store that predates 2 sends `proto` alone); the
hub picks the highest version both speak and names it in `welcome` only when the store
offered a range, so an older store gets exactly the v1 welcome.

See docs/sync-protocol.md for the exchange with examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import msgspec

PROTO = 3  # the highest version this side speaks
PROTOS: Final = (1, 2, 3)  # every version this side speaks
STATUS_FROM: Final = 2  # the first version with `status`
CATALOG_FROM: Final = 3  # the first version with the shared catalogue log
# What the catalogue log carries (hub -> store, in `catalog` frames on a v3 link): whole
# states keyed by product, so a newer entry for a product replaces the older one.
# What the shared catalogue log carries (issue #24): a product's or a chain promotion's
# whole state, the same for every store (a coupon's allowance is per store: its stream).
CATALOG_KINDS = frozenset({"product.upserted", "promotion.upserted"})
ProtoVersion = Annotated[int, msgspec.Meta(ge=1, le=1000)]
MAX_FRAME_BYTES = 1024 * 1024
MAX_EVENTS_PER_FRAME = 500
# Events a store sends ahead of the hub's acks (the hub buffers no more than this).
STORE_SEND_WINDOW = 2000
STORE_TO_HUB = frozenset({"stock.moved", "sale.completed", "sale.refunded", "order.status",
                          "shift.closed", "stock.snapshot",
                          # transfers between stores (issue #17)
                          "transfer.requested", "transfer.picked", "transfer.dispatched",
                          "transfer.received", "transfer.withdrawn",
                          # returns of online orders (issue #19)
                          "return.completed",
                          # loyalty points (issue #21, docs/loyalty.md)
                          "loyalty.joined", "loyalty.earned", "loyalty.redeemed",
                          "loyalty.reversed", "loyalty.lookup", "loyalty.erased",
                          # chain coupons used and given back, and a till's question
                          # about a customer (issue #21, docs/promotions.md)
                          "coupon.used", "coupon.released", "coupon.lookup"})
HUB_TO_STORE = frozenset({"product.upserted", "product.retired", "order.assigned",
                          "order.cancelled", "store.resync", "hub.channels",
                          "transfer.approved", "transfer.incoming", "transfer.cancelled",
                          "return.requested",
                          # loyalty points (issue #21, docs/loyalty.md)
                          "loyalty.balance", "loyalty.erase",
                          # chain promotions and coupons (issue #21, docs/promotions.md)
                          "promotion.upserted", "coupon.upserted", "coupon.customer"})
# Store -> hub kinds that may carry a chain coupon's customer key
# (app/core/coupons.customer_key): 64 lower-case hex digits, nothing else (never a
# number or a name). The hub's answer (`coupon.customer`) is not refused here: an
# answer the store cannot read is logged and skipped by its handler
# (app/sync/store_apply), since refusing the frame would stop every hub event to it.
CUSTOMER_KEY_KINDS = frozenset({"coupon.used", "coupon.released", "coupon.lookup"})

# Close codes: the sender of an `error` closes the socket with one of these.
ErrorCode = Literal[4400, 4401, 4403, 4409]
BAD_MESSAGE: Final = 4400
AUTH: Final = 4401
WRONG_STORE: Final = 4403
CONFLICT: Final = 4409

Seq = Annotated[int, msgspec.Meta(ge=1)]
Cursor = Annotated[int, msgspec.Meta(ge=0)]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    seq: Seq
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: Annotated[str, msgspec.Meta(max_length=40)]
    at: Annotated[str, msgspec.Meta(max_length=40)]
    data: dict[str, Any]


LoadCount = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
# An order state's name as the store says it (a newer store may have states this side
# does not know: they count as open orders all the same).
LoadState = Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,16}$")]


class Load(msgspec.Struct, forbid_unknown_fields=True):
    """The store's live load (v3, in `status`; issue #24): pickers signed in now, its
    open online orders by state and the lines picked per hour lately. The hub's capacity
    and ranking use it while fresh (docs/routing.md). Whole numbers only: a negative,
    huge or non-integer figure (NaN) is a 4400."""

    pickers: LoadCount
    orders: Annotated[dict[LoadState, LoadCount], msgspec.Meta(max_length=16)]
    picks_per_hour: LoadCount

    @property
    def open_orders(self) -> int:
        return sum(self.orders.values())


class Status(msgspec.Struct, tag="status", forbid_unknown_fields=True, omit_defaults=True):
    """What the hub shows of a store (proto >= 2): sent in its hello and every few
    minutes. `clock` is the store's UTC now when sent: the hub's receipt time minus it
    is the store's clock skew (plus the network's delay, well under a second)."""

    version: Annotated[str, msgspec.Meta(max_length=40)]
    clock: Annotated[datetime, msgspec.Meta(tz=True)]
    # Free bytes on the disk holding the store's database (None: could not be read).
    disk_free_bytes: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None
    last_backup_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None  # None: none
    # The live load (v3 links only: an older hub refuses the field; None: not known).
    load: Load | None = None

    def __post_init__(self) -> None:
        """Times a database can hold: 9999-12-31T23:59-14:00 decodes but has no UTC
        (review: it raised in the hub's write instead of a 4400). A Raspberry Pi without
        a clock battery says 1970: that is a skew to show, not a bad message."""
        for name, value in (("clock", self.clock), ("last_backup_at", self.last_backup_at)):
            if value is None:
                continue
            try:
                year = value.astimezone(UTC).year
            except (OverflowError, ValueError):
                raise ValueError(f"{name} is out of range") from None
            if not 1900 <= year <= 9000:
                raise ValueError(f"{name} is out of range")


class Hello(msgspec.Struct, tag="hello", forbid_unknown_fields=True, omit_defaults=True):
    proto: ProtoVersion  # the lowest version the store speaks (the only one before v2)
    store_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{0,7}$")]
    epoch: Annotated[str, msgspec.Meta(min_length=8, max_length=64)]
    applied_down: Cursor
    proto_max: ProtoVersion | None = None  # the highest it speaks (None: `proto` only)
    status: Status | None = None  # only with proto_max >= 2
    # The oldest outbox seq the store still holds (v2): it prunes only what the hub
    # acknowledged, so after HQ accepts a restored database (cursor back to 0) the hub
    # resumes just below it instead of asking for events the store no longer has.
    outbox_first: Annotated[int, msgspec.Meta(ge=1, le=2**62)] | None = None
    # The last catalogue-log seq the store applied (v3).
    applied_catalog: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None


class Welcome(msgspec.Struct, tag="welcome", forbid_unknown_fields=True, omit_defaults=True):
    acked_up: Cursor
    hub_time: str
    # The version chosen; sent only to a store that offered a range (proto_max), so an
    # older store, which refuses unknown fields, gets the v1 welcome it knows.
    proto: ProtoVersion | None = None
    # v3: the catalogue-log seq the hub sends after: the store's `applied_catalog`, or 0
    # when the hub's log never reached it (a hub restored from a backup): the store then
    # takes the whole log again (whole states: applying one twice changes nothing).
    catalog_after: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None


class Events(msgspec.Struct, tag="events", forbid_unknown_fields=True):
    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_FRAME)]


class Ack(msgspec.Struct, tag="ack", forbid_unknown_fields=True):
    upto: Cursor


class Resend(msgspec.Struct, tag="resend", forbid_unknown_fields=True):
    from_: Seq = msgspec.field(name="from")


class Catalog(msgspec.Struct, tag="catalog", forbid_unknown_fields=True):
    """Catalogue-log entries (v3, hub -> store): seqs strictly increasing and all above
    `after`, the cursor the hub believes the store has. The log keeps only each
    product's newest entry, so seqs have gaps: a lost frame is seen by `after`, not by
    a gap in the seqs."""

    after: Annotated[int, msgspec.Meta(ge=0, le=2**62)]
    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_FRAME)]
    # The log's head when the frame was read: how far the store has to go (its catch-up
    # progress on the store's pages). None: not said.
    head: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None


class CatalogAck(msgspec.Struct, tag="catalog_ack", forbid_unknown_fields=True):
    """The store committed catalogue-log entries up to `upto` (v3, store -> hub)."""

    upto: Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class CatalogResend(msgspec.Struct, tag="catalog_resend", forbid_unknown_fields=True):
    """A catalogue frame did not start at the store's cursor: send again after it."""

    after: Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class Error(msgspec.Struct, tag="error", forbid_unknown_fields=True):
    code: ErrorCode
    message: Annotated[str, msgspec.Meta(max_length=500)]


Message = (Hello | Welcome | Events | Ack | Resend | Error | Status | Catalog | CatalogAck
           | CatalogResend)
_decoder = msgspec.json.Decoder(Message)
_encoder = msgspec.json.Encoder()


class ProtocolError(ValueError):
    """A frame that breaks the protocol: answer with Error(code) and close."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode(frame: str | bytes, *, expect_kinds: frozenset[str] | None = None) -> Message:
    """One text frame -> a message, or ProtocolError(4400) saying what is wrong.
    `expect_kinds`: the event kinds allowed in this direction."""
    raw = frame.encode() if isinstance(frame, str) else frame
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError(BAD_MESSAGE, f"frame of {len(raw)} bytes is over the 1 MiB limit")
    try:
        message = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ProtocolError(BAD_MESSAGE, f"bad message: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(BAD_MESSAGE, f"not JSON: {exc}") from None
    except RecursionError:  # [[[[... thousands deep: msgspec gives up, Python's limit
        raise ProtocolError(BAD_MESSAGE, "bad message: nested too deeply") from None
    if isinstance(message, Hello):
        negotiate(message)
    if isinstance(message, Events):
        seqs = [e.seq for e in message.events]
        if any(b != a + 1 for a, b in zip(seqs, seqs[1:], strict=False)):
            raise ProtocolError(BAD_MESSAGE, "seqs in a frame must be consecutive")
        if expect_kinds is not None:
            # A known kind sent the wrong way is refused; a kind this side does not know
            # (a newer peer's) passes, and the receiver logs, acknowledges and skips it.
            known_elsewhere = (STORE_TO_HUB | HUB_TO_STORE) - expect_kinds
            odd = sorted({e.kind for e in message.events} & known_elsewhere)
            if odd:
                raise ProtocolError(BAD_MESSAGE, f"event kind {odd[0]!r} is not sent this way")
        for event in message.events:
            check_event_data(event)
    if isinstance(message, Catalog):
        seqs = [e.seq for e in message.events]
        if seqs[0] <= message.after or any(b <= a for a, b in zip(seqs, seqs[1:],
                                                                   strict=False)):
            raise ProtocolError(BAD_MESSAGE, "catalogue seqs must rise, all past `after`")
        odd = sorted({e.kind for e in message.events} - CATALOG_KINDS)
        if odd:
            raise ProtocolError(BAD_MESSAGE, f"event kind {odd[0]!r} is not a catalogue entry")
    return message


def check_event_data(event: Event) -> None:
    """Fields checked in the frame, before anything is applied: a chain coupon's
    `customer`, when sent, is a key of 64 lower-case hex digits (a forged, oversized or
    plain phone-number key is a 4400: the frame is refused, nothing of it applied)."""
    if event.kind in CUSTOMER_KEY_KINDS and "customer" in event.data:
        key = event.data["customer"]
        if not (isinstance(key, str) and len(key) == 64
                and all(ch in "0123456789abcdef" for ch in key)):
            raise ProtocolError(BAD_MESSAGE, f"event {event.seq}: a coupon's customer is a "
                                             "key of 64 hex digits")


def _span(low: int, high: int) -> str:
    return f"protocol {low}" if low == high else f"protocols {low} to {high}"


def negotiate(hello: Hello, speaks: Sequence[int] = PROTOS) -> int:
    """The version of this link: the highest one both sides speak, or 4400 saying who
    must be upgraded. A hello without `proto_max` (a store from before v2) offers
    `proto` alone."""
    low = hello.proto
    high = hello.proto_max if hello.proto_max is not None else low
    if high < low:
        raise ProtocolError(BAD_MESSAGE, f"proto_max {high} is below proto {low}")
    if hello.outbox_first is not None and high < STATUS_FROM:
        raise ProtocolError(BAD_MESSAGE, f"outbox_first needs protocol {STATUS_FROM}; the "
                                         f"hello offers {_span(low, high)}")
    if hello.applied_catalog is not None and high < CATALOG_FROM:
        raise ProtocolError(BAD_MESSAGE, f"applied_catalog needs protocol {CATALOG_FROM}; "
                                         f"the hello offers {_span(low, high)}")
    if hello.status is not None and high < STATUS_FROM:
        raise ProtocolError(BAD_MESSAGE, f"status needs protocol {STATUS_FROM}; the hello "
                                         f"offers {_span(low, high)}")
    if hello.status is not None and hello.status.load is not None and high < CATALOG_FROM:
        raise ProtocolError(BAD_MESSAGE, f"a status's load needs protocol {CATALOG_FROM}; "
                                         f"the hello offers {_span(low, high)}")
    common = [v for v in speaks if low <= v <= high]
    if not common:
        who = "the hub" if low > max(speaks) else "the store"
        raise ProtocolError(BAD_MESSAGE, f"the store speaks {_span(low, high)}, the hub "
                                         f"{_span(min(speaks), max(speaks))}: upgrade {who}")
    return max(common)


def hello(store_id: str, epoch: str, applied_down: int, status: Status | None,
          *, newest: int = PROTO, outbox_first: int | None = None,
          applied_catalog: int = 0) -> Hello:
    """The store's hello offering every version it speaks up to `newest` (1: exactly
    the v1 hello, for a hub that refused the longer one; 2: the v2 hello, for a hub
    that refused `applied_catalog`)."""
    if newest < STATUS_FROM:
        return Hello(proto=min(PROTOS), store_id=store_id, epoch=epoch,
                     applied_down=applied_down)
    if status is not None and status.load is not None and newest < CATALOG_FROM:
        status = msgspec.structs.replace(status, load=None)  # a v2 hub refuses it
    return Hello(proto=min(PROTOS), proto_max=newest, store_id=store_id, epoch=epoch,
                 applied_down=applied_down, status=status, outbox_first=outbox_first,
                 applied_catalog=applied_catalog if newest >= CATALOG_FROM else None)


def welcome(hello: Hello, version: int, acked_up: int, hub_time: str,
            catalog_head: int = 0) -> Welcome:
    """The hub's answer: the chosen version only to a store that offered a range; on a
    v3 link the catalogue cursor it will send after (0 when the store's cursor is past
    the hub's log: see Welcome.catalog_after)."""
    after = None
    if version >= CATALOG_FROM:
        after = hello.applied_catalog or 0
        if after > catalog_head:
            after = 0
    return Welcome(acked_up=acked_up, hub_time=hub_time,
                   proto=version if hello.proto_max is not None else None,
                   catalog_after=after)


def welcomed_version(sent: Hello, reply: Welcome) -> int:
    """The store's view of the link's version: a welcome without `proto` comes from a
    hub that predates v2; one naming a version the store did not offer is a 4400."""
    if reply.proto is None:
        version = 1
    else:
        high = sent.proto_max if sent.proto_max is not None else sent.proto
        if not sent.proto <= reply.proto <= high:
            raise ProtocolError(BAD_MESSAGE, f"the hub chose protocol {reply.proto}, not "
                                             f"offered ({_span(sent.proto, high)})")
        version = reply.proto
    if (reply.catalog_after is not None) != (version >= CATALOG_FROM):
        raise ProtocolError(BAD_MESSAGE, f"catalog_after belongs in a welcome of protocol "
                                         f"{CATALOG_FROM} or later, and only there")
    return version


def close_reason(message: str) -> str:
    """A websocket close reason may be at most 123 bytes of UTF-8 (not characters)."""
    return message.encode()[:120].decode(errors="ignore")


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


@dataclass(frozen=True)
class Received:
    """What the receiver does with a frame: apply these, move the cursor, answer."""

    apply: tuple[Event, ...]
    cursor: int
    reply: Ack | Resend


def receive(cursor: int, frame: Events) -> Received:
    """Exactly-once from at-least-once: events at or below the cursor were applied
    before (a resend) and are skipped; a frame starting past cursor + 1 left a gap,
    answered with `resend` from the first missing seq and nothing applied. The caller
    applies `apply` and stores `cursor` in ONE transaction, then sends `reply`."""
    first = frame.events[0].seq
    if first > cursor + 1:
        return Received((), cursor, Resend(from_=cursor + 1))
    fresh = tuple(e for e in frame.events if e.seq > cursor)
    new_cursor = fresh[-1].seq if fresh else cursor
    return Received(fresh, new_cursor, Ack(upto=new_cursor))


def receive_catalog(cursor: int, frame: Catalog) -> tuple[tuple[Event, ...], int,
                                                          CatalogAck | CatalogResend]:
    """The catalogue log's exactly-once rule (v3): a frame sent after a cursor the store
    does not have (`after` past its cursor: a frame in between was lost) is answered with
    `catalog_resend` and nothing applied; otherwise the entries past the cursor are
    applied, and the new cursor stored in the same transaction. Returns (apply, cursor,
    reply)."""
    if frame.after > cursor:
        return (), cursor, CatalogResend(after=cursor)
    fresh = tuple(e for e in frame.events if e.seq > cursor)
    new_cursor = fresh[-1].seq if fresh else cursor
    return fresh, new_cursor, CatalogAck(upto=new_cursor)


def catalog_frames(after: int, entries: Sequence[Event],
                   limit_bytes: int = MAX_FRAME_BYTES - 1024,
                   head: int | None = None) -> list[Catalog]:
    """Split catalogue-log entries (rising seqs, all past `after`) into frames, each
    naming the cursor it follows (and the log's head, when given)."""
    out: list[Catalog] = []
    for part in frames(entries, limit_bytes):
        out.append(Catalog(after=after, events=part.events, head=head))
        after = part.events[-1].seq
    return out


def frames(pending: Sequence[Event], limit_bytes: int = MAX_FRAME_BYTES - 1024
           ) -> list[Events]:
    """Split events (in seq order) into frames within both limits."""
    out: list[Events] = []
    batch: list[Event] = []
    size = 32
    for event in pending:
        event_size = len(msgspec.json.encode(event)) + 1
        if event_size > limit_bytes:
            raise ProtocolError(BAD_MESSAGE, f"event {event.seq} alone is over the frame limit")
        if batch and (len(batch) == MAX_EVENTS_PER_FRAME or size + event_size > limit_bytes):
            out.append(Events(events=batch))
            batch, size = [], 32
        batch.append(event)
        size += event_size
    if batch:
        out.append(Events(events=batch))
    return out
