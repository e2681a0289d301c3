"""Fake-camera videos for Chromium's `--use-file-for-fake-video-capture`.

Chromium plays a YUV4MPEG2 (.y4m) file in a loop as the camera. We write grey
frames (the two chroma planes held at 128) showing a barcode drawn the way a
printed label looks: an EAN-13 from python-barcode's ImageWriter or a QR code
from `qrcode`, centred on a white page.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import barcode
import qrcode
from barcode.writer import ImageWriter
from PIL import Image

WIDTH, HEIGHT, FPS = 640, 480, 10


def ean13_image(code: str) -> Image.Image:
    """A 13-digit EAN as a label: 0.4 mm modules at 200 dpi (about 3 px a module)."""
    assert len(code) == 13 and code.isdigit(), code
    symbol = barcode.get("ean13", code, writer=ImageWriter())
    assert symbol.get_fullcode() == code, f"{code}: bad check digit"
    return symbol.render(writer_options={
        "module_width": 0.4, "module_height": 18.0, "dpi": 200, "quiet_zone": 6.5,
        "font_size": 10, "text_distance": 4.0,
    })


def qr_image(text: str) -> Image.Image:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image()


def frame(image: Image.Image | None, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """`image` centred on a white `width`×`height` grey frame (a blank frame for None)."""
    page = Image.new("L", (width, height), 255)
    if image is not None:
        img = image.convert("L")
        if img.width > width or img.height > height:
            img.thumbnail((width, height))
        page.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
    return page


def write_y4m(path: Path, frames: Iterable[Image.Image], fps: int = FPS) -> Path:
    """Write grey `frames` (all the same size) as a 4:2:0 YUV4MPEG2 file."""
    frames = [f.convert("L") for f in frames]
    assert frames, "no frames"
    width, height = frames[0].size
    assert width % 2 == 0 and height % 2 == 0, "4:2:0 needs even sizes"
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with Path(path).open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            assert f.size == (width, height), "frames differ in size"
            out.write(b"FRAME\n")
            out.write(f.tobytes())
            out.write(chroma)
    return Path(path)


def still_video(path: Path, image: Image.Image, seconds: float = 2.0) -> Path:
    """A looping video that shows `image` all the time (a label held under the camera)."""
    return write_y4m(path, [frame(image)] * max(1, round(seconds * FPS)))


def shown_then_away_video(path: Path, image: Image.Image, shown: float, away: float) -> Path:
    """A label held under the camera for `shown` seconds, then out of view (a blank
    frame) for `away` seconds; Chromium loops it, so the label comes back again."""
    return write_y4m(path, [frame(image)] * round(shown * FPS) + [frame(None)] * round(away * FPS))
