"""Shared fixtures: a real store config and a migrated SQLite file per test.

Migrating once per session and copying the file keeps each test on a fresh,
real database without paying for Alembic every time.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from litestar.testing import AsyncTestClient

from app.config import StoreConfig, parse_config
from app.core import migrate
from app.core.auth import create_user
from app.core.db import Database
from app.core.secret_file import attach_pepper

# Property tests check rules, not speed: on a busy 2-core box (CI runs two workers
# beside PostgreSQL and Chromium) drawing inputs or running one example can take longer
# than Hypothesis' defaults allow, which failed test_abc once. Each test's own
# @settings still applies on top of this.
settings.register_profile("kirana", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kirana")

ROOT = Path(__file__).resolve().parent.parent
CONFIG_TEMPLATE = (ROOT / "store_config" / "store.toml").read_text()


def make_config(tmp: Path, **overrides: str) -> StoreConfig:
    text = CONFIG_TEMPLATE.replace('path = "../var/s1/store.db"', 'path = "store.db"').replace(
        'data_dir = "../var/s1"', 'data_dir = "var"'
    )
    for old, new in overrides.items():
        text = text.replace(old, new)
    (tmp / "store.toml").write_text(text)
    return parse_config(text, source=str(tmp / "store.toml"), base_dir=str(tmp))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.db"
    migrate.upgrade(path)
    return path


@pytest.fixture
def cfg(tmp_path: Path, migrated_template: Path) -> StoreConfig:
    config = make_config(tmp_path)
    shutil.copy(migrated_template, config.database_path)
    return config


@pytest.fixture
async def db(cfg: StoreConfig):
    database = attach_pepper(Database(cfg.database_path), cfg.data_dir)
    yield database
    await database.dispose()


@pytest.fixture
async def app(cfg: StoreConfig):
    from app.server import create_store_app

    return create_store_app(cfg)


@pytest.fixture
async def client(app):
    async with AsyncTestClient(app=app) as c:
        yield c


STAFF = {
    "cashier": ("Asha", "3816"),
    "picker": ("Ravi", "5209"),
    "manager": ("Meena", "4726"),
    "admin": ("Arjun", "8351"),
}


@pytest.fixture
async def staff(db: Database) -> dict[str, str]:
    """One user per role; returns role -> user id."""
    ids = {}
    for role, (name, pin) in STAFF.items():
        ids[role] = (await create_user(db, name, role, pin)).id
    return ids


def csrf_of(client) -> str:
    return client.cookies.get("csrftoken", "")


async def login(client, user_id: str, pin: str):
    await client.get("/login")
    return await client.post(
        "/login", data={"user_id": user_id, "pin": pin, "next": "/", "_csrf_token": csrf_of(client)}
    )


@pytest.fixture
def login_as(client, staff):
    async def _login(role: str):
        response = await login(client, staff[role], STAFF[role][1])
        assert response.status_code in (200, 303), response.text
        return client

    return _login


CRASH_LOGS = Path(tempfile.gettempdir()) / "kirana-pytest-workers"
_worker_config = None


def pytest_configure(config) -> None:
    """A parallel worker that dies ("node down: Not properly terminated") leaves a trace:
    the test it was running, and for a fatal error or a SIGTERM every thread's stack, in a
    file that the summary prints. No stack means SIGKILL or os._exit."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        # The workers inherit this: each run reads only its own workers' files (another
        # pytest run on the same machine is not this run's dead worker).
        os.environ["KIRANA_PYTEST_RUN"] = f"{os.getpid()}-{time.time_ns()}"
        config._kirana_run_logs = CRASH_LOGS / os.environ["KIRANA_PYTEST_RUN"]
        return
    run_logs = CRASH_LOGS / os.environ.get("KIRANA_PYTEST_RUN", "unknown")
    run_logs.mkdir(parents=True, exist_ok=True)
    log = (run_logs / f"{worker}-{os.getpid()}.log").open("w")
    config._kirana_crash_log = log
    global _worker_config
    _worker_config = config
    faulthandler.enable(file=log, all_threads=True)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        faulthandler.register(signum, file=log, all_threads=True, chain=True)


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    log = getattr(_worker_config, "_kirana_crash_log", None) if _worker_config else None
    if log is not None:
        log.write(f"started {nodeid} at {time.strftime('%H:%M:%S')}\n")
        log.flush()


def pytest_unconfigure(config) -> None:
    log = getattr(config, "_kirana_crash_log", None)
    if log is not None:
        log.write("worker finished\n")
        log.close()


def pytest_report_header(config) -> str:
    from tests import pg

    if pg.reachable():
        return f"hub on PostgreSQL: tested against {pg.ADMIN_DSN.split('@')[-1]}"
    return pg.NOT_REACHABLE


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    run_logs = getattr(config, "_kirana_run_logs", None)
    for path in sorted(run_logs.glob("gw*.log")) if run_logs and run_logs.is_dir() else []:
        text = path.read_text(errors="replace")
        if text and not text.endswith("worker finished\n"):  # it died: its last test, why
            lines = [line for line in text.splitlines() if not line.startswith("started ")]
            last = [line for line in text.splitlines() if line.startswith("started ")][-1:]
            terminalreporter.write_line(f"worker {path.name} died; {' '.join(last)}",
                                        red=True, bold=True)
            terminalreporter.write_line("\n".join(lines)[-20000:])
    from tests import pg

    if not pg.reachable():
        terminalreporter.write_line(pg.NOT_REACHABLE, red=True, bold=True)


@pytest.fixture
def pg_url():
    """A fresh, migrated PostgreSQL hub database's URL (tests/pg.py), dropped after; the
    test is skipped loudly where no server answers. Sync: tests/pg.py runs its own loop."""
    from tests import pg

    if not pg.reachable():
        pytest.skip(pg.NOT_REACHABLE)
    url = pg.create_database()
    yield url
    pg.drop_database(url)
