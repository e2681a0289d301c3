"""Request ids and JSON log lines (app/core/logs.py)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from app.core.logs import REQUEST_ID, JsonLines, RequestIdFilter, request_id_middleware
from tests.conftest import ROOT

log = logging.getLogger("kirana.test_logs")


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonLines())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@get("/work", sync_to_thread=False)
def work() -> str:
    log.warning("working on it")
    return "ok"


@pytest.fixture
def app_and_lines():
    keep = Keep()
    log.addHandler(keep)
    try:
        yield Litestar([work], middleware=[request_id_middleware]), keep.lines
    finally:
        log.removeHandler(keep)


def test_each_request_gets_an_id_that_its_log_lines_carry(app_and_lines):
    app, lines = app_and_lines
    with TestClient(app) as client:
        first = client.get("/work").headers["x-request-id"]
        second = client.get("/work").headers["x-request-id"]
    assert len(first) == 32 and first != second
    assert [json.loads(line)["request_id"] for line in lines] == [first, second]
    assert REQUEST_ID.get() == "-"  # nothing leaks out of the request


@pytest.mark.parametrize(("given", "kept"), [
    ("proxy-7f3a9c2e1b", True), ("a" * 64, True),
    ("short", False), ("a" * 65, False), ("x\r\nSet-Cookie: a=b", False),
    ("<script>alert(1)</script>", False), ("ab cd efgh ij", False), ("", False)])
def test_a_proxys_id_is_kept_only_if_it_looks_like_one(app_and_lines, given, kept):
    app, _lines = app_and_lines
    with TestClient(app) as client:
        headers = {"X-Request-ID": given} if "\n" not in given else {}
        got = client.get("/work", headers=headers).headers.get_list("x-request-id")
    assert len(got) == 1
    assert (got[0] == given) is kept


def test_a_json_line_stays_one_line_whatever_the_message_holds():
    record = logging.LogRecord("kirana.web", logging.ERROR, __file__, 1,
                               'path %s', ('/x\n{"level": "INFO", "message": "forged"}\x00"',),
                               None)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    line = JsonLines().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"].endswith('"forged"}\x00"') and entry["level"] == "ERROR"
    assert "boom" in entry["exc"] and entry["request_id"] == "-"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_server_log_config_redacts_receipt_links_and_adds_the_id(fmt):
    code = f"""
import logging, logging.config
from app.core import log_redact
from app.core.logs import log_config, REQUEST_ID
log_redact.install()
logging.config.dictConfig(log_config({fmt!r}))
REQUEST_ID.set("req-12345678")
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "10.0.0.7", "GET",
                                         "/r/SECRETTOKEN123", "1.1", 200)
logging.getLogger("kirana").warning("printer %s out of paper", "counter-1")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "SECRETTOKEN" not in done.stderr and "/r/…" in lines[0]
    if fmt == "json":
        entries = [json.loads(line) for line in lines]
        assert [e["request_id"] for e in entries] == ["req-12345678"] * 2
        assert entries[1]["message"] == "printer counter-1 out of paper"
    else:
        assert all("[req-12345678]" in line for line in lines)
