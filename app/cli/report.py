"""`kirana report ...`: returns and reports a store's accountant asks for.

`kirana report gstr1 --month 2026-11 --config store.toml [--out DIR] [--json]` prints
the month's GSTR-1 sections and the check against the month's Z reports; --out writes
one CSV per section and the offline tool's JSON; --json prints the JSON instead.
Exit codes: 0 the return agrees with the Z reports, 1 it does not (the difference is
printed), 2 a bad month or config (one line).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.common import STORE, console, fail
from app.config import StoreConfig
from app.core.money import format_amount


@click.group(help="Returns and reports for the accountant.")
def report() -> None:
    pass


def _figures_line(name: str, taxable: int, tax: int) -> str:
    return (f"  {name:<28} taxable {format_amount(taxable):>16}   GST {format_amount(tax):>14}"
            f"   total {format_amount(taxable + tax):>16}")


@report.command("gstr1", help="The month's GSTR-1 (CSV per section and the GST offline "
                "tool's JSON), checked against the month's Z reports.")
@STORE.config_option
@click.option("--month", required=True, help="The return's month, YYYY-MM, e.g. 2026-11.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the CSV files and the JSON into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the summary.")
@STORE.with_config
def gstr1(cfg: StoreConfig, month: str, out_dir: str | None, as_json: bool) -> None:
    from app.core import gstr1_export
    from app.core.clock import utcnow
    from app.core.gstr1 import parse_month
    from app.reports import gstr1_data

    try:
        year, mon = parse_month(month, utcnow().astimezone(cfg.tz).date())
    except ValueError as exc:
        fail(str(exc))

    ret, rec = STORE.with_db(cfg, lambda database: gstr1_data.month_report(
        database, cfg, year, mon))
    if out_dir:
        folder = Path(out_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in gstr1_export.csv_files(ret).items():
                (folder / name).write_text(text, encoding="utf-8", newline="")
            json_name = f"GSTR1_{ret.gstin or cfg.store.id}_{ret.fp}.json"
            (folder / json_name).write_text(gstr1_export.to_json(ret), encoding="utf-8")
        except OSError as exc:
            fail(f"{out_dir}: cannot write the files there ({exc.strerror or exc})")
        console.print(f"Wrote {len(gstr1_export.SECTIONS)} CSV files and {json_name} "
                      f"to {folder}", highlight=False)
    if as_json:
        sys.stdout.write(gstr1_export.to_json(ret) + "\n")
    else:
        figs = ret.section_figures()
        click.echo(f"GSTR-1 {year:04d}-{mon:02d} for {cfg.store.name} "
                   f"(GSTIN {ret.gstin or 'not set'})")
        for name, label in (("b2b", "B2B invoices"), ("b2cl", "B2C large"),
                            ("b2cs", "B2C small (net of refunds)"), ("nil", "Nil-rated"),
                            ("cdnr", "Credit notes, registered"),
                            ("cdnur", "Credit notes, unregistered")):
            click.echo(_figures_line(label, figs[name].taxable, figs[name].tax))
        click.echo(_figures_line("Net outward supplies", ret.supplies.taxable,
                                 ret.supplies.tax))
        for note in ret.notes:
            click.echo(f"  Note: {note}")
    diff = rec.difference
    said = (f"Z reports: {rec.z_count} closed in the month"
            + (f"; still counted from shifts closed later or open: "
               f"{', '.join(rec.later_shifts[:5])}" if rec.later_shifts else ""))
    if rec.ok:
        console.print(f"Agrees with the Z reports to the paisa. {said}", highlight=False)
        return
    console.print("[bold red]Does not agree with the Z reports:[/] difference "
                  + ", ".join(f"{k} {format_amount(v)}" for k, v in diff.items())
                  + f". {said}", highlight=False, soft_wrap=True)
    sys.exit(1)
