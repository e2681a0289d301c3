"""What a printer said about itself, in plain words. Pure: no I/O.

ESC/POS real-time status (DLE EOT n = 0x10 0x04 n) is answered with one byte per
request, in order after the data sent before it, so a reply that follows a job's
bytes proves the printer consumed them. We ask three things at once:

* n=1 printer status: bit 3 (0x08) offline;
* n=2 offline cause: bit 2 (0x04) cover open, bit 5 (0x20) stopped at paper end,
  bit 6 (0x40) an error (cutter jam, overheating ...);
* n=4 paper sensor: bits 2-3 (0x0C) roll near its end, bits 5-6 (0x60) paper end.

Every reply byte has bits 1 and 4 set and bits 0 and 7 clear (0x12 under mask 0x93).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.i18n import N_, gettext, ngettext

STATUS_REQUEST = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"
REPLY_BYTES = 3
_REQUEST_IN_DATA = re.compile(rb"\x10\x04[\x01-\x04]")

# Reason codes (PrinterState.reason), with what the till and printers page say.
READY = "ready"
PAPER_OUT = "paper_out"
COVER_OPEN = "cover_open"
ERROR = "error"
OFFLINE = "offline"
NOT_RESPONDING = "not_responding"  # connects (or connected) but does not answer
UNREACHABLE = "unreachable"  # refuses or times out the connection
UNCONFIRMED = "unconfirmed"  # a kind that cannot report: jobs are "sent, not confirmed"
PROBLEMS = (PAPER_OUT, COVER_OPEN, ERROR, OFFLINE, NOT_RESPONDING, UNREACHABLE)

# English here, translated when shown (headline, next_step, banner: issue #22).
_HEADLINE = {
    PAPER_OUT: N_("out of paper"),
    COVER_OPEN: N_("cover open"),
    ERROR: N_("printer error"),
    OFFLINE: N_("offline"),
    NOT_RESPONDING: N_("not responding"),
    UNREACHABLE: N_("cannot be reached"),
}
_NEXT_STEP = {
    PAPER_OUT: N_("Load a new roll; the receipts will print by themselves."),
    COVER_OPEN: N_("Close the printer's cover; the receipts will print by themselves."),
    ERROR: N_("Check the printer (paper jam, cutter); switch it off and on if the light "
              "keeps blinking. The receipts will print by themselves."),
    OFFLINE: N_("Check the printer's paper and cover; the receipts will print by themselves."),
    NOT_RESPONDING: N_("Check for a paper jam or an open cover, or switch the printer off "
                       "and on; the receipts will print by themselves."),
    UNREACHABLE: N_("Check that the printer is on and its cable is in; the receipts will "
                    "print by themselves."),
}
# A job's status as the printers page shows it.
JOB_STATUS = {"queued": N_("queued"), "sending": N_("sending"), "sent": N_("sent"),
              "done": N_("done"), "failed": N_("failed"), "cancelled": N_("cancelled")}


@dataclass(frozen=True)
class Status:
    reason: str  # READY or one of PROBLEMS
    paper_low: bool = False

    @property
    def ready(self) -> bool:
        return self.reason == READY


def is_reply_byte(b: int) -> bool:
    return b & 0x93 == 0x12


def decode(printer: int, cause: int, paper: int) -> Status:
    """The three reply bytes of STATUS_REQUEST, in order."""
    low = bool(paper & 0x0C)
    if paper & 0x60 or cause & 0x20:
        return Status(PAPER_OUT, low)
    if cause & 0x04:
        return Status(COVER_OPEN, low)
    if cause & 0x40:
        return Status(ERROR, low)
    if printer & 0x08:
        return Status(OFFLINE, low)
    return Status(READY, low)


def requests_in(data: bytes) -> int:
    """Status requests a printer finds inside the job's own bytes (raster images can hold
    0x10 0x04 n by chance); it answers them too, before ours."""
    return len(_REQUEST_IN_DATA.findall(data))


def headline(reason: str) -> str:
    text = _HEADLINE.get(reason, "")
    return gettext(text) if text else ""


def next_step(reason: str) -> str:
    text = _NEXT_STEP.get(reason, "")
    return gettext(text) if text else ""


def job_status(status: str) -> str:
    """A print job's status in the language in force ("done" -> "छप गया")."""
    text = JOB_STATUS.get(status)
    return gettext(text) if text else status


def banner(printer: str, reason: str, waiting: int, document: str = "receipt") -> str:
    """'counter-1: out of paper — 2 receipts waiting.' (empty when all is well)."""
    if reason not in PROBLEMS:
        return ""
    if document == "receipt":  # the till's banner: a sentence a translator can word
        what = (ngettext("%(num)d receipt waiting", "%(num)d receipts waiting", waiting)
                % {"num": waiting} if waiting else gettext("no receipts waiting"))
    else:
        what = f"{waiting} {document}{'' if waiting == 1 else 's'} waiting" if waiting else (
            f"no {document}s waiting")
    return gettext("Printer %(printer)s: %(problem)s — %(waiting)s.") % {
        "printer": printer, "problem": headline(reason), "waiting": what}


# A job's last_error is stored in English (the worker runs in no one's language); these
# turn the worker's and the transport's sentences into the reader's language when shown.
_REASONS = (
    (re.compile(r"printer at (?P<where>.+) refused the connection \(off, or another port\?\)"),
     N_("printer at %(where)s refused the connection (off, or another port?)")),
    (re.compile(r"printer at (?P<where>.+) did not answer \(off, or not on this network\?\)"),
     N_("printer at %(where)s did not answer (off, or not on this network?)")),
    (re.compile(r"the printer closed the connection before it answered"),
     N_("the printer closed the connection before it answered")),
    (re.compile(r"not responding: the printer takes the connection but does not answer "
                r"\(paper jam, cover open\?\)"),
     N_("not responding: the printer takes the connection but does not answer "
        "(paper jam, cover open?)")),
    (re.compile(r"not responding: the printer has not confirmed the job; waiting for it"),
     N_("not responding: the printer has not confirmed the job; waiting for it")),
    (re.compile(r"not responding: the printer has not confirmed (?P<title>.+); waiting for it"),
     N_("not responding: the printer has not confirmed %(title)s; waiting for it")),
    (re.compile(r"(?P<reason>.+), (?P<num>[0-9]+) times; it may have printed: check the "
                r"printer, then Retry or Reprint"),
     N_("%(reason)s, %(num)s times; it may have printed: check the printer, then Retry or "
        "Reprint")),
    (re.compile(r"(?P<reason>.+); the job will be sent again"),
     N_("%(reason)s; the job will be sent again")),
    (re.compile(r"layout: (?P<reason>.*)", re.S), N_("layout: %(reason)s")),
)


def job_error(text: str) -> str:
    """A job's stored (English) last_error in the language in force; text it does not
    know (an exception's own words, one cut at 300 characters) shows as it is."""
    if not text:
        return text
    for reason, head in _HEADLINE.items():
        step = _NEXT_STEP[reason]
        if text == f"{head}: {step}":
            return f"{headline(reason)}: {next_step(reason)}"
        if text == f"{head} while printing this; it will be printed again in full":
            return gettext("%(problem)s while printing this; it will be printed again in "
                           "full") % {"problem": headline(reason)}
    for pattern, message in _REASONS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        found = match.groupdict()
        if "reason" in found and pattern.pattern != _REASONS[-1][0].pattern:
            found["reason"] = job_error(found["reason"])
        return gettext(message) % found
    return text
