"""What cron and an admin see when delivery fails: ``send`` exits non-zero with a summary line
when nothing could be delivered (naming MAIL_SERVER/MAIL_PORT), zero when something was; a
campaign's figures from shopcrm's own database are shown even when the shop is down."""
import re
import socket
import threading

import pytest

from shopcrm import create_app
from tests.support.apps import base_config, dispose
from tests.support.campaigns import DroppingHandler, consenting_customers, queue_campaign, start_smtp, use_smtp
from tests.support.smtp import free_port


class Hangup:
    """A "mail server" that accepts every connection and closes it at once."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.close()

    def close(self):
        self.listener.close()


@pytest.fixture
def hangup():
    server = Hangup()
    yield server
    server.close()


def _send(app):
    return app.test_cli_runner().invoke(args=["shopcrm", "send"])


@pytest.mark.parametrize("server", ["nobody listens", "hangs up"])
def test_send_fails_when_nothing_could_be_delivered(outbox_app, shop_file, hangup, server):
    port = free_port() if server == "nobody listens" else hangup.port
    use_smtp(outbox_app, port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    result = _send(outbox_app)
    assert result.exit_code == 1, result.output
    assert "sent 0," in result.output
    assert (f"error: nothing was delivered: cannot connect to the mail server 127.0.0.1:{port} "
            "(MAIL_SERVER, MAIL_PORT)") in result.output
    assert "3 message(s) wait for the next run" in result.output
    assert "Traceback" not in result.output


def test_send_succeeds_when_some_were_delivered_and_when_nothing_was_due(outbox_app, shop_file):
    handler, controller = start_smtp(DroppingHandler(accept=2))
    try:
        use_smtp(outbox_app, handler.port)
        assert _send(outbox_app).exit_code == 0  # nothing due
        queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 4)])
        result = _send(outbox_app)
        assert result.exit_code == 0, result.output  # 2 delivered, the rest waits: a warning, not a failure
        assert "sent 2," in result.output and f"warning: lost the connection to the mail server 127.0.0.1:" \
            f"{handler.port} (MAIL_SERVER, MAIL_PORT)" in result.output
    finally:
        controller.stop()


def test_send_fails_when_the_shop_cannot_be_checked(outbox_app, shop_file, smtp_server, tmp_path):
    use_smtp(outbox_app, smtp_server.port)
    queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 2)])
    down = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI="mysql+pymysql://reader@127.0.0.1:1/shop",
                                  MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port))
    try:
        result = _send(down)
        assert result.exit_code == 1 and "cannot check consent" in result.output, result.output
        assert not smtp_server.messages
    finally:
        dispose(down)


def test_campaign_show_prints_the_outbox_figures_when_the_shop_is_down(outbox_app, shop_file, smtp_server, tmp_path):
    use_smtp(outbox_app, smtp_server.port)
    campaign_id = queue_campaign(outbox_app, [c for c, _, _ in consenting_customers(shop_file, 3)])
    assert _send(outbox_app).exit_code == 0
    down = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI="mysql+pymysql://reader@127.0.0.1:1/shop"))
    try:
        result = down.test_cli_runner().invoke(args=["shopcrm", "campaign", "show", str(campaign_id)])
        assert result.exit_code == 0, result.output
        # the figures from shopcrm's own database, however the command lays them out
        assert re.search(r"(sent|delivered)\W{0,4}3\b|\b3\W{0,4}sent", result.output), result.output
        assert "orders and revenue could not be counted: cannot reach the shop database" in result.output
    finally:
        dispose(down)
