"""Reports for managers: fulfilment timings with charts (orders per hour against the
promised time, minutes per step), pickers' productivity, and their CSV."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.svg_charts import bar_chart
from app.core.web import current_user, page
from app.reports import fulfilment

MANAGER = requires("manager")


def _hours(request: Request) -> int:
    text = request.query_params.get("hours", "24")
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 24 * 31 else 24


@get("/reports/fulfilment", guards=[MANAGER])
async def fulfilment_page(request: Request) -> Template:
    hours = _hours(request)
    timings, pickers = await fulfilment.load(request.app.state.db,
                                             fulfilment.period_start(utcnow(), hours))
    averages = fulfilment.stage_averages(timings)
    longest = max((avg for _l, avg, _n in averages if avg), default=0) or 1
    done = [t for t in timings if t.on_time is not None]
    by_hour = fulfilment.orders_by_hour(timings, request.app.state.cfg.tz)
    hour_chart = bar_chart([f"{r.hour:02d}" for r in by_hour], [r.on_time for r in by_hour],
                           previous=[r.received for r in by_hour],
                           names=(_("Handed over on time"), _("Orders received")),
                           title=_("Online orders per hour of day, and how many met the "
                                   "promised time"))
    return page(request, "reports/fulfilment.html", user=current_user(request), hours=hours,
                timings=timings, pickers=pickers, averages=averages, longest=longest,
                on_time=sum(1 for t in done if t.on_time), finished=len(done),
                by_hour=by_hour, hour_chart=hour_chart)


@get("/reports/fulfilment.csv", guards=[MANAGER])
async def fulfilment_csv(request: Request) -> Response:
    timings, _pickers = await fulfilment.load(request.app.state.db,
                                              fulfilment.period_start(utcnow(), _hours(request)))
    return Response(fulfilment.orders_csv(timings), media_type="text/csv",
                    headers={"Content-Disposition":
                             'attachment; filename="kirana-fulfilment.csv"'})


ROUTES = [fulfilment_page, fulfilment_csv]
