"""Real hub and store processes on 127.0.0.1 for the sync tests and bench/sync.py.

A hub is `kirana hub --config` on SQLite or PostgreSQL; a store is `kirana serve` on
a copy of a migrated store database (its own epoch) pointed at the hub (or at a
fault-injecting proxy in front of it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kirana(*args: str, cwd: Path | None = None, check: bool = True,
           input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=cwd or ROOT, check=check,
                          capture_output=True, text=True, timeout=120, input=input)


ADMIN_PASSWORD = "brass lantern monsoon"  # the harness hub's admin, Priya


@dataclass
class HubUser:
    password: str
    secret: str
    last_step: int = 0

    def code(self) -> str:
        """A code for a time step not used yet (a code is good once): this step's, the
        next one's (the hub allows 30 s of drift), or after waiting for a new step."""
        import pyotp

        step = max(int(time.time() // 30), self.last_step + 1)
        while step > int(time.time() // 30) + 1:
            time.sleep(0.5)
        self.last_step = step
        return pyotp.TOTP(self.secret).generate_otp(step)


@dataclass
class Proc:
    """A server process we can kill -9 and start again on the same port."""

    args: list[str]
    port: int
    log: Path
    popen: subprocess.Popen | None = None

    def start(self, wait: float = 30.0) -> Proc:
        fh = self.log.open("a")
        self.popen = subprocess.Popen([PYTHON, "-m", "app.cli", *self.args], cwd=ROOT,
                                      stdout=fh, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.args[0]} did not start: {self.log.read_text()[-3000:]}")

    def pause(self) -> None:
        """SIGSTOP: the process and its sockets stay, but it answers nothing."""
        os.killpg(self.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.popen.pid, signal.SIGCONT)

    def kill9(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Hub:
    dir: Path
    config: Path
    database_url: str
    proc: Proc
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, HubUser] = field(default_factory=dict)

    def add_user(self, name: str, role: str, password: str) -> HubUser:
        """`kirana hub user`, keeping the password and the authenticator key it prints."""
        import re

        out = kirana("hub", "user", "--config", str(self.config), name, role,
                     "--password-stdin", input=password + "\n").stdout
        self.users[name] = HubUser(password, re.search(r"TOTP secret: (\w+)", out).group(1))
        return self.users[name]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.proc.port}/sync/v1"

    @property
    def sqlite_path(self) -> Path | None:
        url = self.database_url
        return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None

    def client(self, name: str = "Priya") -> httpx.Client:
        """An HTTP client signed in to the hub's pages (the admin by default): name and
        password, then a code from the user's authenticator key."""
        user = self.users[name]
        client = httpx.Client(base_url=self.proc.url, timeout=10)
        client.get("/login")
        step1 = client.post("/login", data={
            "name": name, "password": user.password, "next": "/",
            "_csrf_token": client.cookies.get("csrftoken", "")})
        assert step1.status_code == 200 and 'name="code"' in step1.text, step1.text
        done = client.post("/login/code", data={
            "code": user.code(), "_csrf_token": client.cookies.get("csrftoken", "")})
        assert done.status_code in (200, 303), done.text
        return client

    def post(self, client: httpx.Client, path: str, data: dict | None = None) -> httpx.Response:
        return client.post(path, data={**(data or {}),
                                       "_csrf_token": client.cookies.get("csrftoken", "")})

    def add_store(self, store_id: str, kind: str = "counter", lat: float = 12.97,
                  lon: float = 77.64, pincodes: str = "560038", priority: int = 0) -> str:
        token_file = self.dir / f"{store_id}.token"
        kirana("hub", "add-store", "--config", str(self.config), store_id, "--name",
               f"Store {store_id}", "--kind", kind, "--lat", str(lat), "--lon", str(lon),
               "--pincodes", pincodes, "--priority", str(priority),
               "--token-file", str(token_file))
        self.tokens[store_id] = token_file.read_text().strip()
        return self.tokens[store_id]


HUB_TOML = """
[hub]
name = "Test hub"
database_url = "{url}"
database_path = "hub.db"
[server]
host = "127.0.0.1"
port = {port}
data_dir = "var"
[sync]
offline_after_seconds = 10
hello_timeout_seconds = 5
[routing]
radius_km = 8
accept_timeout_seconds = 5
max_hops = 3
[[couriers]]
name = "Porter"
[[courier_rules]]
match = "*"
couriers = ["Porter"]
[[barcode_rules]]
name = "Weighed item (kg)"
pattern = "21.....{{NNDDD}}"
kind = "weight"
"""


def make_hub(directory: Path, database_url: str = "",
             admin_password: str = ADMIN_PASSWORD) -> Hub:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "hub.toml"
    config.write_text(HUB_TOML.format(url=database_url, port=port))
    kirana("hub", "db-upgrade", "--config", str(config))
    url = database_url or f"sqlite:///{directory / 'hub.db'}"
    proc = Proc(["hub", "--config", str(config)], port, directory / "hub.log")
    hub = Hub(directory, config, url, proc)
    hub.add_user("Priya", "admin", admin_password)
    return hub


@dataclass
class Store:
    id: str
    dir: Path
    config: Path
    db_path: Path
    proc: Proc

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db_path, timeout=30) as conn:
            return conn.execute(query, params).fetchall()

    def database(self):
        """The store's database with its install's PIN pepper (to add staff)."""
        from app.core.db import Database
        from app.core.secret_file import attach_pepper

        return attach_pepper(Database(self.db_path), self.dir / "var")


def make_store(directory: Path, store_id: str, hub_ws_url: str, token: str,
               template_db: Path, kind: str = "counter") -> Store:
    """A store on a copy of `template_db` with a fresh epoch of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db_path = directory / "store.db"
    shutil.copy(template_db, db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE sync_state SET epoch = ?", (secrets.token_hex(16),))
    (directory / "hub.token").write_text(token + "\n")
    text = (ROOT / "store_config" / "store.toml").read_text()
    text = (text.replace('id = "S1"', f'id = "{store_id}"')
            .replace('kind = "counter"               # counter | darkstore', f'kind = "{kind}"')
            .replace('path = "../var/s1/store.db"', 'path = "store.db"')
            .replace('data_dir = "../var/s1"', 'data_dir = "var"')
            .replace('host = "0.0.0.0"', 'host = "127.0.0.1"')
            .replace("port = 8000", f"port = {port}")
            .replace('url = ""                       # e.g. wss://hub.example.in/sync/v1 ; '
                     'empty = standalone', f'url = "{hub_ws_url}"\ntoken_file = "hub.token"'))
    assert f'url = "{hub_ws_url}"' in text
    config = directory / "store.toml"
    config.write_text(text)
    proc = Proc(["serve", "--config", str(config)], port, directory / "store.log")
    return Store(store_id, directory, config, db_path, proc)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
