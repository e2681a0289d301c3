"""`kirana` command line. Each command prints plain words and exits non-zero on failure;
config and input mistakes are one line (``file: key: what is wrong``), never a traceback.

The whole command tree is assembled here; each module holds one area's commands:
store.py (serve, db, catalog, bins), ops.py (init, backup, restore, service), tls.py, users.py and
apikeys.py (the store's and the hub's people and keys, one implementation for both),
hub.py, demo.py, sim.py (the dark-store simulation in bench/). What they
share (the error line, `Place` for a store's or the hub's config and database) is in
common.py."""

from __future__ import annotations

import click

from app.cli import apikeys, demo, hub, ops, report, sim, store, tls, users
from app.cli.common import write_secret as _write_secret
from app.cli.store import import_catalog_file

__all__ = ["main", "import_catalog_file", "_write_secret"]


@click.group(help="Kirana: store and dark-store operations.")
@click.version_option(package_name="kirana")
def main() -> None:
    pass


for command in (store.serve, store.db, store.catalog, store.bins, users.user, apikeys.apikey,
                tls.tls, hub.hub, demo.demo, report.report, ops.backup, ops.restore,
                ops.init, ops.service, sim.sim):
    main.add_command(command)
for command in (*users.HUB_COMMANDS, *apikeys.HUB_COMMANDS):
    hub.hub.add_command(command)
