"""A peer's ack can be read while the send of that very frame still waits for the socket
to drain (a 1 MiB catalogue frame to a fast store). Both ends count a frame as sent
before they send it, or that ack is "past the last event sent" and the link is closed
with 4409: in bench/hub_scale.py every one of 1,000 links was dropped that way during a
catalogue fan-out (issue #24)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from app.sync import protocol as p
from app.sync.hub_link import HubLink


def entry(seq: int) -> p.Event:
    return p.Event(seq=seq, id=f"c{seq}", kind="product.upserted", at="2026-12-02T10:00:00Z",
                   data={"sku": f"P{seq}"})


class AckingSocket:
    """A websocket whose send lets the store's ack for the frame be handled first."""

    def __init__(self) -> None:
        self.link: HubLink | None = None
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        frame = p.decode(text)
        assert isinstance(frame, p.Catalog | p.Events)
        upto = frame.events[-1].seq
        assert self.link is not None
        if isinstance(frame, p.Catalog):  # what _reader does with the ack, mid-send
            self.link._catalog_reply(p.CatalogAck(upto=upto))
        await asyncio.sleep(0)


async def test_a_catalogue_ack_read_during_its_own_send_is_not_a_conflict():
    frames = p.catalog_frames(0, [entry(1), entry(2), entry(5)], limit_bytes=200)
    texts = tuple((p.encode(f).decode(), f.events[-1].seq) for f in frames)

    async def cached(after: int, upto: int):
        return texts

    socket = AckingSocket()
    links = SimpleNamespace(catalog=SimpleNamespace(frames=cached))
    link = HubLink(socket, db=None, cfg=None, waker=None, links=links)  # type: ignore[arg-type]
    socket.link = link
    link.proto = p.CATALOG_FROM
    assert await link._send_catalog(5)
    assert link.cat_sent == 5 and link.cat_acked == 5 and not link.cat_in_flight
    assert len(socket.sent) == len(frames) >= 2


class ResendingSocket:
    """A websocket whose store asks for a resend while the first frame is being sent."""

    def __init__(self) -> None:
        self.link: HubLink | None = None
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        assert self.link is not None
        if len(self.sent) == 1:
            self.link._catalog_reply(p.CatalogResend(after=0))
        await asyncio.sleep(0)


async def test_a_resend_asked_mid_batch_stops_the_batch_there():
    frames = p.catalog_frames(0, [entry(1), entry(2), entry(5)], limit_bytes=200)
    texts = tuple((p.encode(f).decode(), f.events[-1].seq) for f in frames)

    async def cached(after: int, upto: int):
        return texts

    socket = ResendingSocket()
    links = SimpleNamespace(catalog=SimpleNamespace(frames=cached))
    link = HubLink(socket, db=None, cfg=None, waker=None, links=links)  # type: ignore[arg-type]
    socket.link = link
    link.proto = p.CATALOG_FROM
    await link._send_catalog(5)
    # The later frames of the batch were not sent, and the cursor is where the store asked.
    assert len(socket.sent) == 1 and link.cat_sent == 0 and not link.cat_in_flight
