"""The fault suite: the real commands as processes against real MariaDB, SQLite, SMTP servers
on loopback and faults done on purpose (kills, dropped and silent connections, lost replies).
The scenarios and what must hold after each live in tests/support/fault_scenarios.py, which
``scripts/fault_run.py`` runs on a hosting admin's machine too (docs/FAULTS.md)."""
import pytest

from tests.support import fault_scenarios as scenarios

pytestmark = pytest.mark.slow


@pytest.fixture
def rig(tmp_path, demo_shop_file, mariadb_server_url):
    rig = scenarios.Rig(tmp_path, mariadb_server_url, shop_file=demo_shop_file)
    yield rig
    rig.close()


def _passes(outcome: scenarios.Outcome) -> None:
    assert not outcome.problems, f"{outcome.name}: {outcome.problems} ({outcome.figures})"


def test_kill_storm_delivers_everything_once_but_one_in_doubt_per_kill(rig):
    _passes(scenarios.kill_storm(rig))


def test_senders_at_once_send_nothing_twice(rig):
    _passes(scenarios.concurrent_senders(rig))


def test_smtp_down_fails_the_run_loses_nothing_and_a_drop_mid_batch_is_retried(rig):
    _passes(scenarios.smtp_down(rig))


@pytest.mark.parametrize("late", [False, True], ids=["dropped", "too-late"])
def test_a_lost_reply_is_in_doubt_never_a_duplicate(rig, late):
    _passes(scenarios.lost_reply(rig, late=late))


def test_shopcrms_database_going_away_mid_send_is_one_line_and_the_next_run_finishes(rig):
    _passes(scenarios.database_goes_away(rig))


def test_the_shop_going_away_or_hanging_during_segment_is_one_line_and_bounded(rig):
    _passes(scenarios.shop_goes_away_mid_segment(rig))


def test_a_killed_segment_does_not_block_the_next_one(rig):
    _passes(scenarios.killed_segment(rig))


def test_a_silent_shop_database_leaves_pages_bounded_and_the_dashboard_fast(rig):
    _passes(scenarios.silent_shop_pages(rig))
