"""Fixtures for the sync tests: a real hub process on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests import pg
from tests.sync.harness import Hub, make_hub

BACKENDS = ["sqlite", "postgresql"]


def hub_database_url(backend: str) -> str:
    if backend == "sqlite":
        return ""
    if not pg.reachable():
        pytest.skip(pg.NOT_REACHABLE)
    return pg.create_database()


@pytest.fixture(params=BACKENDS)
def hub_backend(request) -> str:
    return request.param


@pytest.fixture
def hub(hub_backend: str, tmp_path) -> Hub:
    url = hub_database_url(hub_backend)
    made = make_hub(tmp_path / "hub", url)
    made.proc.start()
    yield made
    made.proc.stop()
    if url:
        pg.drop_database(url)
