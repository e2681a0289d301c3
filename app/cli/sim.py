"""`kirana sim ...`: the dark-store simulation (issue #20), the same as
`python -m bench.sim ...` with the same options (`kirana sim --help`). The simulator
lives in the source checkout's bench/ folder, not in the installed package: from an
installed wheel the command says so."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click


@click.command("sim", add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               help="Dark-store simulation: does the planner get orders to a rider within "
               "5 minutes? (python -m bench.sim; see docs/simulation.md)")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sim(args: tuple[str, ...]) -> None:
    for top in (Path.cwd(), Path(__file__).resolve().parents[2]):  # the checkout's top
        if (top / "bench" / "sim" / "__main__.py").is_file():
            if str(top) not in sys.path:
                sys.path.insert(0, str(top))
            break
    try:
        entry = importlib.import_module("bench.sim.__main__")
    except ModuleNotFoundError as exc:
        click.echo("kirana sim needs the source checkout (its bench/ folder): run it from "
                   f"the repository's top folder, or `python -m bench.sim` there ({exc}).",
                   err=True)
        sys.exit(2)
    sys.exit(entry.main(list(args)))
