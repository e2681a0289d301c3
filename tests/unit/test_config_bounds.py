"""Config bounds that mirror a rule elsewhere stay equal to it (config.py imports nothing
of app, so it cannot import the constant)."""

from __future__ import annotations

import pytest

from app.config import ConfigError, parse_hub_config
from app.core.money import MAX_AMOUNT_MINOR
from app.hub.allocation import Rules


def _routing(value: int) -> str:
    return f"[routing]\nsplit_above_rupees = {value}\n"


def test_the_split_bound_is_the_largest_amount() -> None:
    top = MAX_AMOUNT_MINOR // 100
    cfg = parse_hub_config(_routing(top))
    assert cfg.routing.split_above_rupees == top
    Rules(split_above_minor=cfg.routing.split_above_rupees * 100)  # the hub accepts it


def test_a_split_value_the_hub_would_refuse_is_a_config_error() -> None:
    """Before: any value loaded, and the hub's Rules refused it when it built the rules
    for the first order (a start that failed on the first order, not at load)."""
    with pytest.raises(ConfigError, match="split_above_rupees"):
        parse_hub_config(_routing(MAX_AMOUNT_MINOR // 100 + 1))
