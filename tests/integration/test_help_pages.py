"""'What to do when…' help, one page per role (issue #16 item 22): each renders the
five situations in plain words, is in every role's menu, and needs a sign-in like every
other store page (tests/hub/test_hub_help.py: the hub has none of it)."""

from __future__ import annotations

import re

import pytest

from app.core.auth import StaffUser
from app.core.web import nav_for

TOPICS = ("out of paper", "hub is offline", "wrong item", "return", "store server cannot be reached")


@pytest.mark.parametrize("role", ["cashier", "picker", "manager"])
async def test_each_roles_help_page_renders_its_situations(client, login_as, role):
    """Five situations each; the cashier's also has the till's keys (issue #22)."""
    await login_as("cashier")
    r = await client.get(f"/help/{role}")
    assert r.status_code == 200, r.text
    text = re.sub(r"<[^>]+>", " ", r.text)
    for topic in TOPICS:
        assert topic in text, (role, topic)
    assert f'data-testid="help-{role}"' in r.text
    ids = re.findall(r'<section id="([\w-]+)"', r.text)
    assert len(ids) == (6 if role == "cashier" else 5), (role, ids)
    assert all(f'href="#{i}"' in r.text for i in ids)  # contents list
    assert ("keys" in ids) == (role == "cashier"), ids


@pytest.mark.parametrize(("role", "shown"), [("cashier", "cashier"), ("picker", "picker"),
                                             ("manager", "manager"), ("admin", "manager")])
async def test_help_opens_on_the_signed_in_roles_page_and_is_in_the_menu(
        client, login_as, role, shown):
    await login_as(role)
    r = await client.get("/help")
    assert r.status_code == 200 and f'data-testid="help-{shown}"' in r.text
    assert ("Help", "/help") in nav_for(StaffUser("u", "Someone", role))
    assert 'href="/help"' in r.text  # the header's links and Menu


async def test_help_needs_a_sign_in_and_knows_only_three_roles(client, login_as):
    for path in ("/help", "/help/cashier"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code in (302, 303, 307) and "/login" in r.headers["location"], path
    await login_as("picker")
    r = await client.get("/help/owner")
    assert r.status_code == 404 and "cashier, the picker and the manager" in r.text
