"""What every `kirana` command shares: the error line, the progress bar, and `Place`,
which says how a store command or a hub command finds its config and its database."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from app.config import ConfigError, HubConfig, StoreConfig, load_config, load_hub_config

T = TypeVar("T")
console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    from app.core.i18n import _

    said = _("Error:")
    console.print(f"[bold red]{said}[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def display_host(host: str) -> str:
    import socket

    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


def when(moment: datetime | None) -> str:
    from app.core.i18n import _

    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else _("never")


def write_secret(path: Path, text: str) -> None:
    from app.core.private_files import write_private

    write_private(path, (text + "\n").encode())  # 0600 even over an older 0644 file


@dataclass(frozen=True)
class Place:
    """The store or the hub, as its commands see it: the --config option, how the file
    is loaded and its database opened, and how messages name the place."""

    config_help: str
    load: Callable[[str], Any]
    open_database: Callable[[Any], Any]
    to_the: str  # "" for a store, " to the hub": "may sign in to the hub again"

    def config_option(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return click.option("--config", "config_path", required=True,
                             type=click.Path(dir_okay=False), help=self.config_help)(fn)

    def with_config(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call fn with the loaded config instead of its path; a bad file is one line."""

        @functools.wraps(fn)
        def wrapper(config_path: str, *args: Any, **kwargs: Any) -> Any:
            try:
                cfg = self.load(config_path)
            except ConfigError as exc:
                fail(str(exc))
            return fn(cfg, *args, **kwargs)

        return wrapper

    def with_db(self, cfg: Any, work: Callable[[Any], Awaitable[T]],
                errors: tuple[type[Exception], ...] = (ValueError,)) -> T:
        """Run `work(database)` on the place's database and close it; one of `errors`
        (a refused change: no such user, a weak PIN) ends the command with its message."""

        async def go() -> T:
            database = self.open_database(cfg)
            try:
                return await work(database)
            finally:
                await database.dispose()

        try:
            return run(go())
        except errors as exc:
            fail(str(exc))


def in_store_language(fn: Callable[..., T]) -> Callable[..., T]:
    """A store command whose words staff read (a new PIN, a catalogue import) speaks the
    store's default language (``[store] language``, issue #22); in English it prints
    exactly what it always did. Put it under ``@STORE.with_config``. (Never on `serve`:
    the server's requests choose their own language.)"""

    @functools.wraps(fn)
    def wrapper(cfg: StoreConfig, *args: Any, **kwargs: Any) -> T:
        from app.core.i18n import use_language

        with use_language(cfg.store.language):
            return fn(cfg, *args, **kwargs)

    return wrapper


def _store_database(cfg: StoreConfig) -> Any:
    from app.core import migrate
    from app.core.db import Database
    from app.core.secret_file import attach_pepper

    pending = migrate.pending_message(cfg.database_path)
    if pending:
        fail(pending)
    return attach_pepper(Database(cfg.database_path), cfg.data_dir)


def _hub_database(cfg: HubConfig) -> Any:
    from app.core.secret_file import attach_pepper
    from app.hub.db import open_hub_database

    return attach_pepper(open_hub_database(cfg.database_url, cfg.hub), cfg.data_dir)


STORE = Place("Store config file, e.g. store_config/store.toml", load_config,
              _store_database, "")
HUB = Place("Hub config file, e.g. store_config/hub.toml", load_hub_config,
            _hub_database, " to the hub")
