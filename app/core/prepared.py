"""Prepared statements for the till's hot paths (issue #15).

A ``Prepared`` is a Core statement compiled once, at import, to SQLite's SQL text with
its parameters in order, its bind processors (a datetime becomes the ISO text
``UTCDateTime`` stores) and its result processors (that text becomes a datetime again,
0/1 a bool). ``await p.first(s, params)`` then runs it on the transaction's own
sqlite3 connection, whose statement cache keeps it prepared.

Why: SQLAlchemy's work for each execution of an already compiled statement (the ORM
session's routing, the cache key, bind and result processing, the result object)
measured 50-90 us of CPU, against 5-40 us for the statement itself in sqlite3. A scan
runs six statements, a sale about thirty; at the counter that was a tenth of the
server's CPU. The statements stay Core expressions (written and read like every other
query), and the rows come back as named tuples like SQLAlchemy's ``Row``.

Rules of use: the statement must not need per-call compiling (no IN lists, no
``literal_execute``); every bound parameter without a value is given on each call. A
prepared statement bypasses the ORM session: before it runs, pending ORM changes are
flushed, as autoflush would; objects already loaded are not refreshed by it. On any
other ``Session`` (the hub's AsyncSession) it runs through ``s.execute`` unchanged.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.expression import Executable, SelectBase

from app.core.db import Session, Tx, give_back, take

_DIALECT = sqlite.dialect()
_REQUIRED = object()


class Prepared:
    """One Core statement, compiled once for SQLite (see the module docstring)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=_DIALECT)  # type: ignore[attr-defined]  # a Core
        # select, insert, update or delete: a ClauseElement, which Executable does not say
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement cannot have IN lists or literal_execute")
        self.sql: str = str(compiled)
        # (name in params, value when fixed, bind processor), in the order of the "?"s
        self._binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            fixed = _REQUIRED if bind.required else bind.effective_value
            # dialect_impl: SQLite's own type (e.g. its Date keeps ISO text), as SQLAlchemy
            # itself would bind it.
            self._binds.append((bind.key, fixed,
                                bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)))
        self._row: Any = None
        self._results: list[Callable[[Any], Any] | None] = []
        if isinstance(statement, SelectBase):
            columns = list(statement.selected_columns)
            self._row = _row_type([c.key or f"c{i}" for i, c in enumerate(columns)])
            self._results = [c.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None)
                             for c in columns]
        self._processed = any(self._results)

    @classmethod
    def insert(cls, table: Table) -> Prepared:
        """INSERT of one row with every column of `table` given by name."""
        return cls(insert(table).values({c.key: bindparam(c.key) for c in table.c}))

    def _args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        args = []
        for key, fixed, process in self._binds:
            value = params[key] if fixed is _REQUIRED else fixed
            args.append(process(value) if process is not None else value)
        return tuple(args)

    def _rows(self, raw: Iterable[Sequence[Any]]) -> list[Any]:
        make = self._row._make
        if not self._processed:
            return [make(r) for r in raw]
        procs = self._results
        return [make([p(v) if p is not None else v for p, v in zip(procs, r, strict=True)])
                for r in raw]

    async def all(self, s: Session, params: Mapping[str, Any] | None = None) -> list[Any]:
        raw = _sqlite3(s)
        if raw is None:  # SQLAlchemy has processed the values already
            return [self._row._make(r) for r in await s.execute(self.statement, params)]
        return self._rows(raw.execute(self.sql, self._args(params or {})).fetchall())

    async def first(self, s: Session, params: Mapping[str, Any] | None = None) -> Any | None:
        rows = await self.all(s, params)
        return rows[0] if rows else None

    def first_outside(self, engine: Engine, params: Mapping[str, Any]) -> Any | None:
        """A read on a pooled sqlite3 connection of `engine`, in no transaction (one
        SELECT is atomic by itself): the guards' identity check on every request, where
        SQLAlchemy's Connection (checkout, execute, reset) cost ~5x the read. A store
        Database's connection is kept for the next read (core/db.take, give_back)."""
        pooled = take(engine)
        clean = False
        try:
            raw = pooled.driver_connection
            assert raw is not None
            rows = self._rows(raw.execute(self.sql, self._args(params)).fetchall())
            clean = True
        finally:
            give_back(engine, pooled, clean)
        return rows[0] if rows else None

    async def run(self, s: Session, params: Mapping[str, Any] | None = None) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it changed."""
        raw = _sqlite3(s)
        if raw is None:
            result = await s.execute(self.statement, params)
            return int(getattr(result, "rowcount", -1))
        return raw.execute(self.sql, self._args(params or {})).rowcount

    def run_now(self, s: Tx, params: Mapping[str, Any]) -> sqlite3.Cursor:
        """``run`` without awaiting, for a caller that is not a coroutine (a service that
        adds a row to the caller's store transaction): the cursor, for its rowcount and
        lastrowid."""
        return s.driver().execute(self.sql, self._args(params))

    async def run_many(self, s: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """executemany: one statement, many parameter sets (a sale's lines)."""
        if not rows:
            return
        raw = _sqlite3(s)
        if raw is None:
            await s.execute(self.statement, list(rows))
            return
        raw.executemany(self.sql, [self._args(r) for r in rows])


def _row_type(names: list[str]) -> Any:
    """A named tuple for the rows: attribute and index access, like SQLAlchemy's Row
    (a repeated name, such as two tables' ``id``, is reachable by index only)."""
    return namedtuple("Row", names, rename=True)


def _sqlite3(s: Session) -> sqlite3.Connection | None:
    """The sqlite3 connection of the store's transaction `s` (None for any other kind of
    session), after flushing what its ORM session, if it made one, holds pending."""
    return s.driver() if isinstance(s, Tx) else None
