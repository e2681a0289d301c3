"""The one place a completed sale asks for its receipt.

Today the receipt is shown on screen (`/pos/sales/{id}`) and at `/r/<token>`
once printing lands; the printing feature will add a print job here, inside
the sale's own transaction, so a receipt is never lost nor printed twice.
"""

from __future__ import annotations

from app.core.db import Tx as AsyncSession
from app.pos.models import Sale


def ask_for_receipt(session: AsyncSession, sale: Sale) -> None:
    """Called by complete_sale inside its transaction. No printer is wired yet."""
    return None
