"""Request identity bench: the store server's CPU per authenticated request.

Every guarded request first finds out who is asking: a signed-in person (session ->
user row) or a machine (bearer API key -> key row). This bench prints the server
process's own CPU time per request (utime + stime from /proc/<pid>/stat, read before
and after each batch) for:

* ``GET /healthz``: public, no identity, the framework floor;
* ``GET /pos/printer-alerts`` as a signed-in cashier with no shift open: the guard
  (session + user check) and a tiny fragment, no other database work;
* ``GET /api/v1/products/<unknown sku>`` with a ``catalog:read`` API key: the key check
  and one indexed miss (404).

The rows run in batches, in a shuffled order per round, so a hiccup on the machine hits
every row alike. Only 127.0.0.1. Run: .venv/bin/python bench/request_cost.py
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    LOCALHOST,
    Budget,
    StoreDir,
    busy_warning,
    format_table,
    free_port,
    machine_info,
    run_in_work_directory,
)
from _till import process_cpu_seconds

PACKAGES = ("litestar", "uvicorn", "SQLAlchemy", "httpx")
CASHIER = ("Bench Cashier", "3816")


def sign_in(client: httpx.Client, name: str, pin: str) -> None:
    page = client.get("/login").text
    match = re.search(rf'value="([0-9a-f-]{{36}})"[^>]*>\s*<span class="tile-name">'
                      rf'{re.escape(name)}<', page)
    if not match:
        raise RuntimeError(f"user {name} not on the login page")
    r = client.post("/login", data={"user_id": match.group(1), "pin": pin,
                                    "_csrf_token": client.cookies.get("csrftoken", "")})
    if "Hello," not in r.text:
        raise RuntimeError(f"sign-in failed for {name}: {r.status_code}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="requests per row")
    p.add_argument("--rounds", type=int, default=6, help="batches per row")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--time-limit", type=float, default=600)
    args = p.parse_args(argv)
    if not 10 <= args.requests <= 1_000_000 or not 1 <= args.rounds <= 100:
        p.error("--requests 10..1000000, --rounds 1..100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_in_work_directory(parse_args(argv), "kirana-bench-req-", run)


def run(args: argparse.Namespace, root: Path, budget: Budget) -> int:
    print(f"Kirana request identity bench, {date.today().isoformat()}, work dir {root}")
    print(format_table(["machine", ""], machine_info(PACKAGES), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    store = StoreDir(root)
    store.upgrade(timeout=min(120, budget.remaining()))
    name, pin = CASHIER
    store.cli("user", "add", "--name", name, "--role", "cashier", "--pin", pin,
              timeout=min(60, budget.remaining()))
    key = store.api_key("bench-reader", "catalog:read", timeout=min(60, budget.remaining()))
    port = free_port()
    server = store.serve(port)
    base = f"http://{LOCALHOST}:{port}"
    try:
        server.wait_ready(f"{base}/healthz", timeout=min(60, budget.remaining()))
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as anon, \
                httpx.Client(base_url=base, timeout=30, trust_env=False,
                             follow_redirects=True) as cashier, \
                httpx.Client(base_url=base, timeout=30, trust_env=False,
                             headers={"Authorization": f"Bearer {key}"}) as machine:
            sign_in(cashier, name, pin)
            rows = {
                "GET /healthz (no identity)": (anon, "/healthz", 200),
                "GET /pos/printer-alerts (cashier session)":
                    (cashier, "/pos/printer-alerts", 200),
                "GET /api/v1/products/<none> (API key)":
                    (machine, "/api/v1/products/NO-SUCH-SKU", 404),
            }
            for client, path, status in rows.values():  # warm-up, and check the answers
                for _ in range(200):
                    r = client.get(path)
                    if r.status_code != status:
                        raise RuntimeError(f"{path}: {r.status_code} (want {status})")
            cpu = dict.fromkeys(rows, 0.0)
            wall = dict.fromkeys(rows, 0.0)
            rng = random.Random(args.seed)
            per_batch = max(1, args.requests // args.rounds)
            for _ in range(args.rounds):
                order = list(rows)
                rng.shuffle(order)
                for label in order:
                    client, path, status = rows[label]
                    c0, w0 = process_cpu_seconds(server.pid), time.perf_counter()
                    for _ in range(per_batch):
                        if client.get(path).status_code != status:
                            raise RuntimeError(f"{path}: unexpected status")
                    wall[label] += time.perf_counter() - w0
                    cpu[label] += process_cpu_seconds(server.pid) - c0
    finally:
        server.stop()
    n = per_batch * args.rounds
    floor = cpu["GET /healthz (no identity)"] / n
    table = [[label, cpu[label] / n * 1000, (cpu[label] / n - floor) * 1000,
              cpu[label] / n / floor if floor else 0.0, wall[label] / n * 1000, n]
             for label in rows]
    headers = ["request", "server CPU ms", "minus healthz ms", "x healthz", "round trip ms",
               "n"]
    print()
    print(format_table(headers, table))
    if args.markdown:
        print()
        print(format_table(headers, table, markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
