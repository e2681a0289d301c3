"""Schema fuzzing with schemathesis: every operation of an app's OpenAPI document gets
generated requests (valid and invalid), sent in-process through the test client, and no
answer may be a 5xx (schemathesis' ``not_a_server_error`` check).

Bounded twice: a number of examples per operation and a wall-clock budget for the whole
run, so the test takes well under a minute; hypothesis is derandomized, so a run is
repeatable. For a deeper run, raise KIRANA_FUZZ_EXAMPLES and KIRANA_FUZZ_SECONDS.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("KIRANA_FUZZ_EXAMPLES", "25"))
SECONDS = float(os.environ.get("KIRANA_FUZZ_SECONDS", "40"))
FLOOR = 3  # requests per operation once the time budget is spent


# The API also answers only statuses its document lists, with the bodies it shows.
API_CHECKS = (status_code_conformance, response_schema_conformance)


@dataclass
class FuzzRun:
    operations: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    requests_by_operation: dict[str, int] = field(default_factory=dict)


def fuzz(client: Any, document: dict, *, machine: dict[str, str], skip: re.Pattern,
         examples: int = EXAMPLES, seconds: float = SECONDS) -> FuzzRun:
    """Fuzz every operation of `document` not matching `skip` through `client` (a
    signed-in litestar TestClient). /api/ operations carry `machine` (a bearer key);
    others ride on the client's session with its CSRF token."""
    schema = schemathesis.openapi.from_dict(document)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if not skip.search(f"{op.method.upper()} {op.path}")]
    run = FuzzRun(operations=len(operations))
    end = time.monotonic() + seconds
    for op in operations:
        if time.monotonic() > end:
            # Out of time (a loaded CI machine): every operation still gets a few
            # requests, so a slow run tests less but never skips an operation (skipping
            # made the run's result depend on the machine's load).
            _fuzz_one(client, op, machine, run, FLOOR, float("inf"))
        else:
            _fuzz_one(client, op, machine, run, examples, end)
        if not run.requests_by_operation.get(f"{op.method.upper()} {op.path}"):
            run.not_reached.append(f"{op.method.upper()} {op.path}")
    return run


def _fuzz_one(client: Any, op: Any, machine: dict[str, str], run: FuzzRun, examples: int,
              end: float) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(case=op.as_strategy())
    def one(case: Any) -> None:
        if time.monotonic() < end:
            _send(client, case, op, machine, run)

    one()


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, (str, bytes)) else json.dumps(value)


def _send(client: Any, case: Any, op: Any, machine: dict[str, str], run: FuzzRun) -> None:
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items()
               if k.lower() not in ("connection", "accept-encoding", "cookie")}
    if op.path.startswith("/api/"):
        headers.update(machine)
    else:
        headers["x-csrftoken"] = client.cookies.get("csrftoken", "")
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        body["content"] = data
    elif data is not None:
        body["data"] = {k: _text(v) for k, v in data.items()}
    if kwargs.get("files"):
        # requests' (None, value) form fields; httpx wants text or bytes, and its own boundary
        body["files"] = [(name, (part[0], _text(part[1]), *part[2:]))
                         for name, part in kwargs["files"]]
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    response = client.request(kwargs["method"], kwargs["url"], headers=headers,
                              params=kwargs.get("params") or None, follow_redirects=False,
                              **body)
    run.requests += 1
    name = f"{op.method.upper()} {op.path}"
    run.requests_by_operation[name] = run.requests_by_operation.get(name, 0) + 1
    run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
    try:
        case.validate_response(response, checks=[not_a_server_error, *(
            API_CHECKS if op.path.startswith("/api/") else ())])
    except BaseException as exc:  # a FailureGroup: collected, the test reports them all
        if isinstance(exc, KeyboardInterrupt):
            raise
        if len(run.failures) < 20:
            sent = {k: (v if len(repr(v)) < 300 else repr(v)[:300] + "…")
                    for k, v in body.items()}
            found = "; ".join(str(e).splitlines()[0] for e in getattr(exc, "exceptions", [exc]))
            run.failures.append(f"{op.method.upper()} {kwargs['url']} -> "
                                f"{response.status_code} ({found}): {response.text[:200]} | "
                                f"sent {sent}")
