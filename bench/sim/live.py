"""Live mode (issue #20): the simulated orders against a real ``kirana serve``.

A throw-away demo store (``kirana demo --store-only``) is served on 127.0.0.1; the
simulator's orders (packed goods only: a weighed item needs a scale label) are posted to
``POST /api/v1/orders`` at their arrival times sped up ``--speed`` times, and one picker
(Ravi, the demo's picker) works them on the phone's own requests: "Start the next
batch" (``POST /pick/claim``), a scan per task and "Took all" for the rest of the
quantity, then at the packing bench a scan per item into each order and "Packed: print
labels". It checks that the real server keeps up and that every order ends ready for a
rider (or rejected, when the demo's shelf has too few), and prints the request times.

Run: .venv/bin/python -m bench.sim.live [--orders 12] [--speed 30]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._common import (
    LOCALHOST,
    ServerProcess,
    busy_warning,
    child_env,
    format_table,
    free_port,
    kirana_exe,
    summarize,
)
from bench.sim.engine import make_orders
from bench.sim.model import CATALOG_CSV, Params, Scenario, load_store

TASK = re.compile(r'hx-post="/pick/tasks/([^/"]+)/scan"')
# The English name, up to a local-language name beside it (issue #22) or the div's end.
NAME = re.compile(r'data-testid="task-name">([^<{]*?)\s*(?:<|\{)')
CARD = re.compile(r'id="pack-([0-9a-f-]{36})" data-testid="pack-([^"]+)"')


def barcodes() -> dict[str, str]:
    """Product name -> its first barcode (what the picker scans)."""
    rows = csv.DictReader(CATALOG_CSV.read_text(encoding="utf-8").splitlines())
    return {r["name"]: r["barcodes"].split("|")[0] for r in rows if r["barcodes"]}


class Phone:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.c = client
        self.times: dict[str, list[float]] = defaultdict(list)
        self.refused: list[str] = []

    def _h(self) -> dict[str, str]:
        return {"HX-Request": "true", "x-csrftoken": self.c.cookies.get("csrftoken") or ""}

    async def post(self, step: str, url: str, data: dict[str, str], htmx: bool = True
                   ) -> httpx.Response:
        started = time.perf_counter()
        if htmx:
            r = await self.c.post(url, data=data, headers=self._h())
        else:
            r = await self.c.post(url, data={**data, "_csrf_token":
                                             self.c.cookies.get("csrftoken", "")})
        self.times[step].append(time.perf_counter() - started)
        if r.status_code >= 400:
            raise RuntimeError(f"{step}: {r.status_code} {r.text[:300]}")
        return r

    async def sign_in(self, name: str, pin: str) -> None:
        page = (await self.c.get("/login")).text
        match = re.search(rf'value="([0-9a-f-]{{36}})"[^>]*>\s*<span class="tile-name">'
                          rf"{re.escape(name)}<", page)
        if not match:
            raise RuntimeError(f"{name} is not on the sign-in page")
        await self.c.post("/login", data={"user_id": match.group(1), "pin": pin,
                                          "_csrf_token": self.c.cookies.get("csrftoken", "")})


async def pick_batch(phone: Phone, codes: dict[str, str]) -> bool:
    """One batch on the pick screen; False when there was nothing to claim."""
    r = await phone.post("claim", "/pick/claim", {})
    if "No orders waiting" in r.text or not TASK.search(r.text):
        return False
    tries: dict[str, int] = defaultdict(int)
    while (task := TASK.search(r.text)) is not None:
        task_id = task.group(1)
        tries[task_id] += 1
        if tries[task_id] > 3:  # the scan is refused (a wrong code): mark it short
            phone.refused.append(r.text[:200])
            r = await phone.post("short", f"/pick/tasks/{task_id}/short",
                                 {"reason": "live bench: scan refused"})
            continue
        name = NAME.search(r.text)
        if name is None:
            raise RuntimeError(f"a task with no product name: {r.text[:300]}")
        r = await phone.post("scan", f"/pick/tasks/{task_id}/scan",
                             {"code": codes.get(html.unescape(name.group(1)), "0")})
        same = TASK.search(r.text)
        if same is not None and same.group(1) == task_id and "alert-error" not in r.text:
            r = await phone.post("took all", f"/pick/tasks/{task_id}/more", {"all": "1"})
    return True


async def pack_all(phone: Phone, lines: dict[str, list[tuple[str, int]]],
                   codes_by_sku: dict[str, str], ready: dict[str, float]) -> None:
    bench = (await phone.c.get("/pack")).text
    for order_id, number in CARD.findall(bench):
        for sku, quantity in lines.get(number, []):
            for _ in range(quantity):
                await phone.post("pack scan", f"/pack/{order_id}/scan",
                                 {"code": codes_by_sku[sku]})
        r = await phone.post("packed", f"/pack/{order_id}", {"bags": "1"}, htmx=False)
        if f"Order {number} packed" not in html.unescape(r.text):
            raise RuntimeError(f"order {number} was not packed: {r.text[:300]}")
        ready[number] = time.perf_counter()


async def drive(base: str, key: str, n_orders: int, speed: float, seed: int) -> None:
    params = Params()
    floor, products = load_store(params, seed)
    del floor
    pieces = [p for p in products if p.unit == "piece"]
    orders = make_orders(Scenario("live", 2.0, 60.0), pieces, params, seed)[:n_orders]
    codes = barcodes()
    sku_code = {p.sku: codes[p.name] for p in pieces if p.name in codes}
    posted: dict[str, float] = {}
    lines: dict[str, list[tuple[str, int]]] = {}
    rejected: list[str] = []
    ready: dict[str, float] = {}
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as api, \
            httpx.AsyncClient(base_url=base, timeout=30, trust_env=False,
                              follow_redirects=True) as client:
        phone = Phone(client)
        await phone.sign_in("Ravi", "5209")

        async def post_orders() -> None:
            for o in orders:
                await asyncio.sleep(max(0.0, start + o.arrival / speed - time.perf_counter()))
                body: dict[str, Any] = {"channel": "bench", "external_id": f"live-{seed}-{o.number}",
                        "customer": {"name": "Sim", "phone": "9000000000", "address": "x",
                                     "pincode": "560102"},
                        "promised_by": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
                        "lines": [{"sku": x.product.sku, "quantity": x.quantity}
                                  for x in o.lines if x.product.sku in sku_code]}
                t0 = time.perf_counter()
                r = await api.post("/api/v1/orders", json=body,
                                   headers={"Authorization": f"Bearer {key}"})
                phone.times["order intake (API)"].append(time.perf_counter() - t0)
                if r.status_code != 201:
                    raise RuntimeError(f"order refused: {r.status_code} {r.text[:300]}")
                data = r.json()
                number = data.get("number", o.number)
                posted[number] = time.perf_counter()
                if data.get("status") == "rejected":
                    rejected.append(number)
                else:
                    lines[number] = [(x["sku"], x["quantity"]) for x in body["lines"]]

        poster = asyncio.create_task(post_orders())
        while not poster.done() or len(ready) + len(rejected) < len(posted):
            if await pick_batch(phone, codes):
                await pack_all(phone, lines, sku_code, ready)
            else:
                await asyncio.sleep(0.2)
            if time.perf_counter() - start > 600:
                raise RuntimeError("the live run took over 10 minutes")
        await poster
    cycle = [ready[n] - posted[n] for n in ready]
    for text in phone.refused[:3]:
        print(f"refused scan: {text}")
    print(f"{len(posted)} orders posted, {len(ready)} packed and ready, {len(rejected)} "
          f"rejected (short on the demo shelf); every order finished: "
          f"{'yes' if len(ready) + len(rejected) == len(posted) else 'NO'}")
    rows = [[step, *(round(x, 1) for x in (s.p50, s.p90, s.p99)), s.n]
            for step, values in phone.times.items() for s in [summarize(values)]]
    print(format_table(["phone step", "p50 ms", "p90 ms", "p99 ms", "n"], rows))
    if cycle:
        c = summarize(cycle)
        print(f"posted -> ready (one picker, {speed:g}x faster arrivals): p50 "
              f"{c.p50 / 1000:.1f} s, p90 {c.p90 / 1000:.1f} s (server and client time only: "
              "no walking)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sim.live", description=__doc__)
    ap.add_argument("--orders", type=int, default=12)
    ap.add_argument("--speed", type=float, default=30.0, help="arrivals this many times faster")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if not 1 <= args.orders <= 500 or not 1 <= args.speed <= 10_000:
        print("--orders 1-500, --speed 1-10000", file=sys.stderr)
        return 2
    warning = busy_warning()
    if warning:
        print(warning)
    random.seed(args.seed)
    root = Path(tempfile.mkdtemp(prefix="kirana-sim-live-"))
    try:
        subprocess.run([kirana_exe(), "demo", "--dir", str(root), "--no-serve", "--no-orders",
                        "--store-only"], check=True, env=child_env(), capture_output=True,
                       timeout=180)
        key = subprocess.run([kirana_exe(), "apikey", "create", "--config",
                              str(root / "store.toml"), "--name", "sim", "--scope", "all",
                              "--channel", "bench"], check=True, env=child_env(),
                             capture_output=True, text=True, timeout=60
                             ).stdout.strip().splitlines()[-1]
        port = free_port()
        server = ServerProcess([kirana_exe(), "serve", "--config", str(root / "store.toml"),
                                "--host", LOCALHOST, "--port", str(port)], cwd=root,
                               log_path=root / "server.log")
        try:
            base = f"http://{LOCALHOST}:{port}"
            server.wait_ready(base + "/healthz", timeout=90)
            asyncio.run(drive(base, key, args.orders, args.speed, args.seed))
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
