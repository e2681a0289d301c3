"""/metrics (issue #23), the store's and the hub's: Prometheus scrapes it with an API key
of scope `metrics` (`kirana apikey create --name prometheus --scope metrics`, at the hub
`kirana hub metrics-key`); an admin signed in may read it in the browser. The figures
are made in app/ops/metrics.py (store) and app/ops/hub_metrics.py (hub)."""

from __future__ import annotations

from litestar import Request, Response, get

from app.core.auth import api_access
from app.ops.metrics import CONTENT_TYPE


@get("/metrics", guards=[api_access("metrics", "admin")], include_in_schema=False,
     cache_control=None)
async def metrics(request: Request) -> Response:
    body = await request.app.state.metrics.render(request.app.state.db)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


ROUTES = [metrics]
