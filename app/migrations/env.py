"""Alembic environment: migrations run on a plain (sync) SQLite connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import app.catalog.models
import app.core.models
import app.display.models
import app.loyalty.models
import app.orders.models
import app.picking.models
import app.pos.models
import app.printing.models
import app.promotions.models
import app.purchasing.models
import app.reports.models
import app.returns.models
import app.stock.models
import app.sync.models  # noqa: F401
from app.core.db import Base
from app.hub.schema import HUB_ONLY_TABLES

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: set sqlalchemy.url or pass a connection")
    engine = create_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # The hub's own tables live in its own migrations (app/hub/migrations).
        include_object=lambda obj, name, type_, *_: not (
            type_ == "table" and name in HUB_ONLY_TABLES),
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
