"""Keep bearer-like secrets in URLs out of the logs (ASVS 4.0.3 V7.1.1, V8.3.x).

An e-receipt link (`/r/<token>`) is the only thing that lets anyone read a customer's bill,
so the access log (uvicorn prints every request's path) and error logs show it as
`/r/…`. The filter rewrites a record's message and arguments before any handler sees it.
"""

from __future__ import annotations

import logging
import re

RECEIPT_PATH = re.compile(r"/r/[^\s/?#\"']+")
REDACTED = "/r/…"
# uvicorn's access log, its error log, Litestar's and Kirana's own (a 500 logs the path).
LOGGERS = ("uvicorn.access", "uvicorn.error", "litestar", "kirana.web")


# A loyalty search carries a customer's whole number or card (`/loyalty?q=`,
# `/hub/loyalty?q=`): the query's value is left out of the logs (#21 review 9).
LOYALTY_QUERY = re.compile(r"(/loyalty\?(?:[^\s#\"']*&)?q=)[^\s&#\"']*")


def redact(text: str) -> str:
    return LOYALTY_QUERY.sub(r"\1…", RECEIPT_PATH.sub(REDACTED, text))


class RedactReceiptTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


def install() -> None:
    """Attach the filter to the loggers that print request paths (once each)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactReceiptTokens) for f in logger.filters):
            logger.addFilter(RedactReceiptTokens())
