"""docs/prometheus-alerts.yml names only metrics the store or the hub really exports, and
routes that exist: a renamed gauge must not silently switch an alert off. The exported
names come from the two /metrics registries themselves (exported_names, also used by
tests/unit/test_grafana_dashboard.py)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.config import parse_config, parse_hub_config
from app.ops.hub_metrics import HubMetrics
from app.ops.metrics import StoreMetrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b(kirana_[a-z_]+)")


def exported_names(which: str = "both") -> set[str]:
    """Every series name the store's (`store`), the hub's (`hub`) or either's /metrics
    may print: each family's name, and a histogram's _bucket, _count and _sum."""
    registries = []
    if which in ("store", "both"):
        cfg = parse_config((ROOT / "store_config" / "store.toml").read_text())
        registries.append(StoreMetrics(cfg).registry)
    if which in ("hub", "both"):
        hub_cfg = parse_hub_config((ROOT / "store_config" / "hub.toml").read_text())
        registries.append(HubMetrics(hub_cfg).registry)
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.add(family.name)
            if family.type == "histogram":
                names |= {f"{family.name}_{end}" for end in ("bucket", "count", "sum")}
    return names


def unknown_metrics(exprs: list[str], exported: set[str]) -> set[str]:
    return {name for e in exprs for name in METRIC.findall(e)} - exported


def _groups() -> dict[str, list[str]]:
    rules = yaml.safe_load((ROOT / "docs" / "prometheus-alerts.yml").read_text())
    return {g["name"]: [r["expr"] for r in g["rules"]] for g in rules["groups"]}


def test_every_metric_in_the_alert_rules_is_exported():
    groups = _groups()
    assert set(groups) == {"kirana-store", "kirana-hub"}
    assert len(groups["kirana-store"]) >= 8 and len(groups["kirana-hub"]) >= 8
    for group, which in (("kirana-store", "store"), ("kirana-hub", "hub")):
        used = {name for e in groups[group] for name in METRIC.findall(e)}
        assert used, group
        assert not unknown_metrics(groups[group], exported_names(which)), group


def test_every_route_in_the_alert_rules_exists():
    from app.hub import channel_api
    from app.pos import routes as pos_routes

    for group, handlers in (("kirana-store", pos_routes.ROUTES),
                            ("kirana-hub", channel_api.ROUTES)):
        routes = {r for e in _groups()[group] for r in re.findall(r'route="([^"]+)"', e)}
        paths = {p for h in handlers for p in h.paths}
        assert routes and routes <= paths, (group, routes - paths)


def test_the_check_catches_a_renamed_metric():
    exported = exported_names()
    assert "kirana_hub_orders_late" in exported and "kirana_request_seconds_bucket" in exported
    assert not unknown_metrics(["max(kirana_hub_orders_late) > 0"], exported)
    assert unknown_metrics(["max(kirana_hub_orders_overdue) > 0"], exported) == {
        "kirana_hub_orders_overdue"}
    # a store's name is not the hub's: each group is checked against its own server
    assert unknown_metrics(["kirana_orders_late > 0"], exported_names("hub")) == {
        "kirana_orders_late"}
