"""Migration 0010 on a database that holds campaigns from before it: a rendered campaign is no longer
"queued" for ever (sending while messages wait, sent once none does), and a stock template nobody
edited is brought to the current shipped version while an edited one is left alone."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from shopcrm import create_app
from shopcrm.campaigns.templating import default_template
from shopcrm.extensions import db
from tests.support.apps import base_config, dispose

#: The browse-abandonment template shipped before 0010 (it fails without a viewed product).
OLD_BROWSE = (
    "Still thinking about {{ viewed.name }}, {{ customer.first_name }}?",
    """<p>Hello {{ customer.first_name }},</p>
<p>You had a look at this recently:</p>
<table role="presentation" cellspacing="0" cellpadding="0" width="100%" style="border-collapse:collapse;">
<tr>
{% if viewed.image_url %}<td style="padding:8px 12px 8px 0;width:96px;"><img src="{{ viewed.image_url }}" width="96" alt="" style="display:block;border:0;"></td>{% endif %}
<td style="padding:8px 0;"><a href="{{ viewed.url }}" style="color:#0b69a3;font-size:17px;">{{ viewed.name }}</a><br>{{ viewed.price }}</td>
</tr>
</table>
{% if coupon %}
<p>If it is the one, the code <strong>{{ coupon }}</strong> makes it a little cheaper.</p>
{% endif %}
{% if products %}
<p style="margin-top:24px;">Others also liked:</p>
<ul>
{% for p in products %}
<li><a href="{{ p.url }}" style="color:#0b69a3;">{{ p.name }}</a> {{ p.price }}</li>
{% endfor %}
</ul>
{% endif %}
""",
    """Hello {{ customer.first_name }},

You had a look at this recently:

{{ viewed.name }} ({{ viewed.price }}): {{ viewed.url }}
{% if coupon %}

If it is the one, the code {{ coupon }} makes it a little cheaper.
{% endif %}
{% if products %}

Others also liked:
{% for p in products %}
- {{ p.name }} ({{ p.price }}): {{ p.url }}
{% endfor %}
{% endif %}
""")


@pytest.mark.parametrize("database", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_campaigns_from_before_0012_are_brought_along(tmp_path, request, database):
    settings = {}
    if database == "mariadb":
        settings["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("mariadb_database")()
    app = create_app(base_config(tmp_path, **settings))
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory, revision="0009")
        conn = db.session.connection()
        insert = sa.text("INSERT INTO crm_campaign (id, name, kind, status, target, subject, html_body, text_body, "
                         "created_at) VALUES (:id, :name, :kind, :status, '{}', :subject, :html, :text, "
                         "'2026-11-01 08:00:00')")
        subject, html, text = OLD_BROWSE
        for row in ({"id": 1, "name": "Done", "kind": "campaign", "status": "queued"},
                    {"id": 2, "name": "Busy", "kind": "campaign", "status": "queued"},
                    {"id": 3, "name": "Browse", "kind": "browse_abandonment", "status": "trigger"},
                    {"id": 4, "name": "Edited", "kind": "browse_abandonment", "status": "trigger"}):
            conn.execute(insert, {**row, "subject": subject, "html": html + ("<p>mine</p>" if row["id"] == 4 else ""),
                                  "text": text})
        message = sa.text("INSERT INTO crm_message (campaign_id, customer_id, dedupe_key, email, email_hash, subject, "
                          "html, text, state, attempts, next_attempt_at, created_at, sent_at, click_count) VALUES "
                          "(:c, :k, '', 'a@example.org', 'h', 's', 'h', 't', :state, 0, '2026-11-01 08:00:00', "
                          "'2026-11-01 08:00:00', :sent, 0)")
        conn.execute(message, {"c": 1, "k": 1, "state": "sent", "sent": "2026-11-01 09:30:00"})
        conn.execute(message, {"c": 1, "k": 2, "state": "suppressed", "sent": None})
        conn.execute(message, {"c": 2, "k": 1, "state": "sent", "sent": "2026-11-01 09:00:00"})
        conn.execute(message, {"c": 2, "k": 2, "state": "queued", "sent": None})
        db.session.commit()
        upgrade(directory=directory)
        rows = {r.id: r for r in db.session.execute(sa.text(
            "SELECT id, status, finished_at, template, subject, html_body, text_body FROM crm_campaign"))}
    dispose(app)
    assert rows[1].status == "sent" and str(rows[1].finished_at).startswith("2026-11-01 09:30:00")
    assert rows[2].status == "sending" and rows[2].finished_at is None
    shipped = default_template("browse_abandonment")
    assert (rows[3].subject, rows[3].html_body, rows[3].text_body) == (shipped["subject"], shipped["html"],
                                                                        shipped["text"])
    assert rows[3].template == "browse_abandonment"
    assert rows[4].html_body.endswith("<p>mine</p>") and rows[4].subject == subject  # edited: left alone
