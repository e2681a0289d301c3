"""Long-running commands stop on SIGTERM as on Ctrl-C (systemd, Docker and most
supervisors stop things with SIGTERM), and `kirana demo` says "Demo ready" only once
the hub and both stores answer /healthz.

Real processes on 127.0.0.1: `kirana demo`, `kirana serve` and `kirana hub`.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN = 15.0  # seconds from SIGTERM until every port is closed and every process gone


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_ports() -> int:
    """A port P with P (S1), P+1 (D2) and P+100 (the hub) free; below Linux's ephemeral
    range, so no other test's free_port() or outgoing connection takes one meanwhile."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if all(_free(p) for p in (port, port + 1, port + 100)):
            return port
    raise RuntimeError("no free ports")


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is pid."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def kirana(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env,
                            **kwargs)


def cleanup(proc: subprocess.Popen, pids: set[int]) -> None:
    for pid in pids | children(proc.pid) | {proc.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("signals") / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--dir", str(directory), "--port",
         str(demo_ports()), "--no-serve", "--no-orders"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


def test_sigterm_stops_the_demo_and_all_its_servers(demo_dir: Path, tmp_path: Path) -> None:
    port = demo_ports()
    ports = (port, port + 1, port + 100)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = kirana("demo", "--dir", str(demo_dir), "--port", str(port), "--no-orders",
                      cwd=tmp_path, stdout=out, stderr=err)
    pids: set[int] = set()
    try:
        wait_until(lambda: all(answers(p) for p in ports), 60, "the hub and both stores")
        pids = children(proc.pid)
        assert len(pids) == 3, pids
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: not any(accepts(p) for p in ports), STOP_WITHIN, "ports to close")
        wait_until(lambda: not any(alive(p) for p in pids), STOP_WITHIN, "servers to exit")
        assert proc.wait(STOP_WITHIN) == 0, (tmp_path / "err").read_text()[-3000:]
    finally:
        cleanup(proc, pids)


def test_demo_banner_only_once_all_three_answer(demo_dir: Path, tmp_path: Path) -> None:
    """... and it says where online orders go and how to stop the demo (issue #16 item 23).
    Made-up orders are on here, as a first-time user runs it."""
    port = demo_ports()
    ports = (port, port + 1, port + 100)
    proc = kirana("demo", "--dir", str(demo_dir), "--port", str(port),
                  cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pids: set[int] = set()
    try:
        assert proc.stderr is not None  # the CLI (and uvicorn) write to stderr
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if "Demo ready" in line:
                up = {p: answers(p) for p in ports}
                assert all(up.values()), f"banner printed while {up} (port: answers)"
                break
        else:
            raise AssertionError("no banner:\n" + "".join(seen))
        banner: list[str] = []
        for line in proc.stderr:  # the rest of the banner (servers may log in between)
            banner.append(line)
            if "other two" in line or len(banner) > 60:
                break
        said = " ".join(" ".join(banner).split())
        assert "To stop: press Ctrl+C here. That stops all three servers" in said, said
        assert "if one of them stops, the demo stops the other two" in said, said
        assert "some to counter store S1 too" in said, said
        pids = children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_WITHIN)
    finally:
        cleanup(proc, pids)


def test_demo_names_the_server_that_never_came_up(demo_dir: Path, tmp_path: Path) -> None:
    """A stray program holds dark store D2's port: the demo names D2, stops the hub and S1
    and exits non-zero; no banner."""
    port = demo_ports()
    with socket.socket() as stray:
        stray.bind(("127.0.0.1", port + 1))
        stray.listen()  # accepts connections, never answers
        proc = kirana("demo", "--dir", str(demo_dir), "--port", str(port), "--no-orders",
                      cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = proc.communicate(timeout=90)
        finally:
            cleanup(proc, set())
    assert proc.returncode != 0
    assert "Demo ready" not in output
    assert re.search(r"(?m)^.*(D2.*did not start|Port in use for Dark store D2)", output), output
    assert not accepts(port) and not accepts(port + 100)


@pytest.mark.parametrize("command", ["serve", "hub"])
def test_sigterm_stops_serve_and_hub(command: str, demo_dir: Path, tmp_path: Path) -> None:
    port = demo_ports()
    config = demo_dir / ("s1/store.toml" if command == "serve" else "hub/hub.toml")
    with open(tmp_path / "err", "w") as err:
        proc = kirana(command, "--config", str(config), "--port", str(port), cwd=tmp_path,
                      stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: answers(port), 60, f"kirana {command}")
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_WITHIN)
        assert not accepts(port)
        log = (tmp_path / "err").read_text()
        assert "Application shutdown complete" in log, log[-3000:]  # graceful, not killed
    finally:
        cleanup(proc, set())


def test_kill_9_of_the_demo_still_stops_its_servers(demo_dir: Path, tmp_path: Path) -> None:
    """A supervisor that gives up and sends SIGKILL (or the OOM killer) must not leave
    three servers holding the demo's ports: they get SIGTERM when their parent dies."""
    port = demo_ports()
    ports = (port, port + 1, port + 100)
    proc = kirana("demo", "--dir", str(demo_dir), "--port", str(port), "--no-orders",
                  cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: set[int] = set()
    try:
        wait_until(lambda: all(answers(p) for p in ports), 60, "the hub and both stores")
        pids = children(proc.pid)
        assert len(pids) == 3, pids
        proc.kill()
        proc.wait(5)
        wait_until(lambda: not any(accepts(p) for p in ports), STOP_WITHIN, "ports to close")
        wait_until(lambda: not any(alive(p) for p in pids), STOP_WITHIN, "servers to exit")
    finally:
        cleanup(proc, pids)


def test_store_only_demo_banner_waits_for_the_store(tmp_path: Path) -> None:
    port = demo_ports()
    proc = kirana("demo", "--store-only", "--dir", str(tmp_path / "one"), "--port", str(port),
                  "--no-orders", cwd=tmp_path, stdout=subprocess.PIPE,
                  stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "Demo store ready" in line:
                assert answers(port), "banner printed before the store answered /healthz"
                break
        else:
            raise AssertionError("no banner:\n" + "".join(seen))
        for line in proc.stdout:
            seen.append(line)
            if "To stop: press Ctrl+C here." in line:
                break
            assert len(seen) < 200, "".join(seen)
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_WITHIN)
        assert not accepts(port)
    finally:
        cleanup(proc, set())


def test_sigterm_stops_serve_while_a_live_page_is_open(demo_dir: Path, tmp_path: Path) -> None:
    """The order board holds a server-sent events stream open for as long as the page is
    shown: SIGTERM must not wait for it to end (it never does)."""
    import threading

    import httpx

    port = demo_ports()
    with open(tmp_path / "err", "w") as err:
        proc = kirana("serve", "--config", str(demo_dir / "d2/store.toml"), "--port", str(port),
                      cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: answers(port), 60, "kirana serve")
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        page = client.get("/login").text
        meena = re.search(r'name="user_id" value="([^"]+)"[^>]*>\s*'
                          r'<span class="tile-name">Meena<', page)
        assert meena, page[:2000]
        signed_in = client.post("/login", data={
            "user_id": meena.group(1), "pin": "4726", "next": "/",
            "_csrf_token": client.cookies.get("csrftoken", "")})
        assert signed_in.status_code in (200, 303), signed_in.text[:500]
        opened = threading.Event()

        def board() -> None:
            with contextlib.suppress(httpx.HTTPError), client.stream(
                    "GET", "/orders/events") as stream:
                assert stream.status_code == 200
                opened.set()
                for _ in stream.iter_lines():
                    pass

        threading.Thread(target=board, daemon=True).start()
        assert opened.wait(10), "the order board's stream did not open"
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_WITHIN)
        assert not accepts(port)
    finally:
        cleanup(proc, set())


def test_demo_refuses_ports_another_server_answers_on(demo_dir: Path, tmp_path: Path) -> None:
    """A second `kirana demo` while the first runs: the first's servers answer /healthz,
    so the second must not print "Demo ready" for servers that are not its own."""
    import http.server
    import threading

    port = demo_ports()

    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    other = http.server.HTTPServer(("127.0.0.1", port + 1), Healthy)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        proc = kirana("demo", "--dir", str(demo_dir), "--port", str(port), "--no-orders",
                      cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = proc.communicate(timeout=90)
        finally:
            cleanup(proc, set())
    finally:
        other.shutdown()
        other.server_close()
    assert proc.returncode != 0
    assert "Demo ready" not in output
    assert "Port in use" in output and f":{port + 1}" in output, output
    assert not accepts(port) and not accepts(port + 100)
