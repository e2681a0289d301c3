"""Draw Kirana's app icons with Pillow (shapes only: no fonts, no downloads).

Writes into static/icons/:
  icon-192.png, icon-512.png   rounded green square, transparent corners
  icon-maskable-512.png        full-bleed green, basket inside the safe zone
  favicon.png                  48 px

Run from the repository root:  .venv/bin/python tools/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

GREEN = (11, 110, 79, 255)  # #0b6e4f, the manifest's theme_color
WHITE = (255, 255, 255, 255)
SS = 4  # supersampling factor: draw big, downscale for smooth edges

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"


def draw_basket(d: ImageDraw.ImageDraw, x0: float, y0: float, size: float) -> None:
    """Draw a white shopping basket inside the square (x0, y0, size)."""

    def p(u: float, v: float) -> tuple[float, float]:
        return (x0 + u * size, y0 + v * size)

    def box(u0: float, v0: float, u1: float, v1: float) -> list[float]:
        return [*p(u0, v0), *p(u1, v1)]

    # Handle: a thick arch over the basket.
    d.arc(box(0.22, 0.08, 0.78, 0.74), start=180, end=360, fill=WHITE, width=round(0.085 * size))
    # Body: trapezoid, wider at the top, with a rounded foot below it.
    d.polygon([p(0.10, 0.46), p(0.90, 0.46), p(0.80, 0.88), p(0.20, 0.88)], fill=WHITE)
    d.rounded_rectangle(box(0.20, 0.78, 0.80, 0.93), radius=0.05 * size, fill=WHITE)
    # Rim: a bar slightly wider than the body.
    d.rounded_rectangle(box(0.03, 0.38, 0.97, 0.52), radius=0.04 * size, fill=WHITE)
    # Slots cut into the body in the background colour.
    for u in (0.32, 0.50, 0.68):
        d.rounded_rectangle(box(u - 0.035, 0.60, u + 0.035, 0.83), radius=0.035 * size, fill=GREEN)


def make_icon(px: int, *, maskable: bool) -> Image.Image:
    big = px * SS
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:
        # Full bleed: the platform applies its own mask. Keep the artwork in
        # the central safe zone (a circle of 40% radius): at 62% of the width the
        # basket's farthest corner sits ~35% from the centre.
        d.rectangle([0, 0, big, big], fill=GREEN)
        art = 0.62 * big
    else:
        d.rounded_rectangle([0, 0, big - 1, big - 1], radius=0.22 * big, fill=GREEN)
        art = 0.68 * big
    off = (big - art) / 2
    draw_basket(d, off, off + 0.02 * big, art)  # nudge down: the handle is light
    return img.resize((px, px), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    outputs = {
        "icon-192.png": make_icon(192, maskable=False),
        "icon-512.png": make_icon(512, maskable=False),
        "icon-maskable-512.png": make_icon(512, maskable=True),
        "favicon.png": make_icon(48, maskable=False),
    }
    for name, img in outputs.items():
        img.save(OUT / name, optimize=True)
        print(f"wrote {OUT / name} {img.size[0]}x{img.size[1]}")


if __name__ == "__main__":
    main()
