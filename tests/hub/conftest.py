"""In-process hub fixtures on SQLite and on PostgreSQL (a fresh database per test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from app.config import HubConfig, parse_hub_config
from app.core import migrate
from app.core.secret_file import attach_pepper
from app.hub.accounts import create_hub_user
from app.hub.db import open_hub_database
from tests import pg
from tests.conftest import csrf_of
from tests.sync.harness import HubUser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hub_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hubtpl") / "hub.db"
    migrate.hub_upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_cfg(request, tmp_path: Path, hub_sqlite_template: Path) -> HubConfig:
    text = (ROOT / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    url = ""
    if request.param == "postgresql":
        if not pg.reachable():
            pytest.skip(pg.NOT_REACHABLE)
        url = pg.create_database()
        request.addfinalizer(lambda: pg.drop_database(url))
        text = text.replace('database_url = ""', f'database_url = "{url}"')
    else:
        shutil.copy(hub_sqlite_template, tmp_path / "hub.db")
    return parse_hub_config(text, source=str(tmp_path / "hub.toml"), base_dir=str(tmp_path))


@pytest.fixture
async def hub_db(hub_cfg: HubConfig):
    database = attach_pepper(open_hub_database(hub_cfg.database_url), hub_cfg.data_dir)
    yield database
    await database.dispose()


@pytest.fixture
def hub_app(hub_cfg: HubConfig):
    # Sync fixture: the start-up migration check runs its own event loop on PostgreSQL.
    from app.server import create_hub_app

    return create_hub_app(hub_cfg)


HUB_PASSWORDS = {"Priya": "brass lantern monsoon", "Omar": "copper kettle evening"}
ENROLLED: dict[str, HubUser] = {}  # name -> password and authenticator key, latest made


async def add_hub_user(db, name: str, role: str, password: str | None = None):
    """A hub user as `kirana hub user` makes one; sign_in() then knows their key."""
    password = password or HUB_PASSWORDS[name]
    user, secret = await create_hub_user(db, name, role, password)
    ENROLLED[name] = HubUser(password, secret)
    return user


@pytest.fixture
async def hub_client(hub_app, hub_db):
    await add_hub_user(hub_db, "Priya", "admin")
    await add_hub_user(hub_db, "Omar", "manager")
    async with AsyncTestClient(app=hub_app) as client:
        yield client


async def sign_in(client, name: str = "Priya"):
    """Sign in as a person does: name and password, then a code from their app."""
    user = ENROLLED[name]
    await client.get("/login")
    step1 = await client.post("/login", data={"name": name, "password": user.password,
                                              "next": "/", "_csrf_token": csrf_of(client)})
    assert step1.status_code == 200 and 'name="code"' in step1.text, step1.text[:2000]
    response = await client.post("/login/code", data={"code": user.code(),
                                                      "_csrf_token": csrf_of(client)})
    assert response.status_code in (200, 303), response.text[:2000]
    return client
