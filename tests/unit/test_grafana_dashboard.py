"""docs/grafana-dashboard.json cannot drift from what the servers export: every query
names only metrics the store's or the hub's /metrics prints (the registries' own names,
tests/unit/test_alert_rules.exported_names), and every metric either exports is on some
panel. A renamed gauge fails here, not on a blank panel in production."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_alert_rules import METRIC, exported_names, unknown_metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


def panels(dashboard: dict) -> list[dict]:
    """Every panel, the ones inside collapsed rows too."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def queries(dashboard: dict) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]


def test_the_dashboard_loads_and_every_panel_has_a_query():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    graphs = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        assert panel.get("targets") and all(t["expr"].strip() for t in panel["targets"]), \
            panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in dashboard["templating"]["list"]}
    used = {v for e in queries(dashboard) for v in ("store_job", "hub_job", "store")
            if f"${v}" in e}
    assert used <= names


def test_every_query_names_exported_metrics_and_every_metric_is_shown():
    exprs = queries(json.loads(DASHBOARD.read_text()))
    exported = exported_names()
    assert not unknown_metrics(exprs, exported)
    shown = {name for e in exprs for name in METRIC.findall(e)}
    # each family at least once (a histogram through its _bucket, _count or _sum)
    families = {n for n in exported if not n.endswith(("_bucket", "_count", "_sum"))}
    missing = {f for f in families
               if not {f, f"{f}_bucket", f"{f}_count", f"{f}_sum"} & shown}
    assert not missing, missing
    assert {"kirana_outbox_unsent", "kirana_hub_orders_late"} <= shown


def test_a_renamed_metric_in_the_dashboard_is_caught():
    dashboard = json.loads(DASHBOARD.read_text())
    target = next(p for p in panels(dashboard) if p.get("targets"))["targets"][0]
    target["expr"] = target["expr"].replace("kirana_", "kirana_renamed_", 1)
    assert unknown_metrics(queries(dashboard), exported_names())
