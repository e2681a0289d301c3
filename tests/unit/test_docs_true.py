"""The docs stay true because these tests read the code and the docs together:

- every key a config file may hold (walked from app/config.py's structs) is in
  store_config/README.md;
- every `kirana` command (walked from the click tree in app/cli) is in README.md or
  docs/*.md;
- every pure module (the import-linter contract for pure modules in pyproject.toml,
  else PURE_MODULES below) is named in docs/architecture.md's layer diagram.

Each checker is also shown to catch a planted omission, so none of them can pass by
looking at nothing.
"""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path

import click
import msgspec
import pytest

from app import config as config_module

ROOT = Path(__file__).resolve().parents[2]
CONFIG_README = ROOT / "store_config" / "README.md"

# Filled in by load_config from where the file is, never read from it.
NOT_IN_FILE = frozenset({"source", "base_dir"})
CONFIG_ROOTS = (config_module.StoreConfig, config_module.HubConfig)


# ---- config keys ------------------------------------------------------------------------


def _struct_in(hint: object) -> tuple[type[msgspec.Struct] | None, bool]:
    """(the Struct a field holds, whether it is a list of them), or (None, False)."""
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is list:
        inner, _ = _struct_in(typing.get_args(hint)[0])
        return inner, inner is not None
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return hint, False
    return None, False


def config_keys(root: type[msgspec.Struct]) -> list[tuple[str, str]]:
    """Every key a config file of this kind may hold, as (table, key): ("pos",
    "counters"), ("security.idle_minutes", "cashier"), ("[[printers]]", "host");
    top-level keys have the table ""."""
    keys: list[tuple[str, str]] = []

    def walk(struct: type[msgspec.Struct], table: str) -> None:
        hints = typing.get_type_hints(struct, include_extras=True)
        for field in msgspec.structs.fields(struct):
            if not table and field.name in NOT_IN_FILE:
                continue
            inner, is_list = _struct_in(hints[field.name])
            name = field.encode_name
            if inner is None:
                keys.append((table, name))
            elif is_list:
                walk(inner, f"[[{name}]]")
            else:
                walk(inner, f"{table}.{name}" if table else name)

    walk(root, "")
    return keys


def _named(word: str, text: str) -> bool:
    return f"`{word}`" in text


def undocumented_config_keys(roots, readme: str) -> list[str]:
    """Keys not in the README: a section key as `section.key`, a key of an array of
    tables (`[[printers]]`) in backticks on a table row whose first cell names it."""
    rows: dict[str, list[str]] = {}
    for line in readme.splitlines():
        cells = line.split("|")
        if len(cells) > 2:
            for table in re.findall(r"`(\[\[\w+\]\])", cells[1]):
                rows.setdefault(table, []).append(line)
    missing = []
    for root in roots:
        for table, key in config_keys(root):
            if table.startswith("[["):
                ok = any(_named(key, row) for row in rows.get(table, []))
                shown = f"{table} {key}"
            else:
                shown = f"{table}.{key}" if table else key
                ok = _named(shown, readme)
            if not ok and shown not in missing:
                missing.append(shown)
    return missing


def test_every_config_key_is_in_the_config_readme() -> None:
    assert undocumented_config_keys(CONFIG_ROOTS, CONFIG_README.read_text()) == []


class Planted(config_module.Base):
    fake_knob_seconds: int = 3


class PlantedPos(config_module.PosSection):
    made_up_limit: int = 0


class PlantedPrinter(config_module.PrinterSection):
    paper_colour: str = ""


class PlantedStore(config_module.StoreConfig, kw_only=True):
    """A copy of the store's config with three keys no README names."""

    pos: PlantedPos = msgspec.field(default_factory=PlantedPos)
    planted: Planted = msgspec.field(default_factory=Planted)
    printers: list[PlantedPrinter] = []


def test_a_planted_config_key_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = CONFIG_README.read_text()
    before = set(undocumented_config_keys([config_module.StoreConfig], readme))
    monkeypatch.setattr(config_module, "StoreConfig", PlantedStore)
    after = set(undocumented_config_keys([config_module.StoreConfig], readme))
    assert after - before == {
        "[[printers]] paper_colour", "pos.made_up_limit", "planted.fake_knob_seconds"}
    # and a key the README does name is reported once its row is gone
    without = "\n".join(line for line in readme.splitlines()
                        if "`store.gstin`" not in line and "`vendor_id`" not in line)
    gone = set(undocumented_config_keys([config_module.StoreConfig], without)) - after
    assert gone == {"store.gstin", "[[printers]] vendor_id", "[[printers]] product_id"}


def test_config_keys_walks_nested_sections_and_arrays_of_tables() -> None:
    keys = config_keys(config_module.StoreConfig)
    assert ("security.idle_minutes", "cashier") in keys
    assert ("[[printers]]", "status_timeout_seconds") in keys
    assert ("store", "id") in keys
    assert not any(key in NOT_IN_FILE for _table, key in keys)
    hub = config_keys(config_module.HubConfig)
    assert ("[[courier_rules]]", "match") in hub and ("routing", "max_hops") in hub


# ---- commands ---------------------------------------------------------------------------


def cli_commands(group: click.Group, path: tuple[str, ...] = ("kirana",)
                 ) -> list[tuple[str, ...]]:
    """Every command a user can run: leaves, and groups that run on their own
    (`kirana hub --config …` runs the hub)."""
    found = []
    for name, command in sorted(group.commands.items()):
        here = (*path, name)
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                found.append(here)
            found.extend(cli_commands(command, here))
        else:
            found.append(here)
    return found


def _docs_text() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text() for page in pages)


def undocumented_commands(commands, text: str) -> list[str]:
    """Commands no line of the docs names: `kirana user add`, or, for alternatives
    written on one line (`kirana user list|deactivate NAME`), the parent's words
    followed later on the same line by the command's name as a whole word."""
    missing = []
    for path in commands:
        *parents, leaf = path
        whole = re.compile(r"(?<![\w-])" + re.escape(" ".join(path)) + r"(?![\w-])")
        if len(parents) > 1:
            lead = re.compile(r"(?<![\w-])" + re.escape(" ".join(parents)) + r"\s(.*)")
            word = re.compile(r"(?<![\w-])" + re.escape(leaf) + r"(?![\w-])")
            ok = any(whole.search(line) or ((m := lead.search(line)) and word.search(m[1]))
                     for line in text.splitlines())
        else:
            ok = bool(whole.search(text))
        if not ok:
            missing.append(" ".join(path))
    return missing


def _main() -> click.Group:
    from app.cli import main

    return main


def test_every_command_is_in_the_docs() -> None:
    commands = cli_commands(_main())
    assert len(commands) > 30  # the walk found the tree
    assert undocumented_commands(commands, _docs_text()) == []


def test_a_planted_command_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    main = _main()
    planted = click.Group("shelf-tags", commands={"print-all": click.Command("print-all")})
    user = main.commands["user"]
    assert isinstance(user, click.Group)
    text = _docs_text()
    before = set(undocumented_commands(cli_commands(main), text))
    monkeypatch.setitem(main.commands, "shelf-tags", planted)
    monkeypatch.setitem(user.commands, "merge", click.Command("merge"))
    after = set(undocumented_commands(cli_commands(main), text))
    assert after - before == {"kirana shelf-tags print-all", "kirana user merge"}
    # a documented command is reported once the docs no longer name it
    gone = text.replace("reset-pin", "reset-code")
    assert set(undocumented_commands(cli_commands(main), gone)) - after == {
        "kirana user reset-pin"}


def test_alternatives_on_one_line_count_only_for_their_parent() -> None:
    text = "kirana user list|deactivate NAME --config F\nkirana hub user-deactivate NAME"
    commands = [("kirana", "user", "deactivate"), ("kirana", "hub", "user"),
                ("kirana", "hub", "user-deactivate"), ("kirana", "hub", "deactivate")]
    assert undocumented_commands(commands, text) == ["kirana hub user", "kirana hub deactivate"]


# ---- pure modules -----------------------------------------------------------------------

# Used only while pyproject.toml has no import-linter contract for the pure modules.
PURE_MODULES = (
    "app.catalog.barcodes", "app.catalog.csv_io", "app.catalog.units", "app.core.money",
    "app.core.security", "app.core.passwords", "app.orders.states", "app.picking.planner",
    "app.picking.bags", "app.pos.pricing", "app.hub.allocation", "app.hub.couriers",
    "app.printing.layout", "app.sync.protocol",
)


def pure_modules(pyproject: dict) -> tuple[str, ...]:
    """The source modules of the import-linter contracts about pure modules (a contract
    whose name or id says "pure"), else PURE_MODULES."""
    contracts = pyproject.get("tool", {}).get("importlinter", {}).get("contracts", [])
    named = [module for contract in contracts
             if "pure" in f"{contract.get('name', '')} {contract.get('id', '')}".lower()
             for module in contract.get("source_modules", [])]
    return tuple(dict.fromkeys(named)) or PURE_MODULES


def layer_diagram(architecture: str) -> str:
    """The first code block under the "## Layers" heading."""
    section = architecture.split("\n## Layers", 1)[1]
    return section.split("```", 2)[1]


def modules_missing_from(diagram: str, modules) -> list[str]:
    """Modules the diagram does not name: by path under app/ (`orders/states.py`), or by
    file name when no other listed module has the same one."""
    names = [m.rsplit(".", 1)[-1] for m in modules]
    missing = []
    for module, name in zip(modules, names, strict=True):
        path = "/".join(module.split(".")[1:]) + ".py"
        by_name = names.count(name) == 1 and re.search(
            r"(?<![\w/])" + re.escape(name) + r"\.py", diagram)
        if path not in diagram and not by_name:
            missing.append(module)
    return missing


def _pure_modules() -> tuple[str, ...]:
    return pure_modules(tomllib.loads((ROOT / "pyproject.toml").read_text()))


def test_pure_modules_exist() -> None:
    for module in _pure_modules():
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


def test_the_layer_diagram_names_every_pure_module() -> None:
    diagram = layer_diagram((ROOT / "docs" / "architecture.md").read_text())
    assert modules_missing_from(diagram, _pure_modules()) == []


def test_a_pure_module_left_out_of_the_diagram_is_reported() -> None:
    diagram = "pure modules (barcodes.py, orders/states.py, money.py)"
    modules = ("app.catalog.barcodes", "app.orders.states", "app.core.money",
               "app.pos.pricing", "app.hub.states")
    assert modules_missing_from(diagram, modules) == ["app.pos.pricing", "app.hub.states"]
    # a file name two modules share must be given with its folder
    assert modules_missing_from("states.py", ("app.orders.states", "app.hub.states")) == [
        "app.orders.states", "app.hub.states"]


def test_pure_modules_come_from_the_import_linter_contract() -> None:
    pyproject = {"tool": {"importlinter": {"contracts": [
        {"name": "Core imports no feature", "source_modules": ["app.core"]},
        {"name": "Pure modules do no I/O", "type": "forbidden",
         "source_modules": ["app.orders.states", "app.core.money"]}]}}}
    assert pure_modules(pyproject) == ("app.orders.states", "app.core.money")
    assert pure_modules({}) == PURE_MODULES
