"""No emoji on screen (issue #16 item 22): a device without an emoji font (many
Android Go phones, Linux till PCs) draws one as an empty box. The camera button is an
inline SVG icon (static/js/camera-scanner.js); words stand where other emoji stood."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAMERA = "\U0001f4f7"  # the emoji camera


def is_emoji(char: str) -> bool:
    """Pictographs and emoji (U+1F000 and up), which only an emoji font draws."""
    return ord(char) >= 0x1F000


def shown_files() -> list[Path]:
    """What reaches a screen or paper: templates, our own scripts and styles, the app's
    messages. Vendored third-party files are left as they come."""
    files = [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "static").rglob("*")
              if p.suffix in (".js", ".css", ".html", ".webmanifest") and "vendor" not in p.parts]
    files += list((ROOT / "app").rglob("*.py"))
    return sorted(files)


def test_no_emoji_in_templates_scripts_or_messages() -> None:
    found = []
    for path in shown_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            glyphs = sorted({c for c in line if is_emoji(c)})
            if glyphs:
                found.append(f"{path.relative_to(ROOT)}:{n}: {' '.join(glyphs)}")
    assert not found, "emoji an emoji-less device shows as a box:\n" + "\n".join(found)


def test_the_camera_button_draws_an_svg_icon() -> None:
    script = (ROOT / "static" / "js" / "camera-scanner.js").read_text(encoding="utf-8")
    assert CAMERA not in script
    assert 'createElementNS(NS, "svg")' in script and "btn.appendChild(cameraIcon())" in script


def test_the_check_sees_an_emoji() -> None:
    assert is_emoji(CAMERA) and is_emoji("\U0001f526")  # camera, torch
    assert not any(is_emoji(c) for c in "₹ · — ← ✓ ✕ ⌫ ● ○ ×")  # in every font we target
