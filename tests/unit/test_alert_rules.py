"""docs/prometheus-alerts.yml names only metrics the store really exports, and routes
that exist: a renamed gauge must not silently switch an alert off."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.config import parse_config
from app.ops.metrics import StoreMetrics

ROOT = Path(__file__).resolve().parents[2]


def test_every_metric_in_the_alert_rules_is_exported():
    rules = yaml.safe_load((ROOT / "docs" / "prometheus-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) >= 8
    cfg = parse_config((ROOT / "store_config" / "store.toml").read_text())
    exported = {m.name for m in StoreMetrics(cfg).registry.collect()}
    exported |= {f"{name}_bucket" for name in exported}
    used = {name for e in exprs for name in re.findall(r"\b(kirana_[a-z_]+)", e)}
    assert used and used <= exported, used - exported
    routes = {r for e in exprs for r in re.findall(r'route="([^"]+)"', e)}
    from app.pos import routes as pos_routes

    paths = {p for h in pos_routes.ROUTES for p in h.paths}
    assert routes <= paths, routes - paths
