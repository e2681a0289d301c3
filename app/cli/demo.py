"""`kirana demo`: a hub, a counter store and a dark store on one machine, as child
processes that stop together (or just the counter store, in this process)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from app.cli.common import console, progress_bar
from app.cli.store import serve


@click.command(help="Set up and run the demo: a hub, a counter store and a dark store.")
@click.option(
    "--dir",
    "directory",
    default="demo-data",
    type=click.Path(file_okay=False),
    help="Where the demo's configs and databases go.",
)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int,
              help="Counter store S1's port; dark store D2 on port+1, the hub on port+100.")
@click.option("--no-serve", is_flag=True, help="Only prepare the demo; don't start the servers.")
@click.option("--no-orders", is_flag=True, help="Don't post made-up online orders.")
@click.option("--store-only", is_flag=True,
              help="Just the counter store S1, standalone, in DIR (what tests use).")
def demo(directory: str, host: str, port: int, no_serve: bool, no_orders: bool,
         store_only: bool) -> None:
    from app.demo import DEMO_COUPON, DEMO_LOGINS, HUB_LOGINS, prepare_demo, prepare_site

    if store_only:
        cfg_path, logins, fresh = prepare_demo(
            Path(directory), host=host, port=port, progress=progress_bar,
            orders_per_minute=0 if no_orders else 2.0,
        )
        def store_banner(heading: str) -> None:
            console.print(f"[bold green]{heading}[/] ({'new' if fresh else 'existing'} "
                          f"data in {directory}/)")
            console.print(f"Open [bold]http://{host}:{port}/[/] and sign in with a name and PIN:")
            for name, role, pin in logins:
                console.print(f"  {name:<10} {role:<8} PIN {pin}")

        if no_serve:
            store_banner("Demo store prepared (not started)")
            return

        def store_ready() -> None:
            store_banner("Demo store ready")
            console.print(STOP_STORE)

        _banner_when_up(f"http://{host}:{port}/", store_ready)
        serve.main(["--config", str(cfg_path), "--host", host, "--port", str(port)],
                   standalone_mode=False)
        return
    site = prepare_site(Path(directory), host=host, port=port, progress=progress_bar,
                        orders_per_minute=0 if no_orders else 2.0)

    def banner(heading: str) -> None:
        console.print()
        console.print(f"[bold green]{heading}[/] ({'new' if site.fresh else 'existing'} data in "
                      f"{directory}/): a hub and two stores, syncing.")
        console.print(f"  Hub (HQ: catalogue, all stock, store health)  [bold]{site.hub_url}[/]")
        console.print(f"  Counter store S1 (till, stock)                [bold]{site.stores['S1'][1]}[/]")
        console.print(f"  Dark store D2 (online orders, picking)        [bold]{site.stores['D2'][1]}[/]")
        console.print("Sign in at a store with a name and PIN:")
        for name, role, pin in DEMO_LOGINS:
            console.print(f"  {name:<10} {role:<8} PIN {pin}")
        console.print("Sign in at the hub with a name and password:")
        for name, role, password in HUB_LOGINS:
            console.print(f"  {name:<10} {role:<8} password {password}")
        console.print("  (the demo hub asks for no authenticator code and says so in red; a "
                      "real hub does ask)")
        console.print(f"Offers at S1's till (see /promotions): coupon code [bold]{DEMO_COUPON}[/], "
                      "buy 2 Coca-Cola get 1 free, and more; loyalty points are on.")

    if no_serve:
        banner("Demo prepared (not started)")
        return

    def ready() -> None:
        banner("Demo ready")
        console.print(NO_ORDERS if no_orders else ORDERS)
        console.print(STOP_SITE)

    sys.exit(_run_site(site, host, ready))


# Printed under the banner once every server answers (plain words, one line each).
ORDERS = ("Online orders: about two a minute arrive at the hub, which sends each to the "
          "nearest store that has everything: mostly dark store D2, and some to counter "
          "store S1 too (its Orders and Pick pages).")
NO_ORDERS = "Online orders: none made up (--no-orders)."
STOP_SITE = ("To stop: press Ctrl+C here. That stops all three servers; if one of them "
             "stops, the demo stops the other two.")
STOP_STORE = "To stop: press Ctrl+C here."


DEMO_START_TIMEOUT = 90.0  # seconds for each demo server to answer /healthz


def _banner_when_up(url: str, banner: Callable[[], None]) -> None:
    """Print the banner from a side thread once the in-process server answers /healthz
    (the server itself blocks this thread), or say that it never did."""
    import threading
    import time

    def watch() -> None:
        deadline = time.monotonic() + DEMO_START_TIMEOUT
        while time.monotonic() < deadline:
            if _answers(url):
                banner()
                return
            time.sleep(0.2)
        console.print(f"[bold red]The demo store did not answer {url}healthz[/]",
                      highlight=False)

    threading.Thread(target=watch, name="demo-banner", daemon=True).start()


def _die_with_parent() -> None:
    """In a demo server (between fork and exec): SIGTERM it when the demo dies, even by
    kill -9, so no server is left holding its port (Linux's PR_SET_PDEATHSIG)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: Ctrl-C still works
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (systemd, Docker, `kill`) stops the demo the way Ctrl-C does."""
    raise KeyboardInterrupt


def _answers(url: str) -> bool:
    """The server at url answers /healthz (over https if it closes a plain request: the
    store after `kirana tls init`)."""
    import http.client
    import ssl
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    where = urlsplit(url)
    host = "127.0.0.1" if where.hostname in ("0.0.0.0", "::", "") else where.hostname
    try:
        with urllib.request.urlopen(f"http://{host}:{where.port}/healthz", timeout=1) as reply:
            return reply.status == 200
    except (http.client.HTTPException, ConnectionResetError):
        pass  # maybe TLS
    except (urllib.error.URLError, OSError, ValueError):
        return False
    context = ssl.create_default_context()  # only asking whether it is up
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://{host}:{where.port}/healthz", timeout=1,
                                    context=context) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return False


def _port_taken(host: str, url: str) -> bool:
    """Something already listens on the url's port (where the server would bind)."""
    import socket
    from urllib.parse import urlsplit

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, urlsplit(url).port or 0))
        except OSError:
            return True
    return False


def _run_site(site, host: str, ready) -> int:
    """Start the hub and both stores as child processes; call ready() once all three
    answer /healthz. Ctrl-C or SIGTERM stops all three; so does one of them failing to
    start or stopping. Returns the exit code."""
    import signal
    import subprocess
    import time

    from app.demo import DEMO_STORES

    exe = [sys.executable, "-m", "app.cli"]
    servers = [("The hub", site.hub_url, ["hub", "--config", str(site.hub_config)])]
    for store_id, (cfg_path, url) in site.stores.items():
        kind = "Dark store" if DEMO_STORES[store_id].kind == "darkstore" else "Counter store"
        servers.append((f"{kind} {store_id}", url, ["serve", "--config", str(cfg_path)]))
    taken = [f"{name} ({url})" for name, url, _args in servers if _port_taken(host, url)]
    if taken:  # another program would answer /healthz in its place and fake "ready"
        console.print(f"[bold red]Port in use for {', '.join(taken)}[/]: is another demo or "
                      "server running? Stop it, or pass --port.", highlight=False)
        return 1
    procs: list[tuple[str, subprocess.Popen]] = []
    previous = signal.signal(signal.SIGTERM, _interrupt), signal.getsignal(signal.SIGINT)
    try:
        for i, (name, _url, args) in enumerate(servers):
            procs.append((name, subprocess.Popen([*exe, *args, "--host", host],
                                                    preexec_fn=_die_with_parent)))
            # The hub first: the stores would connect anyway, but not on the first try.
            if i == 0 or i == len(servers) - 1:
                why = _wait_until_up(procs, servers, time.monotonic() + DEMO_START_TIMEOUT)
                if why:
                    console.print(f"[bold red]{why}[/]; stopping the demo.", highlight=False)
                    return 1
        ready()
        while all(proc.poll() is None for _name, proc in procs):
            time.sleep(0.5)
        stopped = next(name for name, proc in procs if proc.poll() is not None)
        console.print(f"[bold red]{stopped} stopped[/]; stopping the others.", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan them
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _name, proc in procs:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: each server shuts down gracefully
        for _name, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def _wait_until_up(procs, servers, deadline: float) -> str:
    """Wait until every started server answers /healthz; a sentence naming the first that
    exited or never answered, or "" when all are up."""
    import time

    waiting = {name for name, _proc in procs}
    urls = {name: url for name, url, _args in servers}
    while waiting:
        for name, proc in procs:
            if name not in waiting:
                continue
            if proc.poll() is not None:
                return f"{name} did not start (it exited with code {proc.returncode})"
            if _answers(urls[name]):
                waiting.discard(name)
        if waiting and time.monotonic() > deadline:
            name = sorted(waiting)[0]
            return (f"{name} did not start: no answer from {urls[name]}healthz "
                    f"in {DEMO_START_TIMEOUT:.0f} s")
        if waiting:
            time.sleep(0.2)
    return ""
