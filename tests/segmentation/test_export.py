"""`flask shopcrm export customers`: every customer of a run as a CSV a spreadsheet opens safely,
written a chunk at a time."""
import csv
import io
import shutil
import tracemalloc

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.extensions import db
from shopcrm.models import Membership, Run, Segment
from shopcrm.segmentation.export import EXPORT_COLUMNS, customer_rows
from shopcrm.vocab import ACTION_LABELS, VALUE_TYPE_LABELS
from tests.support.apps import base_config, dispose
from tests.support.campaigns import shop_execute

COLUMNS = ["customer_id", "email", "segment", "value_type", "rfm_r", "rfm_f", "rfm_m", "churn_risk", "churn_score",
           "p_alive", "expected_orders", "expected_value", "recommended_action"]


def read_export(path):
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode("utf-8"))  # UTF-8 with a byte-order mark
    text = raw.decode("utf-8-sig")
    lines = text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)  # every field quoted
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def exportable(tmp_path, segmented_template, shop_file):
    """The segmented demo run, reading a shop copy this test may change."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop_file}"))
    yield app
    dispose(app)


def test_every_customer_with_every_column_in_order(exportable, tmp_path):
    out = tmp_path / "customers.csv"
    result = exportable.test_cli_runner().invoke(args=["shopcrm", "export", "customers", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_export(out)
    assert list(rows[0]) == COLUMNS == list(EXPORT_COLUMNS)
    with exportable.app_context():
        run = Run.current()
        members = db.session.scalars(sa.select(Membership).where(Membership.run_id == run.id))
        stored = {m.customer_id: m for m in members}
        names = dict(db.session.execute(sa.select(Segment.id, Segment.name).where(Segment.run_id == run.id)).all())
    assert f"wrote {len(stored):,} customers of run #{run.id} to {out}" in result.output
    assert [int(r["customer_id"]) for r in rows] == sorted(stored)
    for r in rows:
        m = stored[int(r["customer_id"])]
        assert r["value_type"] == VALUE_TYPE_LABELS[m.value_type]
        assert r["segment"] == (names[m.segment_id] if m.segment_id else "")
        assert r["recommended_action"] == ACTION_LABELS[m.action]  # the panel's words, like the value type
        if m.recency_days is None:  # never bought: nothing of RFM, churn or predictions applies
            assert [r[c] for c in COLUMNS[4:12]] == [""] * 8
        else:
            assert r["churn_risk"] == ("yes" if m.churn_risk else "no")
            assert float(r["churn_score"]) == pytest.approx(m.churn_score, abs=5e-5)
            assert float(r["expected_value"]) == pytest.approx(m.expected_value, abs=0.005)
            assert float(r["p_alive"]) == pytest.approx(m.p_alive, abs=5e-5)
            assert int(r["rfm_f"]) == m.rfm_f
    assert sum(1 for r in rows if r["email"]) > 0.9 * len(rows)


def test_cells_a_spreadsheet_would_run_are_neutralised(exportable, shop_file, tmp_path):
    with exportable.app_context():
        customer = db.session.scalar(sa.select(Membership.customer_id).where(
            Membership.run_id == Run.current().id).order_by(Membership.customer_id).limit(1))
    shop_execute(shop_file, "UPDATE customers SET email = ? WHERE customer_id = ?",
                 ('=HYPERLINK("http://evil.test";"x")@x.org', customer))
    out = tmp_path / "customers.csv"
    assert exportable.test_cli_runner().invoke(args=["shopcrm", "export", "customers", "-o", str(out)]).exit_code == 0
    row = next(r for r in read_export(out) if int(r["customer_id"]) == customer)
    assert row["email"].startswith("'=HYPERLINK")


def test_the_terminal_and_a_chosen_run(exportable):
    result = exportable.test_cli_runner().invoke(args=["shopcrm", "export", "customers", "-o", "-"])
    assert result.exit_code == 0
    assert result.stdout.startswith('\ufeff"customer_id","email","segment"')
    with exportable.app_context():
        run_id = Run.current().id
        failed = Run(kind="segmentation", status="failed")
        db.session.add(failed)
        db.session.commit()
        failed_id = failed.id
    chosen = exportable.test_cli_runner().invoke(args=["shopcrm", "export", "customers", "--run", str(run_id),
                                                       "-o", "-"])
    assert chosen.exit_code == 0 and chosen.stdout == result.stdout
    for run, message in ((failed_id, f"run #{failed_id} is failed, not succeeded"), (9999, "there is no run #9999")):
        bad = exportable.test_cli_runner().invoke(args=["shopcrm", "export", "customers", "--run", str(run)])
        assert bad.exit_code != 0 and message in bad.output and "Traceback" not in bad.output


def test_no_run_yet_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["shopcrm", "export", "customers"])
    assert result.exit_code != 0 and "no segmentation run yet" in result.output


class Discard:
    def write(self, text):
        return len(text)


def _peak_while_exporting(app, customers: int) -> float:
    """Peak memory (MB, tracemalloc) while a run of ``customers`` memberships is turned into rows."""
    with app.app_context():
        run = Run(kind="segmentation", status="succeeded")
        db.session.add(run)
        db.session.flush()
        db.session.execute(sa.insert(Membership), [
            {"run_id": run.id, "customer_id": i, "value_type": "ordinary", "frequency": 2, "monetary": 80.0,
             "rfm_r": 3, "rfm_f": 2, "rfm_m": 4, "churn_score": 0.25, "churn_risk": False, "action": "upsell",
             "p_alive": 0.8, "expected_orders": 0.4, "expected_value": 31.5, "recency_days": 40.0}
            for i in range(1, customers + 1)])
        db.session.commit()
        sink = csv.writer(Discard(), quoting=csv.QUOTE_ALL)
        tracemalloc.start()
        count = 0
        for row in customer_rows(run, lambda ids: {i: f"c{i}@shop.test" for i in ids}):
            sink.writerow(row)
            count += 1
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        assert count == customers + 1
    return peak


@pytest.mark.slow  # tens of thousands of rows, traced by tracemalloc
def test_memory_stays_flat_whatever_the_number_of_customers(app):
    small = _peak_while_exporting(app, 5_000)
    large = _peak_while_exporting(app, 40_000)
    print(f"peak while exporting 5,000 customers {small:.2f} MB, 40,000 customers {large:.2f} MB")
    assert large < 1.5 * small + 0.5 and large < 10, (small, large)
