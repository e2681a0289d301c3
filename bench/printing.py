"""Printing benchmark: receipt rendering and print-queue throughput.

* render: a 30-line sale receipt (tax table, CODE128 barcode, QR code) from the
  receipt template to ESC/POS bytes, as the printer worker does for every job;
* queue: N jobs through the real PrintQueue worker to a TCP sink on 127.0.0.1
  (one connection per job, as to a LAN printer on port 9100): jobs per second,
  each confirmed by the printer's status reply before and after the job.

Run: .venv/bin/python bench/printing.py [--renders 200 --jobs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import busy_warning, format_table, machine_info, summarize

from app.config import parse_config
from app.core import migrate
from app.core.db import Database
from app.pos.receipts import receipt_layout
from app.printing import service as printing
from app.printing.models import PrintJob
from app.printing.worker import PrintQueue, render_job

REPO = Path(__file__).resolve().parent.parent
TARGET_RENDER_MS = 20.0


def fake_sale(lines: int) -> SimpleNamespace:
    sale_lines = [SimpleNamespace(
        name=f"Product number {i} with a longish name 500 g", quantity=1 + i % 3, unit="piece",
        unit_price_minor=4550 + i, net_minor=(4550 + i) * (1 + i % 3), discount_minor=0,
        gross_minor=(4550 + i) * (1 + i % 3),
        gst_rate_bp=(0, 500, 1800)[i % 3], tax_minor=300, cgst_minor=150, sgst_minor=150,
        igst_minor=0, hsn="1006", mrp_minor=(4800 + i) if i % 2 else None,
    ) for i in range(lines)]
    return SimpleNamespace(
        number="S1-000123", at=datetime.now(UTC), counter="C1", lines=sale_lines,
        discount_minor=500, rounding_minor=-20, total_minor=sum(x.net_minor for x in sale_lines),
        tenders=[SimpleNamespace(kind="cash", reference="", given_minor=500000,
                                 amount_minor=400000)],
        change_minor=1000, receipt_token="t" * 32, id="bench", doc_kind="b2c",
        buyer_gstin="", buyer_name="", buyer_address="", place_of_supply="",
        invoice_number=None,
    )


class Sink:
    def __init__(self) -> None:
        self.jobs = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                tail = b""
                while data := conn.recv(65536):
                    # Answer each status request (DLE EOT n) "ready", as a printer does.
                    scan = tail + data
                    replies = scan.count(b"\x10\x04") - tail.count(b"\x10\x04")
                    if replies:
                        conn.sendall(b"\x12" * replies)
                    tail = scan[-2:]
            self.jobs += 1


async def queue_throughput(root: Path, jobs: int, layout: str) -> float:
    sink = Sink()
    text = (REPO / "store_config" / "store.toml").read_text()
    text = text.replace('path = "../var/s1/store.db"', 'path = "store.db"').replace(
        'data_dir = "../var/s1"', 'data_dir = "var"').replace(
        'kind = "preview"               # network | usb | serial | file | cups | preview',
        f'kind = "network"\nhost = "127.0.0.1"\nport = {sink.port}')
    cfg = parse_config(text, source="bench.toml", base_dir=str(root))
    migrate.upgrade(cfg.database_path)
    db = Database(cfg.database_path)
    async with db.write() as s:
        for i in range(jobs):
            printing.enqueue(s, "counter-1", "receipt", layout, title=f"bench {i}")
    queue = PrintQueue(db, cfg)
    start = time.perf_counter()
    await queue.start()
    try:
        while True:
            async with db.read() as s:
                from sqlalchemy import func, select
                left = await s.scalar(select(func.count()).select_from(PrintJob).where(
                    PrintJob.status != "done"))
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        await queue.stop()
        await db.dispose()
        sink.stop = True
    return jobs / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--renders", type=int, default=200)
    p.add_argument("--jobs", type=int, default=300)
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args(argv)
    print(f"Kirana printing bench, {datetime.now(UTC).date().isoformat()}")
    print(format_table(["machine", ""], machine_info(("python-escpos", "qrcode", "Pillow")),
                       numeric=False))
    warning = busy_warning()
    if warning:
        print(warning)
    cfg = parse_config((REPO / "store_config" / "store.toml").read_text(), source="bench")
    printer = cfg.printers[0]
    sale = fake_sale(30)
    timings_layout, timings_bytes = [], []
    for _ in range(args.renders):
        t0 = time.perf_counter()
        layout = receipt_layout(cfg, sale, "Asha")
        t1 = time.perf_counter()
        data = render_job(printer, layout)
        t2 = time.perf_counter()
        timings_layout.append(t1 - t0)
        timings_bytes.append(t2 - t0)
    lay, full = summarize(timings_layout), summarize(timings_bytes)
    root = Path(tempfile.mkdtemp(prefix="kirana-bench-print-"))
    try:
        rate = asyncio.run(queue_throughput(root, args.jobs, layout))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = [
        ["receipt template -> layout text (30 lines)", lay.p50, lay.p90, lay.p99, ""],
        ["-> ESC/POS bytes incl. QR + barcode", full.p50, full.p90, full.p99, ""],
        [f"queue -> TCP sink, jobs/s ({args.jobs} jobs)", "", "", "", rate],
    ]
    headers = ["measure", "p50 ms", "p90 ms", "p99 ms", "rate"]
    print(f"\nreceipt: {len(data):,} bytes")
    print(format_table(headers, rows))
    if args.markdown:
        print()
        print(format_table(headers, rows, markdown=True))
    verdict = "meets" if full.p99 < TARGET_RENDER_MS else "MISSES"
    print(f"\nrender p99 {full.p99:.1f} ms {verdict} the {TARGET_RENDER_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
