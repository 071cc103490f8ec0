"""The command line speaks clearly: help that is not cut to "...", output without Python dicts."""
from __future__ import annotations

import click
import pytest

from shopcrm.cli import delivery, demo, in_words, segmentation, setup, shop, shopcrm_group

#: The modules whose texts these tests hold to (campaigns and triggers have their own tests).
MODULES = (setup, shop, segmentation, delivery, demo)


def commands_of(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(commands_of(command, f"{prefix}{name} "))
    return found


def mine() -> dict[str, click.Command]:
    return {name: c for name, c in commands_of(shopcrm_group).items()
            if c.callback is not None and getattr(c.callback, "__module__", "").rsplit(".", 1)[-1] in
            {m.__name__.rsplit(".", 1)[-1] for m in MODULES} or name == "outbox"}


def test_every_command_has_a_short_help_that_fits():
    """``flask shopcrm --help`` lists commands with the first sentence of their help, cut with
    "..." when it is longer than the space left: each first sentence fits in 50 characters."""
    commands = mine()
    assert {"segment", "runs", "send", "outbox status", "outbox resolve", "demo", "demo-serve", "init"} <= set(commands)
    for name, command in commands.items():
        short = command.get_short_help_str(limit=50)
        assert short and not short.endswith("..."), f"{name}: {short!r}"


def test_the_listing_shows_whole_sentences(app):
    result = app.test_cli_runner().invoke(args=["shopcrm", "--help"], terminal_width=80)
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ") and line.strip()}
    for name in ("segment", "runs", "send", "suppress", "demo", "demo-serve", "doctor", "assign-new", "outbox"):
        assert not lines[name].endswith("..."), lines[name]
    outbox = app.test_cli_runner().invoke(args=["shopcrm", "outbox", "--help"], terminal_width=80).output
    assert "status    Count messages per state" in outbox and "resolve   Settle one message" in outbox


def test_counts_are_written_in_words():
    assert in_words({"no_consent": 1200, "invalid_address": 4, "unsubscribed": 0}) == "1,200 no consent, 4 invalid address"
    assert in_words({}, "nobody") == "nobody" and in_words(7) == "7" and in_words(None) == "none"


def test_outbox_status_and_runs_print_no_dicts(segmented_app):
    from tests.support.campaigns import queue_campaign

    runner = segmented_app.test_cli_runner()
    assert runner.invoke(args=["shopcrm", "outbox", "status"]).output.startswith("the outbox is empty")
    from tests.support.campaigns import consenting_customers

    with segmented_app.app_context():
        from shopcrm.extensions import db

        url = str(db.engines["shop"].url.database)
    from pathlib import Path

    queue_campaign(segmented_app, [c for c, _, _ in consenting_customers(Path(url), 3)])
    status = runner.invoke(args=["shopcrm", "outbox", "status"]).output
    assert status.startswith("messages: 3 queued") and "{" not in status
    runs = runner.invoke(args=["shopcrm", "runs"]).output
    assert "succeeded" in runs and "{" not in runs


@pytest.mark.parametrize("name", ["segment", "send", "demo-serve"])
def test_long_help_is_there_in_full(app, name):
    output = app.test_cli_runner().invoke(args=["shopcrm", name, "--help"], terminal_width=100).output
    assert "..." not in output and len(output.splitlines()) > 4
