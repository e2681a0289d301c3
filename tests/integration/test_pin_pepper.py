"""PIN hashes are keyed with a pepper from the data directory's secret file (issue #13
item 10): a copy of the database alone cannot test a PIN guess, and hashes made before
the pepper are wrapped at start-up without anyone's PIN."""

from __future__ import annotations

import base64
import hashlib

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.core import security
from app.core.models import User
from app.server import create_store_app
from tests.conftest import STAFF, login


def _offline_guess(stored: str, pin: str) -> bool:
    """What someone holding only the database file can check: scrypt of a guess
    against the stored digest, with the stored salt and cost."""
    parts = stored.split("$")
    n, salt, digest = parts[-3], parts[-2], parts[-1]
    guess = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=8, p=1,
                           dklen=32)
    return guess == base64.b64decode(digest)


async def test_a_copy_of_the_database_cannot_test_a_pin(db, staff):
    async with db.read() as s:
        stored = await s.scalar(select(User.pin_hash).where(User.id == staff["cashier"]))
    assert not _offline_guess(stored, STAFF["cashier"][1])  # the right PIN: still no match
    assert stored.startswith("scrypt-hmac$")


async def test_sign_in_needs_the_secret_file(cfg, staff):
    """The same database with another secret file refuses the right PIN (the pepper
    really keys the hash); with its own file it signs in."""
    (cfg.data_dir / "secret.key").write_text("f" * 64)  # someone else's secret
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        response = await login(client, staff["cashier"], STAFF["cashier"][1])
        assert response.status_code == 401, response.text


async def test_hashes_made_before_the_pepper_are_wrapped_at_start(cfg, db, staff):
    name, pin = STAFF["manager"]
    legacy = security.legacy_hash_pin(pin)  # as the old code stored it
    async with db.write() as s:
        await s.execute(update(User).where(User.id == staff["manager"]).values(pin_hash=legacy))
    assert _offline_guess(legacy, pin)  # the old hash fell to an offline guess
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        async with db.read() as s:
            wrapped = await s.scalar(select(User.pin_hash).where(User.id == staff["manager"]))
        assert wrapped.startswith("scrypt-hmac$") and not _offline_guess(wrapped, pin)
        response = await login(client, staff["manager"], pin)
        assert response.status_code in (200, 303) and response.url.path == "/", response.text


def test_wrapping_an_old_hash_verifies_like_a_new_one():
    pepper = b"p" * 32
    legacy = security.legacy_hash_pin("4827")
    wrapped = security.pepper_hash(legacy, pepper)
    assert security.verify_pin("4827", wrapped, pepper)
    assert not security.verify_pin("4828", wrapped, pepper)
    assert not security.verify_pin("4827", wrapped, b"q" * 32)
    assert security.made_with_other_pepper(wrapped, b"q" * 32)
