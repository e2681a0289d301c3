"""`pip install` of a built wheel gives a working Kirana: templates, static files, example
configs, demo data and both migration folders are in the package (app/core/resources.py
finds them there; in a checkout it finds the top-level folders).

The wheel is built from a copy of the sources, installed with --no-deps into a fresh
virtualenv in tmp_path that sees this interpreter's site-packages only for the
dependencies, and run from a folder outside the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_FOLDERS = ("templates", "static", "store_config")
SOURCES = ("app", *DATA_FOLDERS, "pyproject.toml", "README.md", "LICENSE")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 180) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_package_of_app_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "app").rglob("*.py") if "__pycache__" not in p.parts
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"


def test_installed_wheel_serves_pages_and_static_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist",
        src, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("kirana-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for folder in DATA_FOLDERS:
        for path in (src / folder).rglob("*"):
            if path.is_file():
                assert f"app/{folder}/{path.relative_to(src / folder)}" in shipped
    for migrations in ("app/migrations", "app/hub/migrations"):
        assert {f"{migrations}/env.py", f"{migrations}/script.py.mako"} <= shipped

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
               cwd=tmp_path).strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "kirana_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    # --force-reinstall: the dependencies' folder may hold this project's editable install.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--force-reinstall", "--quiet", wheel, cwd=tmp_path, env=env)

    here = tmp_path / "shop"
    here.mkdir()
    kirana = venv / "bin" / "kirana"
    where = run(python, "-c", "import app; from app.core import resources as r; "
                "print(app.__file__, r.TEMPLATES, r.STATIC, r.STORE_CONFIG, r.PRINT_TEMPLATES, "
                "r.HUB_MIGRATIONS)", cwd=here, env=env).split()
    for path in where:
        assert path.startswith(str(venv)), f"{path} is not from the installed wheel"
    store_config = Path(where[3])

    # A store from the shipped example config: migrate, add a user, serve.
    port = free_port()
    (here / "store.toml").write_text(
        (store_config / "store.toml").read_text()
        .replace('path = "../var/s1/store.db"', 'path = "store.db"')
        .replace('data_dir = "../var/s1"', 'data_dir = "var"')
        .replace("port = 8000", f"port = {port}"))
    run(kirana, "db", "upgrade", "--config", "store.toml", cwd=here, env=env)
    run(kirana, "user", "add", "--config", "store.toml", "--name", "Asha", "--role", "manager",
        "--pin", "3816", cwd=here, env=env)
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen([str(kirana), "serve", "--config", "store.toml", "--host",
                                   "127.0.0.1"], cwd=here, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while get_or_none(f"http://127.0.0.1:{port}/healthz") != 200:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        status, page = get(f"http://127.0.0.1:{port}/login")
        assert status == 200, page.decode(errors="replace")[:2000]
        assert b"<form" in page
        links = re.findall(rb'(?:href|src)="(/static/[^"?]+)', page)
        assert any(link.endswith(b".css") for link in links), links
        for link in links:
            status, body = get(f"http://127.0.0.1:{port}{link.decode()}")
            assert status == 200, link
            assert body == (ROOT / link.decode().lstrip("/")).read_bytes(), link
    finally:
        server.terminate()
        server.wait(15)

    # The hub's migrations run from the package too.
    (here / "hub.toml").write_text(
        (store_config / "hub.toml").read_text()
        .replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
        .replace('data_dir = "../var/hub"', 'data_dir = "var-hub"'))
    run(kirana, "hub", "db-upgrade", "--config", "hub.toml", cwd=here, env=env)
    with sqlite3.connect(here / "hub.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()

    # The demo store from the shipped demo catalogue and bins.
    run(kirana, "demo", "--store-only", "--no-serve", "--no-orders", "--dir", "demo", "--port",
        str(free_port()), cwd=here, env=env)
    with sqlite3.connect(here / "demo" / "store.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone()[0] > 100


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except (urllib.error.URLError, OSError):
        return None
