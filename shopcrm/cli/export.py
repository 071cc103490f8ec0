"""``flask shopcrm export …``: a run's results as files a spreadsheet opens."""
from __future__ import annotations

import csv
import sys
import time

import click

from ..errors import NotEnoughData
from ..extensions import db
from ..formatting import number
from . import friendly_errors, shopcrm_group


@shopcrm_group.group("export")
def export_group():
    """Write a run's results to CSV files."""


@export_group.command("customers")
@click.option("--run", "run_id", type=int,
              help="The run to export (default: the current one; `flask shopcrm runs` lists them).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="The CSV file to write (default: customers-run-<ID>.csv; - writes to the terminal).")
@friendly_errors
def export_customers_command(run_id, output):
    """Every customer of a run with their segment, value type, RFM, churn figures, predictions and action.

    UTF-8 with a byte-order mark (so spreadsheets read accents right), every field quoted,
    cells that a spreadsheet would take for a formula neutralised; written a chunk of customers
    at a time.
    """
    from ..customers.members import csv_safe
    from ..models import Run
    from ..segmentation.export import customer_rows, shop_emails
    from ..shop import connect_shop, current_mapping

    started = time.perf_counter()
    run = db.session.get(Run, run_id) if run_id is not None else Run.current()
    if run is None:
        raise NotEnoughData(f"there is no run #{run_id}; `flask shopcrm runs` lists them" if run_id is not None
                            else "there is no segmentation run yet; run `flask shopcrm segment` first")
    if run.status != "succeeded":
        raise NotEnoughData(f"run #{run.id} is {run.status}, not succeeded: it has no results to export; "
                            "`flask shopcrm runs` lists the runs")
    path = output or f"customers-run-{run.id}.csv"
    written = 0
    with connect_shop() as conn:
        rows = customer_rows(run, shop_emails(conn, current_mapping()))
        out = open(path, "w", encoding="utf-8-sig", newline="") if path != "-" else sys.stdout
        try:
            if path == "-":
                out.write("\ufeff")
            writer = csv.writer(out, quoting=csv.QUOTE_ALL)
            for values in rows:
                writer.writerow([csv_safe(v) for v in values])
                written += 1
        finally:
            if path != "-":
                out.close()
    where = "the terminal" if path == "-" else path
    click.echo(f"wrote {number(written - 1)} customers of run #{run.id} to {where} in "
               f"{time.perf_counter() - started:.1f} s", err=path == "-")
