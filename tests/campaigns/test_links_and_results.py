"""Short tracked links that still resolve (and cannot be forged), a campaign's life in the service
(draft → scheduled → sending → sent, or cancelled), its results as counts and rates, and the
campaign commands in words."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shopcrm.campaigns.results import campaign_results
from shopcrm.campaigns.service import cancel, create_campaign, enqueue, enqueue_due, launch, settle
from shopcrm.campaigns.triggers import configure, run_triggers
from shopcrm.clock import to_shop, utcnow
from shopcrm.delivery.addresses import address_hash
from shopcrm.delivery.clicks import short_token
from shopcrm.delivery.sender import send_due
from shopcrm.delivery.suppression import suppress
from shopcrm.errors import CampaignError
from shopcrm.extensions import db
from shopcrm.models import Campaign, Click, Message, Run, Suppression, TrackedLink
from tests.support.apps import DEMO_NOW, dispose
from tests.support.campaigns import (
    SHOP_CLOCK,
    consenting_customers,
    make_outbox_app,
    queue_campaign,
    seed_run,
    shop_execute,
)

MAX_TRACKED_LINK = 60  # characters, with the tests' public address http://crm.test/crm/
TRACKED = re.compile(r"http://crm\.test/crm/c/[^\s\"'<>]+")


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_text_links_are_short_and_resolve_through_the_click_redirect(outbox_app, shop_file):
    people = consenting_customers(shop_file, 6)
    campaign_id = queue_campaign(outbox_app, [c for c, _, _ in people])
    carted = people[0][0]
    shop_execute(shop_file, "INSERT INTO cart_items (customer_id, product_id, quantity, added_at) VALUES (?, 1004, 1, ?)",
                 (carted, (DEMO_NOW - timedelta(hours=6)).strftime(SHOP_CLOCK)))
    with outbox_app.app_context():
        configure("abandoned_cart", enabled=True)
        db.session.commit()
        assert run_triggers(now=DEMO_NOW, only="abandoned_cart")["abandoned_cart"]["queued"] >= 1
        rows = db.session.scalars(sa.select(Message).where(Message.state == "queued")).all()
        assert {r.campaign_id for r in rows} > {campaign_id}  # the campaign's and the reminder's
        links_per_row = {r.id: TRACKED.findall(r.text) for r in rows}
        assert all(links_per_row.values())
        longest = max(len(link) for links in links_per_row.values() for link in links)
        assert longest <= MAX_TRACKED_LINK, longest
        for row in rows:  # every shop address of the text is tracked, and the HTML uses the same links
            assert "https://shop.test/" not in row.text
            assert set(TRACKED.findall(row.text)) <= set(TRACKED.findall(row.html))
        # one stored address per campaign and occasion, not per message
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TrackedLink)) < sum(
            len(set(v)) for v in links_per_row.values())
    client = outbox_app.test_client()
    for row in rows:
        for link in set(links_per_row[row.id]):
            with outbox_app.app_context():
                expected = db.session.get(TrackedLink, _link_number(link)).url
            followed = client.get(link.removeprefix("http://crm.test"))
            assert followed.status_code == 302 and followed.headers["Location"] == expected
            assert expected.startswith("https://shop.test/")
    with outbox_app.app_context():
        for row in rows:
            counted = db.session.get(Message, row.id)
            assert counted.click_count == len(set(links_per_row[row.id])) and counted.clicked_at is not None
            assert {c.customer_id for c in db.session.scalars(sa.select(Click).where(Click.message_id == row.id))} \
                == {row.customer_id}
        clicks_before = db.session.scalar(sa.select(sa.func.count()).select_from(Click))
        someone, other = rows[0], next(r for r in rows if r.customer_id != rows[0].customer_id)
        link_part, customer_part, mac = links_per_row[someone.id][0].rsplit("/", 1)[1].split("-")
        number = _from_b62(link_part)
        forged = [
            f"/crm/c/{link_part}-{customer_part}-{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # signature changed
            f"/crm/c/{link_part}-{_b62(other.customer_id)}-{mac}",  # another customer's click, this signature
            f"/crm/c/{_b62(number + 1)}-{customer_part}-{mac}",  # another address, this signature
            f"/crm/c/{short_token(999_999, someone.customer_id)}",  # signed, but no such link
        ]
    for bad in forged:
        refused = client.get(bad)
        assert refused.status_code == 400 and "Location" not in refused.headers, bad
    with outbox_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Click)) == clicks_before


def _link_number(link: str) -> int:
    return _from_b62(link.rsplit("/", 1)[1].split("-")[0])


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _from_b62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _DIGITS.index(char)
    return number


def _b62(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 62)
        text = _DIGITS[digit] + text
        if not number:
            return text


@pytest.mark.parametrize("database", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_a_campaign_goes_from_draft_to_sent_and_only_then_stops_being_cancellable(request, tmp_path, shop_file,
                                                                                  database):
    if database == "mariadb":
        outbox_app = make_outbox_app(tmp_path, request.getfixturevalue("mariadb_database")(), shop_file)
    else:
        outbox_app = request.getfixturevalue("outbox_app")
    people = [c for c, _, _ in consenting_customers(shop_file, 4)]
    with outbox_app.app_context():
        _, segment = seed_run(people)
        campaign = create_campaign("Life", {"segment_ids": [segment.id]})
        db.session.commit()
        assert campaign.status == "draft"
        with pytest.raises(CampaignError, match="draft"):
            cancel(campaign)
        with pytest.raises(CampaignError, match="audience changed to 4"):
            launch(campaign, confirmed_audience=5)
        launch(campaign, confirmed_audience=4)
        db.session.commit()
        assert campaign.status == "scheduled"
        enqueue_due()
        assert db.session.get(Campaign, campaign.id).status == "sending"
        assert settle() == 0  # messages wait: still sending
        assert send_due().sent == 4
        assert enqueue_due() == [] and db.session.get(Campaign, campaign.id).status == "sent"  # the next run settles
        finished = db.session.get(Campaign, campaign.id).finished_at
        assert finished is not None and finished <= utcnow()
        with pytest.raises(CampaignError, match="already sent"):
            cancel(db.session.get(Campaign, campaign.id))
        with pytest.raises(CampaignError, match="cannot be launched again"):
            launch(db.session.get(Campaign, campaign.id))

        # A campaign whose every message is left out is sent at once (nothing waits).
        for _, email, _ in consenting_customers(shop_file, 2, offset=10):
            suppress(address_hash(email), "unsubscribed")
        db.session.commit()
        quiet = [c for c, _, _ in consenting_customers(shop_file, 2, offset=10)]
        _, segment = seed_run(quiet, "Quiet")
        nobody = create_campaign("Nobody left", {"segment_ids": [segment.id]})
        db.session.commit()
        report = enqueue(nobody)
        assert report.queued == 0 and db.session.get(Campaign, nobody.id).status == "sent"

        # Cancelling while sending stops what waits.
        third = create_campaign("Stopped", {"segment_ids": [segment.id]})
        _, busy = seed_run([c for c, _, _ in consenting_customers(shop_file, 3, offset=20)], "Busy")
        third.target = {"segment_ids": [busy.id]}
        db.session.commit()
        enqueue(third)
        assert db.session.get(Campaign, third.id).status == "sending"
        assert cancel(db.session.get(Campaign, third.id)) == 3
        db.session.commit()
        assert db.session.get(Campaign, third.id).status == "cancelled" and settle() == 0
    if database == "mariadb":
        dispose(outbox_app)


def test_results_are_counts_and_rates_with_unsubscribes_attributed_to_the_last_email(outbox_app, shop_file):
    people = consenting_customers(shop_file, 4)
    campaign_id = queue_campaign(outbox_app, [c for c, _, _ in people])
    client = outbox_app.test_client()
    with outbox_app.app_context():
        assert send_due().sent == 4
        rows = db.session.scalars(sa.select(Message).where(Message.campaign_id == campaign_id)
                                  .order_by(Message.id)).all()
        links = [TRACKED.search(r.html).group(0).removeprefix("http://crm.test") for r in rows]
    client.get(links[0])
    client.get(links[0])
    client.get(links[1])
    with outbox_app.app_context():
        clicked_at = db.session.scalar(sa.select(sa.func.min(Click.clicked_at)))
        soon = to_shop(clicked_at + timedelta(days=1)).strftime(SHOP_CLOCK)
        shop_execute(shop_file, "INSERT INTO orders (order_id, customer_id, placed_at, total, status) "
                                "VALUES (990301, ?, ?, 99.5, 'complete')", (rows[0].customer_id, soon))
        suppress(rows[2].email_hash, "unsubscribed")  # after this campaign's email: it counts here
        db.session.commit()
        results = campaign_results(db.session.get(Campaign, campaign_id))
        assert (results["delivered"], results["clicked"], results["clicks"]) == (4, 2, 3)
        assert (results["orders"], results["revenue"], results["unsubscribed"]) == (1, 99.5, 1)
        assert results["rates"] == {"delivered": 1.0, "clicked": 0.5, "ordered": 0.25, "unsubscribed": 0.25}
        assert results["revenue_per_recipient"] == pytest.approx(24.88, abs=0.01) and results["orders_error"] is None

        # A later email to the same address takes the unsubscribe that follows it (last touch).
        later = queue_campaign(outbox_app, [rows[3].customer_id], name="Later")
        assert send_due().sent == 1
        suppress(rows[3].email_hash, "unsubscribed")
        db.session.commit()
        assert campaign_results(db.session.get(Campaign, campaign_id))["unsubscribed"] == 1
        assert campaign_results(db.session.get(Campaign, later))["unsubscribed"] == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 2

    shown = outbox_app.test_cli_runner().invoke(args=["shopcrm", "campaign", "show", str(campaign_id)])
    assert shown.exit_code == 0
    for line in ("delivered: 4 (100.0%)", "clicked: 2 people (50.0%), 3 clicks",
                 "orders after a click (within 5 days): 1 (25.0%), revenue €99.50", "unsubscribed: 1 (25.0%)"):
        assert line in shown.output, shown.output
    assert "{" not in shown.output and "}" not in shown.output


def test_the_campaign_commands_speak_in_words_and_refuse_unknown_segment_names(segmented_app):
    runner = segmented_app.test_cli_runner()
    for group in (["campaign"], ["triggers"]):
        helped = runner.invoke(args=["shopcrm", *group, "--help"])
        commands = helped.output.split("Commands:", 1)[1]
        assert "..." not in commands and helped.exit_code == 0, helped.output  # no help text cut short
        assert all(len(line.split(None, 1)) == 2 for line in commands.strip().splitlines()), commands
    typo = runner.invoke(args=["shopcrm", "campaign", "create", "--name", "Typo", "--segment-name", "Runers"])
    assert typo.exit_code != 0 and "no segment named 'Runers'" in typo.output and "its segments:" in typo.output
    with segmented_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0  # nothing half-made
        segment = max(Run.current().segments, key=lambda s: s.size)
    made = runner.invoke(args=["shopcrm", "campaign", "create", "--name", "Right", "--segment-name", segment.name,
                               "--heading", "Hello {{ customer.first_name }}", "--products", "3"])
    assert made.exit_code == 0 and f"audience {segment.size:,}" in made.output
    asked = runner.invoke(args=["shopcrm", "campaign", "launch", "1"], input="n\n")
    assert asked.exit_code != 0 and f"to {segment.size:,} customers now?" in asked.output
    with segmented_app.app_context():
        assert db.session.get(Campaign, 1).status == "draft" and db.session.get(Campaign, 1).content["products"] == 3
    launched = runner.invoke(args=["shopcrm", "campaign", "launch", "1", "--yes"])
    assert launched.exit_code == 0 and f"to {segment.size:,} customers" in launched.output
    listing = runner.invoke(args=["shopcrm", "campaign", "list"])
    assert "Scheduled" in listing.output and "Right" in listing.output and "{" not in listing.output
    shown = runner.invoke(args=["shopcrm", "campaign", "show", "1"])
    assert shown.exit_code == 0 and "campaign #1 'Right': Scheduled" in shown.output
    assert f"for: segments named {segment.name}" in shown.output and "{" not in shown.output
