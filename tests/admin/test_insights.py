"""Dashboard figures, insights (groups, rules, seed 004 charts) and runs with "Run now"."""
import re

import sqlalchemy as sa

from shopcrm.extensions import db
from shopcrm.models import Insight, Rule, Run
from tests.support.apps import create_user, csrf_token, login


def logged_in(app, role="viewer"):
    email, password = create_user(app, email=f"{role}@shop.test", role=role)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_dashboard_shows_the_runs_figures(segmented_app):
    """The trends come from the run's stored figures, written with the currency and separators:
    last complete month against the month before, the run's customers; no research words."""
    client = logged_in(segmented_app)
    page = client.get("/crm/admin/").get_data(as_text=True)
    with segmented_app.app_context():
        run = Run.current()
        summary = Insight.of(run.id, "summary")
        sales = Insight.of(run.id, "sales_per_month")
        top = Insight.of(run.id, "top_products")[0]
        names = Insight.of(run.id, "names")
    words = text_of(page)
    last, before = sales[-2], sales[-3]  # the last complete month and the one before it
    change = (last["revenue"] - before["revenue"]) / before["revenue"]
    assert f"Revenue in October 2026 €{last['revenue']:,.0f}" in words
    assert f"{'▲' if change > 0 else '▼'} {abs(change):.1%} vs September 2026" in words
    assert f"Customers {summary['customers']:,}" in words
    assert f"Customers who bought in the last 365 days {summary['buyers_in_window']:,}" in words
    for chart in ("chart-segments", "chart-value-types", "chart-revenue"):
        assert f'id="{chart}"' in page
    top_name = names["products"][str(top["product_id"])]
    assert top_name.replace("&", "&amp;").replace("'", "&#39;") in page
    assert f"€{top['revenue']:,.2f}" in words
    assert "silhouette" not in words.lower() and "stability" not in words.lower()


def test_insights_show_groups_rules_and_the_seed_004_charts(segmented_app, demo_shop):
    client = logged_in(segmented_app)
    page = client.get("/crm/admin/insights").get_data(as_text=True)
    words = text_of(page)
    for chart in ("chart-country", "chart-source", "chart-goods", "chart-transactions", "chart-customers-per-product"):
        assert f'id="{chart}"' in page
    assert "Berlin, Germany" in words and "Google Ads" in words and "google_ads" not in words
    assert "Best month" in words and "December" in words
    # The demo shop plants "bought together" companions: the rules page finds them.
    companions = demo_shop.info["companions"]
    products = dict(zip(map(int, demo_shop.tables["products"]["product_id"]), demo_shop.tables["products"]["name"]))
    with segmented_app.app_context():
        run = Run.current()
        found = db.session.execute(sa.select(Rule.antecedent, Rule.consequent).where(
            Rule.run_id == run.id, Rule.kind == "product")).all()
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Rule).where(
            Rule.run_id == run.id, Rule.kind == "product"))
    assert {(a, b) for a, b in found} & {(a, b) for a, b in companions.items()}
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">\d+</td>", page)
    assert len(rows) == min(25, total)
    assert all(name.replace("&amp;", "&").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
               .replace("&#34;", '"') in products.values() for pair in rows for name in pair)
    second = client.get("/crm/admin/insights?kind=product&page=2").get_data(as_text=True)
    rows2 = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">\d+</td>", second)
    assert rows2 and not set(rows2) & set(rows)  # the next page holds other rules
    sequences = client.get("/crm/admin/insights?kind=sequence").get_data(as_text=True)
    assert "later bought" in sequences


def test_run_now_queues_and_the_cron_command_carries_it_out(segmented_app):
    marketer = logged_in(segmented_app, role="marketer")
    token = csrf_token(marketer, "/crm/admin/runs")
    queued = marketer.post("/crm/admin/runs/queue", data={"csrf_token": token}, follow_redirects=True)
    assert "is queued" in queued.get_data(as_text=True)
    again = marketer.post("/crm/admin/runs/queue", data={"csrf_token": token}, follow_redirects=True)
    assert "already waiting or running" in again.get_data(as_text=True)
    with segmented_app.app_context():
        waiting = db.session.scalars(sa.select(Run).where(Run.status == "queued")).all()
        assert len(waiting) == 1 and waiting[0].requested_by == "marketer@shop.test"
        queued_id = waiting[0].id
    result = segmented_app.test_cli_runner().invoke(args=["shopcrm", "run-queued"])
    assert result.exit_code == 0 and f"queued run #{queued_id}" in result.output, result.output
    assert "nothing queued" in segmented_app.test_cli_runner().invoke(args=["shopcrm", "run-queued"]).output
    with segmented_app.app_context():
        assert Run.current().id == queued_id
    listing = marketer.get("/crm/admin/runs").get_data(as_text=True)
    assert f"/crm/admin/runs/{queued_id}" in listing and "current" in listing
    detail = marketer.get(f"/crm/admin/runs/{queued_id}").get_data(as_text=True)
    words = text_of(detail)
    assert "Silhouette" in words and "Davies–bouldin" in words and "Stability" in words
    # The second run of the same shop: the migration matrix against the first, mostly on the diagonal.
    assert "Who moved where since run #" in words
    stayed = [int(n) for n in re.findall(r'<td class="num stayed">(\d+)</td>', detail)]
    cells = [int(n) for n in re.findall(r'<td class="num(?: stayed)?">(\d+)</td>', detail)]
    assert stayed and sum(stayed) > 0.9 * sum(cells)


def test_viewers_cannot_queue_runs(segmented_app):
    viewer = logged_in(segmented_app, role="viewer")
    page = viewer.get("/crm/admin/runs").get_data(as_text=True)
    assert "run-now" not in page
    token = csrf_token(viewer, "/crm/admin/runs")
    assert viewer.post("/crm/admin/runs/queue", data={"csrf_token": token}).status_code == 403
