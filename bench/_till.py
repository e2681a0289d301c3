"""The till as the browser drives it, shared by bench/pos.py and bench/scan_lookup.py.

* ``Till``: one signed-in cashier on one counter, speaking the till page's HTTP (PIN
  sign-in, open a shift, 10 scans, pay panel, tender cash, complete, "New sale").
* ``prepare_tills(store, n)``: gives the throw-away store ``n`` counters and cashiers.
* ``run_tills``: ``n`` tills ringing up bills at once; bills per second.
* ``process_cpu_seconds(pid)``, ``CpuMeter``: a process's own CPU time (utime + stime
  from /proc/<pid>/stat, all its threads) and the machine's busy CPU (/proc/stat), so a
  bench can report server CPU per sale and whether the server had a full core.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from _common import StoreDir

LINES_PER_BILL = 10
CASHIERS = (("Bench One", "3816", "C1"), ("Bench Two", "3691", "C2"),
            ("Bench Three", "5274", "C3"), ("Bench Four", "6049", "C4"))
MAX_TILLS = len(CASHIERS)
PHASES = ("scan", "pay panel", "tender", "complete", "new sale")
REQUESTS_PER_BILL = LINES_PER_BILL + len(PHASES) - 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- CPU time ------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def own_cpu_seconds() -> float:
    """This (bench client) process's user + system CPU so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, summed over CPUs."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class CpuSample:
    """CPU used between ``CpuMeter.start()`` and ``.stop()`` (seconds, and wall time)."""

    wall: float
    server: float
    client: float
    machine_busy: float
    cpus: int

    @property
    def server_cores(self) -> float:
        """Server CPU as a share of one core (1.0 = a full core)."""
        return self.server / self.wall if self.wall else float("nan")

    @property
    def others_cores(self) -> float:
        """Busy CPU that was neither the server nor this bench (other work on the box)."""
        return max(0.0, self.machine_busy - self.server - self.client) / self.wall \
            if self.wall else float("nan")


class CpuMeter:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count() or 1

    def start(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.s0 = process_cpu_seconds(self.pid)
        self.c0 = own_cpu_seconds()
        self.m0 = machine_busy_seconds()[0]
        return self

    def stop(self) -> CpuSample:
        return CpuSample(
            wall=time.perf_counter() - self.t0,
            server=process_cpu_seconds(self.pid) - self.s0,
            client=own_cpu_seconds() - self.c0,
            machine_busy=machine_busy_seconds()[0] - self.m0,
            cpus=self.cpus,
        )


# ---- the store's tills -----------------------------------------------------------------------


def prepare_tills(store: StoreDir, tills: int, timeout: float) -> None:
    """Give the store ``tills`` counters (C1..Cn) and one cashier per counter."""
    if not 1 <= tills <= MAX_TILLS:
        raise ValueError(f"1..{MAX_TILLS} tills")
    text = store.config.read_text(encoding="utf-8")
    counters = ", ".join(f'"C{i}"' for i in range(1, MAX_TILLS + 1))
    replaced, n = re.subn(r"(?m)^counters = \[[^\]]*\]", f"counters = [{counters}]", text)
    if n != 1:
        raise RuntimeError(f"no 'counters = [...]' line in {store.config}")
    store.config.write_text(replaced, encoding="utf-8")
    for name, pin, _counter in CASHIERS[:tills]:
        store.cli("user", "add", "--name", name, "--role", "cashier", "--pin", pin,
                  timeout=timeout)


def server_seconds(response: httpx.Response) -> float:
    """The app's own time from its Server-Timing header (see app/core/timing.py)."""
    match = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    if not match:
        raise RuntimeError("no Server-Timing header on the response")
    return float(match.group(1)) / 1000


class Till:
    """One signed-in cashier on one counter, speaking the till page's HTTP.

    ``server_s[phase]`` collects the Server-Timing of each request by phase; when a
    ``cpu_probe`` is given (one till alone), ``cpu_s[phase]`` collects the server
    process's CPU across each request, which sums to a fair split per phase.
    """

    def __init__(self, client: httpx.AsyncClient,
                 cpu_probe: Callable[[], float] | None = None) -> None:
        self.client = client
        self.cart = ""
        self.scan_s: list[float] = []
        self.scan_server_s: list[float] = []
        self.complete_s: list[float] = []
        self.server_s: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.cpu_s: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.cpu_probe = cpu_probe

    def reset_figures(self) -> None:
        """Forget what was measured so far (warm-up bills)."""
        self.scan_s.clear()
        self.scan_server_s.clear()
        self.complete_s.clear()
        self.server_s = dict.fromkeys(PHASES, 0.0)
        self.cpu_s = dict.fromkeys(PHASES, 0.0)

    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "x-csrftoken": self.client.cookies.get("csrftoken", "")}

    async def _timed(self, phase: str, send: Callable[[], object]) -> tuple[httpx.Response, float]:
        cpu0 = self.cpu_probe() if self.cpu_probe else 0.0
        start = time.perf_counter()
        r: httpx.Response = await send()  # type: ignore[misc]
        elapsed = time.perf_counter() - start
        if self.cpu_probe:
            self.cpu_s[phase] += self.cpu_probe() - cpu0
        self.server_s[phase] += server_seconds(r)
        return r, elapsed

    async def sign_in(self, name: str, pin: str, counter: str) -> None:
        page = (await self.client.get("/login")).text
        match = re.search(rf'value="([0-9a-f-]{{36}})"[^>]*>\s*<span class="tile-name">'
                          rf'{re.escape(name)}<', page)
        if not match:
            raise RuntimeError(f"user {name} not on the login page")
        r = await self.client.post("/login", data={
            "user_id": match.group(1), "pin": pin,
            "_csrf_token": self.client.cookies.get("csrftoken", "")})
        if "Hello," not in r.text:
            raise RuntimeError(f"sign-in failed for {name}: {r.status_code}")
        await self.client.post("/pos/shift/open", data={"counter": counter, "float": "1000"},
                               headers=self.headers())
        till = (await self.client.get("/pos")).text
        self.cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', till).group(1)

    async def ring_up(self, codes: Sequence[str]) -> None:
        """One bill: a scan per code, the pay panel, cash tendered, complete, new sale."""
        c, h = self.client, self.headers
        for code in codes:
            r, elapsed = await self._timed("scan", lambda code=code: c.post(
                "/pos/scan", data={"code": code, "cart_id": self.cart}, headers=h()))
            self.scan_s.append(elapsed)
            self.scan_server_s.append(server_seconds(r))
            if r.status_code != 200 or "alert-error" in r.text:
                raise RuntimeError(f"scan of {code} failed: {r.status_code} {r.text[:300]}")
        await self._timed("pay panel", lambda: c.get("/pos/pay", headers=h()))
        r, _ = await self._timed("tender", lambda: c.post("/pos/pay/tender", data={
            "cart_id": self.cart, "kind": "cash", "given": "100000"}, headers=h()))
        key = re.search(r'name="key" value="([^"]+)"', r.text)
        if not key:
            raise RuntimeError(f"payment not accepted: {r.text[:300]}")
        r, elapsed = await self._timed("complete", lambda: c.post("/pos/pay/complete", data={
            "cart_id": self.cart, "key": key.group(1)}, headers=h()))
        self.complete_s.append(elapsed)
        if "hx-redirect" not in r.headers:
            raise RuntimeError(f"sale not completed: {r.status_code} {r.text[:300]}")
        r, _ = await self._timed("new sale", lambda: c.get("/pos"))  # the "New sale" tap
        self.cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', r.text).group(1)


@dataclass
class TillRun:
    workers: list[Till]
    seconds: float  # wall time of the bills, sign-in excluded
    cpu: CpuSample  # over the same time


async def run_tills(base_url: str, codes: Sequence[str], sales: int, tills: int, seed: int,
                    server_pid: int, split_cpu: bool = False, warmup: int = 0,
                    lines: int = LINES_PER_BILL) -> TillRun:
    """``tills`` cashiers ring up ``sales`` bills of ``lines`` random codes between them.

    ``split_cpu`` (one till only) reads the server's CPU around every request.
    ``warmup``: bills each till rings up first, outside every figure (the server's first
    requests compile templates and statements: its first bill cost ~40 ms more CPU than
    the next ones on a busy box, ~1 ms on the CPU per sale of a 40-bill run).
    """
    rng = random.Random(seed)
    clients = [httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False,
                                 follow_redirects=True)
               for _ in range(tills)]
    probe = (lambda: process_cpu_seconds(server_pid)) if split_cpu and tills == 1 else None
    try:
        workers = [Till(c, probe) for c in clients]
        for till, (name, pin, counter) in zip(workers, CASHIERS, strict=False):
            await till.sign_in(name, pin, counter)
        bills = [[rng.choice(codes) for _ in range(lines)] for _ in range(sales)]
        for till in workers:
            for _ in range(warmup):
                await till.ring_up([rng.choice(codes) for _ in range(lines)])
            till.reset_figures()
        meter = CpuMeter(server_pid).start()
        start = time.perf_counter()

        async def work(k: int) -> None:
            for i in range(k, sales, tills):
                await workers[k].ring_up(bills[i])

        await asyncio.gather(*(work(k) for k in range(tills)))
        seconds = time.perf_counter() - start
        return TillRun(workers, seconds, meter.stop())
    finally:
        for c in clients:
            await c.aclose()
