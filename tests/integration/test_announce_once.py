"""A scan's answer is read out once (issue #22 review): the element marked data-announce
is copied into the page's one live region (#scan-live, static/js/app.js), so it carries
no role="alert"/"status" of its own, which would make a screen reader say it twice."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401 (fixture)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def announced(html: str) -> list[str]:
    """The opening tags marked data-announce."""
    return re.findall(r"<[a-zA-Z][^<>]*\bdata-announce\b[^<>]*>", html, re.S)


async def test_a_till_error_is_announced_by_the_live_region_only(client, login_as,
                                                                rows):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    r = await client.post("/pos/scan", data={"code": "8900000000005", "cart_id": cart},
                          headers=hx(client))
    assert "No product has barcode 8900000000005" in r.text
    tags = [t for t in announced(r.text) if 'data-testid="pos-message"' in t]
    assert len(tags) == 1, announced(r.text)
    tag = tags[0]
    assert 'data-beep="error"' in tag and "alert-error" in tag  # still buzzes, still red
    assert "role=" not in tag and "aria-live" not in tag


def test_no_template_gives_an_announced_element_a_role_of_its_own():
    found = [f"{path.relative_to(TEMPLATES)}: {tag[:80]}"
             for path in sorted(TEMPLATES.rglob("*.html"))
             for tag in announced(path.read_text(encoding="utf-8"))
             if re.search(r"\b(role|aria-live)=", tag)]
    assert found == []
