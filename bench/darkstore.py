"""Dark-store benchmark.

* order -> board: time from `POST /api/v1/orders` returning to the manager's board
  stream (`/orders/events`, server-sent events) announcing the change, on a real
  `kirana serve` with the demo catalogue;
* batch planning: the pure planner on 50 orders / 250 lines.

Run: .venv/bin/python bench/darkstore.py [--orders 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    LOCALHOST,
    ServerProcess,
    busy_warning,
    child_env,
    format_table,
    free_port,
    kirana_exe,
    machine_info,
    summarize,
)

from app.picking import planner

TARGET_BOARD_P99_MS = 500.0
TARGET_PLAN_MS = 50.0


def planning_times(runs: int = 50) -> list[float]:
    rng = random.Random(7)
    bins = [planner.BinStock(f"{a}-{b:02d}-{s}", "AMBIENT", i * 10, rng.randint(0, 30))
            for i, (a, b, s) in enumerate((a, b, s) for a in "ABCDEF" for b in range(1, 9)
                                          for s in range(1, 5))]
    now = datetime.now(UTC)
    orders = []
    for o in range(50):
        lines = tuple(planner.OrderLineToPick(
            line_id=f"L{o}-{k}", sku=f"SKU{rng.randrange(400)}", name="x",
            quantity=rng.randint(1, 3), unit="piece",
            bins=tuple(rng.sample(bins, k=2))) for k in range(5))
        orders.append(planner.OrderToPick(f"O{o}", f"D2-{o:06d}",
                                          now + timedelta(minutes=rng.randint(5, 30)), lines))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        planner.plan_batch(orders)
        times.append(time.perf_counter() - start)
    return times


async def board_latency(base: str, key: str, skus: list[str], n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=True,
                                 trust_env=False) as board, \
            httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as channel:
        page = (await board.get("/login")).text
        user_id = re.search(r'value="([0-9a-f-]{36})"[^>]*>\s*<span class="tile-name">Meena',
                            page).group(1)
        await board.post("/login", data={"user_id": user_id, "pin": "4726",
                                         "_csrf_token": board.cookies.get("csrftoken", "")})
        latencies: list[float] = []
        async with board.stream("GET", "/orders/events") as stream:
            lines = stream.aiter_lines()
            async for line in lines:  # wait for the stream's hello
                if line.startswith("data:"):
                    break
            for i in range(n):
                body = {"channel": "bench", "external_id": f"B-{i}",
                        "customer": {"name": "Bench", "phone": "9000000000", "address": "x",
                                     "pincode": "560102"},
                        "promised_by": (datetime.now(UTC) + timedelta(minutes=20)).isoformat(),
                        "lines": [{"sku": random.choice(skus), "quantity": 1}]}
                response = await channel.post("/api/v1/orders", json=body,
                                              headers={"Authorization": f"Bearer {key}"})
                posted = time.perf_counter()
                if response.status_code != 201:
                    raise RuntimeError(f"order refused: {response.text}")
                async for line in lines:
                    if line.startswith("event: orders"):
                        latencies.append(time.perf_counter() - posted)
                        break
                await asyncio.sleep(random.uniform(0.3, 0.9))  # random phase vs the poll
        return latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=60)
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    print(format_table(["machine", ""], machine_info(("litestar", "SQLAlchemy")), numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    plan = summarize(planning_times())
    root = Path(tempfile.mkdtemp(prefix="kirana-bench-dark-"))
    try:
        subprocess.run([kirana_exe(), "demo", "--dir", str(root), "--no-serve", "--no-orders",
                        "--store-only"],
                       check=True, env=child_env(), capture_output=True, timeout=120)
        key = subprocess.run([kirana_exe(), "apikey", "create", "--config",
                              str(root / "store.toml"), "--name", "bench", "--scope", "all",
                              "--channel", "bench"],
                             check=True, env=child_env(), capture_output=True, text=True,
                             timeout=60).stdout.strip().splitlines()[-1]
        port = free_port()
        server = ServerProcess([kirana_exe(), "serve", "--config", str(root / "store.toml"),
                                "--host", LOCALHOST, "--port", str(port)], cwd=root,
                               log_path=root / "server.log")
        try:
            base = f"http://{LOCALHOST}:{port}"
            server.wait_ready(base + "/healthz", timeout=60)
            import csv

            rows = csv.DictReader((Path(__file__).resolve().parent.parent / "store_config" /
                                   "demo_catalog.csv").read_text().splitlines())
            skus = [r["sku"] for r in rows if r["unit"] == "piece" and r["active"] == "yes"]
            board = summarize(asyncio.run(board_latency(base, key, skus[:60], args.orders)))
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = [["order posted -> board told (SSE)", board.p50, board.p90, board.p99, board.n],
            ["plan a batch of 50 orders / 250 lines", plan.p50, plan.p90, plan.p99, plan.n]]
    headers = ["measure", "p50 ms", "p90 ms", "p99 ms", "n"]
    print(format_table(headers, rows))
    if args.markdown:
        print(format_table(headers, rows, markdown=True))
    print(f"board p99 {board.p99:.0f} ms vs target {TARGET_BOARD_P99_MS:.0f} ms: "
          f"{'met' if board.p99 < TARGET_BOARD_P99_MS else 'MISSED'}; planning p99 "
          f"{plan.p99:.1f} ms vs {TARGET_PLAN_MS:.0f} ms: "
          f"{'met' if plan.p99 < TARGET_PLAN_MS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
