"""campaigns: content a marketer edits without template code, the statuses sending and sent, short tracked links

* ``crm_campaign.template`` (the shipped template a campaign started from), ``.content`` (preheader,
  heading, intro, button label, number of products) and ``.finished_at`` (when the last message
  went out);
* a launched campaign that was rendered is no longer "queued" for ever: it is "sending" while
  messages wait, "sent" once none does;
* ``crm_link``: the shop links of a campaign's emails by a short number, so a tracked link in a
  plain-text email is a few dozen characters instead of ~150;
* stock templates nobody edited (draft, scheduled and trigger campaigns whose subject, HTML and
  text are exactly a shipped version) are brought to the current shipped version: the old
  browse-abandonment template fails without a viewed product, the old cart template shows an
  empty list. An edited template is left as it is.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:00:00
"""
import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

#: SHA-256 of "subject\0html\0text" of the templates shipped before this revision (as
#: campaigns.templating.default_template read them: stripped, bodies ending in one newline).
OLD_STOCK = {
    "segment_offer": "bd71f586a665072753720667b7db4271668a450a625d538e932542e71151632f",
    "run_offer": "ff5afc6c839fbb3866f9f1db734990ba6d2f458e112b166668a8255172eb25db",
    "abandoned_cart": "458770f9f179c24276cc330df3cac4c5a5f773b8021dd8e63cf57a7a4000fecf",
    "browse_abandonment": "19faedfd7926f17c6a1514b7bc39d3299ee105cb406675129725b6d4e4bf15aa",
    "win_back": "28ff9033400f5df36d02c1a4be912948eda4f0b97becc33f046857e0ab1426bd",
}
EMAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"

campaign = sa.table("crm_campaign", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                    sa.column("status", sa.String), sa.column("subject", sa.Text), sa.column("html_body", sa.Text),
                    sa.column("text_body", sa.Text), sa.column("template", sa.String),
                    sa.column("finished_at", sa.DateTime))
message = sa.table("crm_message", sa.column("campaign_id", sa.Integer), sa.column("state", sa.String),
                   sa.column("sent_at", sa.DateTime), sa.column("created_at", sa.DateTime))


def _shipped(name):
    """The current shipped sources of ``name``, or None when the files are not there."""
    try:
        return tuple((EMAIL_TEMPLATES / f"{name}.{suffix}").read_text(encoding="utf-8").strip() + end
                     for suffix, end in (("subject.txt", ""), ("html", "\n"), ("txt", "\n")))
    except OSError:
        return None


def upgrade():
    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('content', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(), nullable=True))
    op.create_table('crm_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('url_hash', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['crm_campaign.id'], name=op.f('fk_crm_link_campaign_id_crm_campaign'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_link')),
    sa.UniqueConstraint('campaign_id', 'dedupe_key', 'url_hash', name='uq_crm_link_url')
    )

    conn = op.get_bind()
    waiting = sa.select(sa.func.count()).select_from(message).where(
        message.c.campaign_id == campaign.c.id, message.c.state.in_(("queued", "sending"))).scalar_subquery()
    last_sent = sa.select(sa.func.max(sa.func.coalesce(message.c.sent_at, message.c.created_at))).where(
        message.c.campaign_id == campaign.c.id).scalar_subquery()
    conn.execute(campaign.update().where(campaign.c.status == "queued", waiting > 0).values(status="sending"))
    conn.execute(campaign.update().where(campaign.c.status == "queued").values(status="sent", finished_at=last_sent))

    conn.execute(campaign.update().where(campaign.c.kind != "campaign").values(template=campaign.c.kind))
    old_stock = {digest: name for name, digest in OLD_STOCK.items()}
    rows = conn.execute(sa.select(campaign.c.id, campaign.c.subject, campaign.c.html_body, campaign.c.text_body)
                        .where(campaign.c.status.in_(("draft", "scheduled", "trigger")))).all()
    for row in rows:
        digest = hashlib.sha256("\x00".join((row.subject, row.html_body, row.text_body)).encode("utf-8")).hexdigest()
        name = old_stock.get(digest)
        current = _shipped(name) if name else None
        if current is not None:
            conn.execute(campaign.update().where(campaign.c.id == row.id).values(
                subject=current[0], html_body=current[1], text_body=current[2], template=name))


def downgrade():
    conn = op.get_bind()
    conn.execute(campaign.update().where(campaign.c.status.in_(("sending", "sent"))).values(status="queued"))
    op.drop_table('crm_link')
    with op.batch_alter_table('crm_campaign', schema=None) as batch_op:
        batch_op.drop_column('finished_at')
        batch_op.drop_column('content')
        batch_op.drop_column('template')
