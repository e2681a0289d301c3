"""Whether a bin may be counted now (issue #17): not while its shelf and its book
disagree for a known reason that will settle by itself (an order's pick, a transfer
picked and not sent, a receipt not signed off). Counting then would post the
difference, and the order, transfer or receipt would post it again.

The other features' tables are named here, not imported: stock sits below picking,
orders and purchasing in the layers."""

from __future__ import annotations

from sqlalchemy import and_, column, or_, select, table

from app.catalog.models import Product
from app.core.db import Session
from app.core.i18n import _
from app.stock.models import Bin, StockLevel, Transfer, TransferLine


class CountError(ValueError):
    """Refused, with a message for the counter or the manager; nothing changed.
    ``offer``: the button the phone shows with it ("here": count on this phone,
    "alone": count again myself), so no screen reads the (translated) words."""

    def __init__(self, message: str = "", offer: str = "") -> None:
        super().__init__(message)
        self.offer = offer


_PICK_TASKS = table("pick_tasks", column("bin_code"), column("status"), column("picked"),
                    column("order_id"), column("order_number"), column("batch_id"))
_PICK_BATCHES = table("pick_batches", column("id"), column("status"))
_ORDERS = table("orders", column("id"), column("state"))
_PICKED_NOT_LEFT = ("picking", "picked", "packed", "ready")


async def pick_in_progress(s: Session, bin_code: str) -> str | None:
    """The order whose pick holds stock of this bin off the shelf but not off the book
    (an open pick task, or picked items that have not left), or None."""
    t, o, b = _PICK_TASKS, _ORDERS, _PICK_BATCHES
    return await s.scalar(
        select(t.c.order_number)
        .join(o, o.c.id == t.c.order_id).join(b, b.c.id == t.c.batch_id)
        .where(t.c.bin_code == bin_code, or_(
            t.c.status == "open",
            and_(t.c.picked > 0, or_(o.c.state.in_(_PICKED_NOT_LEFT),
                                     and_(t.c.status == "cancelled", b.c.status == "open")))))
        .limit(1))


_RECEIPTS = table("goods_receipts", column("id"), column("number"), column("status"))
_RECEIPT_ITEMS = table("goods_receipt_items", column("grn_id"), column("bin_id"),
                       column("damaged"))


async def check_bin_settled(s: Session, bin_: Bin) -> None:
    """Refuse a bin whose shelf and book disagree for a known reason: stock picked off
    the shelf but still on the book (an order's pick; a transfer picked, not yet sent),
    or put on the shelf but not yet on the book (a receipt not signed off). A count
    there would post the difference, and the order, transfer or receipt again."""
    order = await pick_in_progress(s, bin_.code)
    if order is not None:
        raise CountError(_("Bin %(code)s has a pick in progress (order %(order)s): count it "
                           "after the order has left the store. Nothing was recorded.")
                         % {"code": bin_.code, "order": order})
    transfer = await s.scalar(
        select(Transfer.number).join(TransferLine, TransferLine.transfer_id == Transfer.id)
        .join(Product, Product.sku == TransferLine.sku)
        .join(StockLevel, StockLevel.product_id == Product.id)
        .where(Transfer.state == "picked", TransferLine.picked > 0,
               StockLevel.bin_id == bin_.id, StockLevel.on_hand != 0).limit(1))
    if transfer is not None:
        raise CountError(_("Bin %(code)s has stock picked for transfer %(transfer)s that has "
                           "not been sent: count it after the transfer is sent. Nothing was "
                           "recorded.") % {"code": bin_.code, "transfer": transfer})
    receipt = await s.scalar(
        select(_RECEIPTS.c.number).join(_RECEIPT_ITEMS, _RECEIPT_ITEMS.c.grn_id == _RECEIPTS.c.id)
        .where(_RECEIPTS.c.status == "open", _RECEIPT_ITEMS.c.bin_id == bin_.id,
               _RECEIPT_ITEMS.c.damaged.is_(False)).limit(1))
    if receipt is not None:
        raise CountError(_("Bin %(code)s has goods of receipt %(receipt)s, which is not "
                           "signed off yet: count it after the manager signs it off. Nothing "
                           "was recorded.") % {"code": bin_.code, "receipt": f"GRN-{receipt:06d}"})
