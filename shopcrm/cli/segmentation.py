"""Segmentation runs: run one, run what the panel queued, place new customers, list runs."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..formatting import number, percent
from ..vocab import ALGORITHMS, CHURN_RANKING_LABELS, LEVELS, VALUE_RANKING_LABELS, VALUE_TYPE_LABELS
from . import friendly_errors, parse_datetime, shopcrm_group


def _segments_wanted(ctx, param, value):
    if value is not None and value < 2:
        raise click.BadParameter(f"{value} is too few: a segmentation needs at least 2 segments (one would hold "
                                 "every customer). Leave --k out to choose the number automatically.")
    return value


@shopcrm_group.command("segment")
@click.option("--k", "n_clusters", type=click.IntRange(max=50), callback=_segments_wanted,
              help="Fixed number of interest segments, 2 to 50 (default: automatic).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS),
              help="Clustering algorithm (default: SHOPCRM_CLUSTER_ALGORITHM).")
@click.option("--level", type=click.Choice(LEVELS),
              help="Segment on category, brand or both interests (default: SHOPCRM_INTEREST_LEVEL).")
@click.option("--as-of", "as_of_text", help="Compute as if it were this date (default: now).")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if another run holds the lock.")
@click.option("--quiet", is_flag=True, help="No progress bar (cron logs).")
@friendly_errors
def segment_command(n_clusters, algorithm, level, as_of_text, wait, quiet):
    """Run a segmentation and make it current.

    Reads the shop (extract), finds segments, types and rules (mine), stores them, and rebuilds
    the customer search's word index."""
    from ..segmentation.run import RunParams, run_and_index

    params = RunParams.from_config(current_app.config, n_clusters=n_clusters, algorithm=algorithm, level=level)
    options = {"params": params, "as_of": parse_datetime(as_of_text), "requested_by": "cli", "wait": wait,
               "on_wait": lambda who: click.echo(f"{who}; waiting up to {wait:g} s", err=True)}
    if quiet:
        run, index = run_and_index(**options)
    else:
        with click.progressbar(length=100, label="segmentation", item_show_func=lambda stage: stage) as bar:
            def progress(stage: str, fraction: float) -> None:
                bar.update(max(0, round(fraction * 100) - bar.pos), stage)

            run, index = run_and_index(progress=progress, **options)
    counts, quality = run.counts or {}, run.quality or {}
    stability = (quality.get("stability") or {}).get("mean_ari")
    click.echo(f"run #{run.id} succeeded: {counts.get('customers')} customers, "
               f"{counts.get('with_interest')} with interest data, {counts.get('segments')} segments "
               f"in {run.timings.get('total')} s (extract {run.timings.get('extract')} s, "
               f"mine {run.timings.get('mine')} s, store {run.timings.get('store')} s)")
    click.echo(f"quality: silhouette {_fmt(quality.get('silhouette'))}, Davies-Bouldin "
               f"{_fmt(quality.get('davies_bouldin'))}, stability (ARI) {_fmt(stability)}"
               + (f", {quality['migration']['moved']} customers moved since run #{quality['migration']['previous_run']}"
                  if quality.get("migration") else ""))
    click.echo("customer types: " + ", ".join(f"{n:,} {VALUE_TYPE_LABELS.get(t, t).lower()}"
                                            for t, n in sorted((counts.get("value_types") or {}).items())))
    click.echo("rules: " + ", ".join(f"{n:,} {k}" for k, n in (counts.get("rules") or {}).items()))
    for line in prediction_lines(quality):
        click.echo(line)
    for seg in run.segments:
        click.echo(f"  #{seg.id:<5} {seg.size:>7}  {seg.name}")
    echo_index(index)


def prediction_lines(quality: dict) -> list[str]:
    """What the run predicted and chose, and what it could not do as asked (its notes)."""
    lines = []
    lifetime, churn, value = quality.get("lifetime"), quality.get("churn_ranking"), quality.get("value_ranking")
    if lifetime and lifetime.get("status") == "fitted":
        lines.append(f"predictions: purchases and value over the next {lifetime['horizon_days']:g} days, learnt from "
                     f"{number(lifetime['repeat_buyers'])} repeat buyers")
    if churn:
        tried = (f", right {percent(churn['auc'])} of the time on the shop's past (days since the last purchase: "
                 f"{percent(churn['baseline_auc'])})" if churn.get("auc") is not None
                 and churn.get("baseline_auc") is not None else "")
        lines.append(f"churn score: {CHURN_RANKING_LABELS.get(churn['chosen'], churn['chosen'])}{tried}; "
                     f"{number(churn['at_risk'])} customers at risk")
    if value:
        lines.append(f"best customers first by: {VALUE_RANKING_LABELS.get(value['chosen'], value['chosen'])}")
    lines += [f"note: {note}" for note in quality.get("notes") or []]
    return lines


def echo_index(state) -> None:
    click.echo(f"customer search index: {state.customers} customers, {state.words} words in {state.seconds} s")


@shopcrm_group.command("search-index")
@friendly_errors
def search_index_command():
    """Rebuild the customer search's word index.

    Also done after every segmentation."""
    from ..segmentation import search_index

    echo_index(search_index.refresh())


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@shopcrm_group.command("run-queued")
@friendly_errors
def run_queued_command():
    """Run an analysis queued with "Run now".

    For cron, every few minutes. Nothing queued: nothing happens. The admin panel never runs a
    segmentation inside a web request; it only queues one for this command.
    """
    from ..segmentation.queue import run_next_queued

    outcome = run_next_queued()
    if outcome is None:
        click.echo("nothing queued")
        return
    run, index = outcome
    counts = run.counts or {}
    click.echo(f"queued run #{run.id} ({run.requested_by}) succeeded: {counts.get('customers')} customers, "
               f"{counts.get('segments')} segments in {run.timings.get('total')} s")
    echo_index(index)


@shopcrm_group.command("assign-new")
@click.option("--wait", default=0, show_default=True, type=float, help="Seconds to wait if a run holds the lock.")
@friendly_errors
def assign_new_command(wait):
    """Place new sign-ups in the current segments.

    Customers who signed up since the current run get its segments and types, without a full run."""
    from ..segmentation.run import assign_new

    report = assign_new(wait=wait)
    click.echo(f"run #{report.run_id}: {report.new_customers} new customer(s) placed, "
               f"{report.with_interest} of them in an interest segment")


@shopcrm_group.command("runs")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
def runs_command(limit):
    """List the latest runs and their quality."""
    from ..models import Run

    runs = db.session.scalars(sa.select(Run).order_by(Run.id.desc()).limit(limit)).all()
    if not runs:
        click.echo("no runs yet")
    stopped = _nobody_running()
    for run in runs:
        counts, quality, timings = run.counts or {}, run.quality or {}, run.timings or {}
        status = "stopped" if run.status == "running" and stopped else run.status
        line = f"#{run.id:<5} {status:<9} {run.started_at or run.created_at:%Y-%m-%d %H:%M}"
        if run.status == "succeeded":
            line += (f"  {timings.get('total', '?')} s  {counts.get('customers')} customers, "
                     f"{counts.get('segments')} segments, silhouette {_fmt(quality.get('silhouette'))}, "
                     f"stability {_fmt((quality.get('stability') or {}).get('mean_ari'))}")
        elif run.error:
            line += f"  {' '.join(str(run.error).split())[:120]}"
        elif status == "stopped":
            line += "  its process is gone (killed, or its database failed); the next run marks it interrupted"
        click.echo(line)


def _nobody_running() -> bool:
    """No live process holds the segmentation lock: a run still marked running was stopped."""
    from ..clock import utcnow
    from ..locks import holder, holder_gone
    from ..segmentation.run import LOCK_NAME

    held = holder(LOCK_NAME)
    return held is None or held["expires_at"] < utcnow() or holder_gone(held["owner"])
