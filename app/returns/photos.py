"""Photos of returned units, taken with the phone's camera at the returns desk: checked
(size, and the first bytes must say JPEG, PNG or WebP whatever the name or the browser
claims), written 0600 under the store's data dir (return_photos/<return id>/), and
recorded with the unit's grade in the same transaction."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.private_files import write_private
from app.returns import service
from app.returns.models import OnlineReturnLine

PHOTO_DIR = "return_photos"
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,36}")


def photo_type(data: bytes) -> str | None:
    """'jpeg', 'png' or 'webp' from the file's first bytes; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_photo(data: bytes, cfg: StoreConfig) -> str:
    limit = cfg.returns.photo_max_kb * 1024
    if len(data) > limit:
        raise service.ReturnError(_("The photo is too big (%(size)s KB; at most %(max)s KB). "
                                    "Take it again at a lower size, or grade without a "
                                    "photo.") % {"size": len(data) // 1024,
                                                 "max": cfg.returns.photo_max_kb})
    kind = photo_type(data)
    if kind is None:
        raise service.ReturnError(_("That file is not a photo (JPEG, PNG or WebP). Nothing "
                                    "changed."))
    return kind


async def grade_with_photo(db: Database, cfg: StoreConfig, return_id: str, sku: str,
                           grade: str, user: StaffUser, data: bytes | None,
                           request_id: str = "", *, quantity: int | str = 1,
                           whole: bool = False) -> OnlineReturnLine:
    """`service.grade`, with the unit's photo when one was taken. The file is written
    first and removed again when the grade is refused, so no photo is left without
    its row. `quantity` and `whole` as service.grade takes them."""
    if not data:
        return await service.grade(db, return_id, sku, grade, user, request_id=request_id,
                                   quantity=quantity, whole=whole)
    kind = check_photo(data, cfg)
    if not _SAFE_ID.fullmatch(return_id) or not (await service.view(db, return_id)).open:
        # no file (nor folder) for a return that is not there or not open any more
        raise service.AlreadyFinished(_("This return is finished already. Nothing changed."))
    relative = Path(PHOTO_DIR) / return_id / f"{uuid7()}.{kind}"
    path = cfg.data_dir / relative
    write_private(path, data)
    try:
        return await service.grade(db, return_id, sku, grade, user, service.Photo(
            str(relative), len(data), f"image/{kind}"), request_id=request_id,
            quantity=quantity, whole=whole)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
