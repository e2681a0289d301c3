"""`kirana init store|darkstore|hub DIR` (issue #23): a new site's folder with a
commented config made from the shipped examples (store_config/), its private data folder
and the next commands. It asks nothing: the store id, name and port have defaults and
options; everything else is the example's, with the example's own GSTIN and addresses
left out so that nothing fake is printed on a real bill.

The written config is parsed with the same loader as `kirana serve` before it is kept,
so a site never starts from a file the server would refuse."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError, parse_config, parse_hub_config
from app.core.private_files import private_dir
from app.core.resources import STORE_CONFIG

KINDS = {"store": "store.toml", "darkstore": "darkstore.toml", "hub": "hub.toml"}
_ID = re.compile(r"^[A-Z0-9]{1,4}$")  # also the GST invoice series (at most 4)


class InitError(Exception):
    """The folder cannot be set up; the message says why."""


@dataclass(frozen=True)
class Site:
    config: Path
    data_dir: Path
    next_steps: list[str]


def _set(text: str, key: str, value: str) -> str:
    """Replace the first `key = ...` line's value, keeping its comment."""
    pattern = re.compile(rf'^({re.escape(key)}\s*=\s*)("[^"]*"|[^#\n]*?)(\s*(#.*)?)$', re.M)
    new, n = pattern.subn(lambda m: f"{m.group(1)}{value}{m.group(3)}", text, count=1)
    if n != 1:
        raise InitError(f"the example config has no {key} line")
    return new


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_site(kind: str, folder: Path, *, store_id: str = "", name: str = "",
              port: int | None = None) -> Site:
    if kind not in KINDS:
        raise InitError(f"kind must be one of {', '.join(KINDS)}")
    folder = Path(folder).resolve()
    config = folder / ("hub.toml" if kind == "hub" else "store.toml")
    if config.exists():
        raise InitError(f"{config} exists already; nothing was changed")
    if any(ch in name for ch in "\x00\n\r") or len(name) > 80:
        raise InitError("name: one line of at most 80 characters")
    text = (Path(STORE_CONFIG) / KINDS[kind]).read_text(encoding="utf-8")
    first = text.splitlines()[0]
    text = text.replace(first, f"{first}\n# Made by `kirana init {kind}`; edit freely.", 1)
    if kind == "hub":
        text = _set(text, "name", _quote(name or "Kirana HQ"))
        text = _set(text, "database_path", '"var/hub.db"')
        text = _set(text, "data_dir", '"var"')
        text = _set(text, "port", str(port or 8100))
    else:
        sid = store_id or ("D1" if kind == "darkstore" else "S1")
        if not _ID.match(sid):
            raise InitError("store id: 1-4 capital letters and digits, like S1 or BLR4")
        text = _set(text, "id", _quote(sid))
        text = _set(text, "name", _quote(name or f"Kirana {sid}"))
        text = _set(text, "gstin", '""')  # the example's GSTIN is not this shop's
        text = _set(text, "address", '""')
        text = _set(text, "phone", '""')
        text = _set(text, "path", '"var/store.db"')
        text = _set(text, "data_dir", '"var"')
        text = _set(text, "port", str(port or 8000))
    try:
        if kind == "hub":
            parse_hub_config(text, source=str(config), base_dir=str(folder))
        else:
            parse_config(text, source=str(config), base_dir=str(folder))
    except ConfigError as exc:  # a shipped example that no longer loads: a bug here
        raise InitError(f"the config made from the example does not load: {exc}") from None
    data_dir = private_dir(folder / "var")
    if kind != "hub":
        (folder / "print_templates").mkdir(exist_ok=True)
    config.write_text(text, encoding="utf-8")
    c = f"--config {config}"
    if kind == "hub":
        steps = [f"kirana hub db-upgrade {c}",
                 f"kirana hub user {c} YOUR-NAME admin",
                 f"kirana hub {c}"]
    else:
        steps = [f"kirana db upgrade {c}",
                 f"kirana user add {c} --name YOUR-NAME --role admin --pin 4-6-DIGITS",
                 f"kirana serve {c}"]
    return Site(config=config, data_dir=data_dir, next_steps=steps)
