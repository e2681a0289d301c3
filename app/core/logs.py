"""Logs an operator can search (issue #23, docs/deploy.md): a request id on every
request and every line logged while it runs, and JSON lines when configured.

- Each HTTP request gets an id: the `X-Request-ID` a reverse proxy sent, if it looks
  like one (8-64 letters, digits, `-`, `_`, `.`), else a new one. The answer carries it
  back in `X-Request-ID`, and every log record made while the request runs (uvicorn's
  access line included) has it as `request_id`: a cashier's "it said error at 18:42"
  becomes one grep.
- `server.log_format = "json"` writes one JSON object per line (`ts`, `level`,
  `logger`, `message`, `request_id`, and `exc` for a traceback): newlines, quotes and
  control characters in a message stay inside their string, so a hostile path cannot
  forge a log line. "text" (the default) keeps uvicorn's human lines with the id added.
  The receipt-token filter (core/log_redact.py) runs before either.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("kirana_request_id",
                                                                 default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = b"x-request-id"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                given = value.decode("latin-1")
                break
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                headers.append((HEADER, rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)

    return middleware


class RequestIdFilter(logging.Filter):
    """Puts the running request's id on every record (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's `log_config`: every logger (uvicorn's, Litestar's, Kirana's) through
    one handler on stderr with the request id, as JSON lines or as text."""
    formatter = ({"()": "app.core.logs.JsonLines"} if log_format == "json"
                 else {"format": TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "app.core.logs.RequestIdFilter"}},
        "formatters": {"kirana": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "kirana",
                                "filters": ["request_id"], "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }
