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

from app.cli.common import STORE, console, fail, in_store_language
from app.config import StoreConfig
from app.core.i18n import _, ngettext
from app.core.money import format_amount


@click.group(help="Returns and reports for the accountant.")
def report() -> None:
    pass


def _figures_line(name: str, taxable: int, tax: int) -> str:
    return "  " + _("%(section)s taxable %(taxable)s   GST %(tax)s   total %(total)s") % {
        "section": f"{name:<28}", "taxable": f"{format_amount(taxable):>16}",
        "tax": f"{format_amount(tax):>14}", "total": f"{format_amount(taxable + tax):>16}"}


def _z_reports(count: int, later_shifts: tuple[str, ...]) -> str:
    """How many Z reports the check used, and the later shifts it still counted."""
    if not later_shifts:
        return ngettext("Z reports: %(num)d closed in the month",
                        "Z reports: %(num)d closed in the month", count) % {"num": count}
    return ngettext("Z reports: %(num)d closed in the month; still counted from shifts "
                    "closed later or open: %(shifts)s",
                    "Z reports: %(num)d closed in the month; still counted from shifts "
                    "closed later or open: %(shifts)s", count) % {
        "num": count, "shifts": ", ".join(later_shifts[:5])}


@report.command("gstr1", help="The month's GSTR-1 (CSV per section and the GST offline "
                "tool's JSON), checked against the month's Z reports.")
@STORE.config_option
@click.option("--month", required=True, help="The return's month, YYYY-MM, e.g. 2026-11.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the CSV files and the JSON into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the summary.")
@STORE.with_config
@in_store_language
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
            fail(_("%(folder)s: cannot write the files there (%(error)s)")
                 % {"folder": out_dir, "error": exc.strerror or exc})
        files = len(gstr1_export.SECTIONS)
        console.print(ngettext("Wrote %(num)d CSV file and %(json)s to %(folder)s",
                               "Wrote %(num)d CSV files and %(json)s to %(folder)s", files)
                      % {"num": files, "json": json_name, "folder": folder}, highlight=False)
    if as_json:
        sys.stdout.write(gstr1_export.to_json(ret) + "\n")
    else:
        figs = ret.section_figures()
        click.echo(_("GSTR-1 %(month)s for %(store)s (GSTIN %(gstin)s)")
                   % {"month": f"{year:04d}-{mon:02d}", "store": cfg.store.name,
                      "gstin": ret.gstin or _("not set")})
        for name, label in (("b2b", _("B2B invoices")), ("b2cl", _("B2C large")),
                            ("b2cs", _("B2C small (net of refunds)")),
                            ("nil", _("Nil-rated")),
                            ("cdnr", _("Credit notes, registered")),
                            ("cdnur", _("Credit notes, unregistered"))):
            click.echo(_figures_line(label, figs[name].taxable, figs[name].tax))
        click.echo(_figures_line(_("Net outward supplies"), ret.supplies.taxable,
                                 ret.supplies.tax))
        for note in ret.notes:
            click.echo("  " + _("Note: %(note)s") % {"note": note})
    said = _z_reports(rec.z_count, rec.later_shifts)
    if rec.ok:
        console.print(_("Agrees with the Z reports to the paisa. %(z_reports)s")
                      % {"z_reports": said}, highlight=False)
        return
    diff = {k: format_amount(v) for k, v in rec.difference.items()}
    console.print("[bold red]" + _("Does not agree with the Z reports:") + "[/] "
                  + _("difference taxable %(taxable)s, tax %(tax)s, total %(total)s. "
                      "%(z_reports)s") % {**diff, "z_reports": said},
                  highlight=False, soft_wrap=True)
    sys.exit(1)
