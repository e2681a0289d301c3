"""The print queue: which printer gets a document, and the job list managers act on.

This is printing's API for other features: ``print_document`` renders a document with
the store's templates (documents.py owns the registry) and queues it on the printers
that print it; ``render`` gives the layout alone. Jobs are written inside the caller's
transaction (a sale and its receipt commit together). Each printer's worker (worker.py)
sends its jobs strictly in order. Printing imports no other feature: the till, picking
and the rest pass their data in (GST rows from ``app.core.gst`` included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select

from app.config import PrinterSection, StoreConfig
from app.core.clock import utcnow
from app.core.db import Database, Session, Tx, written
from app.core.i18n import N_, _, use_language
from app.core.ids import uuid7
from app.core.prepared import Prepared
from app.printing import status as st
from app.printing.documents import templates_for
from app.printing.html_render import to_html
from app.printing.layout import parse_layout
from app.printing.models import PrintJob


class PrintError(ValueError):
    pass


def printers_for(cfg: StoreConfig, document: str, counter: str = "") -> list[PrinterSection]:
    """Printers that print `document` for `counter` (no documents/counters listed = all)."""
    return [
        p for p in cfg.printers
        if (not p.documents or document in p.documents)
        and (not counter or not p.counters or counter in p.counters)
    ]


def printer_named(cfg: StoreConfig, name: str) -> PrinterSection:
    for p in cfg.printers:
        if p.name == name:
            return p
    raise PrintError(_("there is no printer %(name)s") % {"name": repr(name)})


def enqueue(s: Session, printer: str, document: str, layout: str, *, ref: str = "",
            title: str = "", duplicate: bool = False) -> PrintJob:
    """Add a job to the caller's transaction."""
    values: dict[str, Any] = dict(
        id=uuid7(), printer=printer, document=document, ref=ref, title=title[:80],
        layout=layout, duplicate=duplicate, status="queued", attempts=0, last_error="",
        created_at=utcnow())
    if isinstance(s, Tx):  # the store: on its sqlite3 connection, no ORM Session (issue #15)
        values["seq"] = _INSERT_JOB.run_now(s, {**values, "seq": None, "sent_at": None}
                                            ).lastrowid
        return written(PrintJob, {**values, "sent_at": None})
    job = PrintJob(**values)
    s.add(job)
    return job


_INSERT_JOB = Prepared.insert(cast(Table, PrintJob.__table__))


def render(cfg: StoreConfig, document: str, **context: Any) -> str:
    """Layout text of `document` from the store's templates (its override when it works)."""
    return templates_for(cfg).render(document, **context)


def document_language(cfg: StoreConfig, document: str) -> tuple[str, bool]:
    """(language, bilingual) a document speaks: the e-receipt page shows the receipt in
    the receipt's (`[printing] receipt_language`)."""
    return templates_for(cfg).language(document)


def template_problems(cfg: StoreConfig) -> dict[str, str]:
    """Broken store overrides seen so far (template name -> what is wrong), for managers."""
    return templates_for(cfg).problems


def print_document(s: Session, cfg: StoreConfig, document: str, *, counter: str = "",
                   ref: str = "", title: str = "", duplicate: bool = False,
                   **context: Any) -> list[PrintJob]:
    """Queue `document` on every printer that prints it for `counter`, in the caller's
    transaction; rendered once (`duplicate` is in the template's context too), and not at
    all when no printer wants it."""
    targets = printers_for(cfg, document, counter)
    if not targets:
        return []
    layout = render(cfg, document, duplicate=duplicate, **context)
    return [enqueue(s, p.name, document, layout, ref=ref, title=title, duplicate=duplicate)
            for p in targets]


async def send_test_page(db: Database, cfg: StoreConfig, name: str) -> PrintJob:
    """The printers page's test page for printer `name` (PrintError if there is none)."""
    printer = printer_named(cfg, name)
    layout = render(cfg, "test", printer=printer, at=utcnow())
    async with db.write() as s:
        return enqueue(s, printer.name, "test", layout, title="Test page")


async def jobs(db: Database, printer: str | None = None, limit: int = 50) -> list[PrintJob]:
    stmt = select(PrintJob).order_by(PrintJob.seq.desc()).limit(limit)
    if printer:
        stmt = stmt.where(PrintJob.printer == printer)
    async with db.read() as s:
        return list(await s.scalars(stmt))


async def jobs_for(db: Database, ref: str) -> list[PrintJob]:
    async with db.read() as s:
        return list(await s.scalars(select(PrintJob).where(PrintJob.ref == ref)
                                    .order_by(PrintJob.seq)))


def preview_html(layout: str, columns: int) -> str:
    """A job's layout as an HTML fragment that looks like the paper it prints on."""
    return to_html(parse_layout(layout), columns=columns)


def paper_preview(cfg: StoreConfig, jobs: list[PrintJob]) -> str:
    """The paper of the first of `jobs` queued on a "preview" printer (a store without a
    real printer sees its receipt on screen); "" when none of them is."""
    columns = {p.name: p.columns for p in cfg.printers if p.kind == "preview"}
    return next((preview_html(j.layout, columns[j.printer])
                 for j in jobs if j.printer in columns), "")


async def get_job(db: Database, job_id: str) -> PrintJob | None:
    async with db.read() as s:
        return await s.scalar(select(PrintJob).where(PrintJob.id == job_id))


async def queue_depth(db: Database) -> dict[str, int]:
    async with db.read() as s:
        rows = await s.execute(select(PrintJob.printer, func.count()).where(
            PrintJob.status.in_(("queued", "sending"))).group_by(PrintJob.printer))
        return dict(rows.all())


@dataclass(frozen=True)
class PrinterAlert:
    printer: str
    reason: str
    waiting: int
    text: str  # "Printer counter-1: out of paper — 2 receipts waiting."
    next_step: str  # "Load a new roll; the receipts will print by themselves."


async def printer_alerts(db: Database, cfg: StoreConfig, states: dict[str, Any],
                         counter: str, document: str = "receipt") -> list[PrinterAlert]:
    """Problems of the printers that print `document` at `counter`, for the till's banner.
    `states` is the print queue's PrinterState per printer name."""
    troubled = [(p, states[p.name]) for p in printers_for(cfg, document, counter)
                if p.name in states and states[p.name].reason in st.PROBLEMS]
    if not troubled:
        return []
    depth = await queue_depth(db)
    return [PrinterAlert(p.name, state.reason, depth.get(p.name, 0),
                         st.banner(p.name, state.reason, depth.get(p.name, 0), document),
                         st.next_step(state.reason)) for p, state in troubled]


async def _job(s: Session, job_id: str) -> PrintJob:
    job = await s.scalar(select(PrintJob).where(PrintJob.id == job_id))
    if job is None:
        raise PrintError(_("no such print job"))
    return job


async def retry(db: Database, job_id: str) -> PrintJob:
    """A failed or cancelled job goes back in the queue (keeping its place by seq)."""
    async with db.write() as s:
        job = await _job(s, job_id)
        if job.status not in ("failed", "cancelled"):
            raise PrintError(_("only a failed or cancelled job can be retried (this one is "
                               "%(status)s); use Reprint for a copy")
                             % {"status": st.job_status(job.status)})
        job.status, job.last_error = "queued", ""
        return job


async def cancel(db: Database, job_id: str) -> PrintJob:
    async with db.write() as s:
        job = await _job(s, job_id)
        if job.status not in ("queued", "failed"):
            raise PrintError(_("a %(status)s job cannot be cancelled")
                             % {"status": st.job_status(job.status)})
        job.status = "cancelled"
        return job


async def reprint(db: Database, job_id: str, cfg: StoreConfig | None = None) -> PrintJob:
    """A new job with the same layout, marked DUPLICATE at the top (done or sent jobs);
    with the store's `cfg`, the mark is in the document's language (issue #22)."""
    async with db.write() as s:
        job = await _job(s, job_id)
        line = DUPLICATE_LINE
        if cfg is not None:
            code, bilingual = document_language(cfg, job.document)
            with use_language(code, bilingual=bilingual):
                line = f"[c][b]*** {_('DUPLICATE')} ***\n"
        return enqueue(s, job.printer, job.document,
                       mark_duplicate(without_one_time_codes(job.layout), line), ref=job.ref,
                       title=job.title, duplicate=True)


# The words a job's title starts with, as each feature wrote it (English, kept so): the
# printers page shows them in the reader's language (job_title, issue #22).
TITLE_WORDS = (N_("Receipt"), N_("Refund"), N_("Packing slip"), N_("Bag"), N_("Mark-down"),
               N_("Test page"), N_("X report"), N_("Z report"))
_COPY = " (copy)"


def job_title(job: PrintJob) -> str:
    """A job's title for the printers page, its opening words and "(copy)" translated."""
    title = job.title or job.document
    for words in TITLE_WORDS:
        if title == words or title.startswith(words + " "):
            title = _(words) + title[len(words):]
            break
    if title.endswith(_COPY):
        title = title[:-len(_COPY)] + " " + _("(copy)")
    return title


DUPLICATE_LINE = "[c][b]*** DUPLICATE ***\n"
# Codes printed once that spend value: exchange credit notes (made by the till's refunds).
# Once a job is printed, and in any reprint, they are taken out of the stored layout.
ONE_TIME_CODE = re.compile(r"CN(?:-[0-9A-Z]{4}){4}")


def without_one_time_codes(layout: str) -> str:
    """The layout with credit note codes removed: their QR/barcode lines dropped, the text
    replaced by a note that the code is on the original slip only."""
    if not ONE_TIME_CODE.search(layout):
        return layout
    kept = []
    for line in layout.splitlines(keepends=True):
        if ONE_TIME_CODE.search(line):
            if "[qr" in line or "[barcode]" in line:
                continue
            line = ONE_TIME_CODE.sub("(code on the original slip only)", line)
        kept.append(line)
    return "".join(kept)


def mark_duplicate(layout: str, line: str = DUPLICATE_LINE) -> str:
    return layout if layout.startswith((DUPLICATE_LINE, line)) else line + layout
