"""Targeting stored results (segments, value types, RFM, churn, action, location, source) and
the templates admins edit: sandbox escapes refused, shop data escaped, good defaults."""
import pytest
import sqlalchemy as sa

from shopcrm.campaigns.service import create_campaign, update_campaign
from shopcrm.campaigns.targets import audience_count, check_target, default_offer_target, describe
from shopcrm.campaigns.templating import TEMPLATE_NAMES, CompiledTemplates, sample_context, validate_templates
from shopcrm.errors import CampaignError, TemplateError
from shopcrm.extensions import db
from shopcrm.models import Membership, Run

FOOTER = {"unsubscribe_url": "https://crm.example/u/t", "shop_name": "Shop"}


def member_ids(**where) -> set[int]:
    run = Run.current()
    query = sa.select(Membership.customer_id).where(Membership.run_id == run.id)
    for column, values in where.items():
        query = query.where(getattr(Membership, column).in_(values))
    return set(db.session.scalars(query))


def test_targets_filter_every_stored_result(segmented_app):
    with segmented_app.app_context():
        run = Run.current()
        ids = sorted(db.session.scalars(sa.select(Membership.customer_id).where(Membership.run_id == run.id)))
        # Set by hand for a known answer: first everyone's pipeline values cleared, then 300 set.
        db.session.execute(sa.update(Membership).where(Membership.run_id == run.id).values(
            rfm_r=None, rfm_f=None, rfm_m=None, churn_risk=False, churn_score=None, action=None, country=None,
            region=None, city=None, source=None))
        for i, cid in enumerate(ids[:300]):
            db.session.execute(sa.update(Membership).where(Membership.run_id == run.id, Membership.customer_id == cid)
                               .values(rfm_r=1 + i % 5, rfm_f=1 + (i // 5) % 5, rfm_m=1 + (i // 25) % 5,
                                       churn_risk=i % 3 == 0, churn_score=(i % 10) / 10,
                                       action=["reactivation", "upsell", "cross_sell"][i % 3],
                                       country=["DE", "FR"][i % 2], region="Bavaria" if i % 4 == 0 else "Other",
                                       city="Munich" if i % 8 == 0 else "Elsewhere",
                                       source=["newsletter", "organic", "facebook"][i % 3]))
        db.session.commit()
        first = ids[:300]
        cases = [
            ({"rfm": {"r": [4, 5]}}, {c for i, c in enumerate(first) if 1 + i % 5 >= 4}),
            ({"rfm": {"r": [5, 5], "m": [1, 2]}}, {c for i, c in enumerate(first) if i % 5 == 4 and (i // 25) % 5 < 2}),
            ({"churn_risk": True}, {c for i, c in enumerate(first) if i % 3 == 0}),
            ({"churn_risk": True, "min_churn_score": 0.5}, {c for i, c in enumerate(first) if i % 3 == 0 and i % 10 >= 5}),
            ({"actions": ["upsell", "cross_sell"]}, {c for i, c in enumerate(first) if i % 3 != 0}),
            ({"countries": ["FR"], "cities": ["Munich"]}, set()),
            ({"countries": ["DE"], "regions": ["Bavaria"]}, {c for i, c in enumerate(first) if i % 4 == 0}),
            ({"sources": ["newsletter"], "actions": ["reactivation"]}, {c for i, c in enumerate(first) if i % 3 == 0}),
            (default_offer_target(), member_ids(value_type=["high_value", "most_growth", "new"])),
        ]
        segment = max(run.segments, key=lambda s: s.size)
        cases.append(({"segment_names": [segment.name], "value_types": ["new"]},
                      member_ids(segment_id=[segment.id]) & member_ids(value_type=["new"])))
        for target, expected in cases:
            assert audience_count(target) == len(expected), target
        assert describe(check_target({"rfm": {"r": [4, 5]}, "churn_risk": True})) == "how recently they bought 4–5 of 5; at risk of leaving"


@pytest.mark.parametrize("target,message", [
    ({}, "needs a target"),
    ({"run_id": 1}, "needs a target"),
    ({"rfm": {"x": [1, 2]}}, "unknown score"),
    ({"rfm": {"r": [4, 9]}}, "1 ≤ low ≤ high ≤ 5"),
    ({"rfm": {"r": "high"}}, "range like"),
    ({"churn_risk": "yes"}, "true or false"),
    ({"min_churn_score": 2}, "between 0 and 1"),
    ({"actions": ["spam_everyone"]}, "unknown action"),
    ({"countries": [""]}, "at least one value"),
    ({"segment_ids": ["three"]}, "whole numbers"),
    ({"favourite_colour": "red"}, "unknown target key"),
])
def test_bad_targets_are_refused_with_a_reason(segmented_app, target, message):
    with segmented_app.app_context(), pytest.raises(CampaignError, match=message):
        check_target(target)


@pytest.mark.parametrize("payload", [
    "{{ customer.__class__ }}",
    "{{ customer.first_name.__class__.__mro__ }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ customer|attr('__class__') }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__}'.format(customer) }}",
    "{{ customer.update({'first_name': 'x'}) }}",
    "{{ products.append(1) }}",
    "{{ 'x' * 1000000000 }}",
    "{{ 9 ** 99999999 }}",
    "{% for i in range(100000000) %}{% endfor %}",
])
def test_sandbox_escapes_and_resource_bombs_are_refused(segmented_app, payload):
    with segmented_app.app_context():
        with pytest.raises(TemplateError) as refused:
            create_campaign("x", default_offer_target(), subject="Hi", html=payload, text="x")
        assert str(refused.value).startswith(("the template tried something that is not allowed",
                                              "the template uses an unknown variable",
                                              "the template failed to render"))


def test_everything_from_the_shop_is_escaped_in_html(segmented_app):
    with segmented_app.app_context():
        context = sample_context()
        context["customer"]["first_name"] = "<img src=x onerror=alert(1)>"
        context["products"][0]["name"] = "<script>alert('xss')</script>"
        context["viewed"] = {**context["viewed"], "name": '"><svg onload=alert(1)>'}
        context["cart"] = [{**context["cart"][0], "name": "</a><script>x</script>"}]
        for name in TEMPLATE_NAMES:
            from shopcrm.campaigns.templating import default_template

            sources = default_template(name)
            rendered = CompiledTemplates(sources["subject"], sources["html"], sources["text"]).render(context, FOOTER)
            assert "<script>" not in rendered.html and "<img src=x" not in rendered.html, name
            assert "<svg" not in rendered.html and "\n" not in rendered.subject, name
            assert "Unsubscribe" in rendered.html and FOOTER["unsubscribe_url"] in rendered.text, name


def test_default_templates_render_with_every_variable(segmented_app):
    with segmented_app.app_context():
        for name in TEMPLATE_NAMES:
            from shopcrm.campaigns.templating import default_template

            sources = default_template(name)
            rendered = validate_templates(sources["subject"], sources["html"], sources["text"])
            assert "Alex" in rendered.subject + rendered.text, name
            assert "SAMPLE10" in rendered.text and "SAMPLE10" in rendered.html, name
        with pytest.raises(TemplateError, match="no default email template"):
            default_template("../../etc/passwd")


def test_templates_are_checked_when_edited(segmented_app):
    with segmented_app.app_context():
        campaign = create_campaign("Edit me", default_offer_target())
        db.session.commit()
        with pytest.raises(TemplateError, match="unknown variable"):
            update_campaign(campaign, subject="Hi {{ customer.shoe_size }}")
        with pytest.raises(TemplateError, match="line 1"):
            update_campaign(campaign, html="{% for %}")
        update_campaign(campaign, subject="Hi {{ customer.first_name }}", coupon=" SPRING ")
        assert campaign.coupon == "SPRING"
        campaign.status = "queued"
        with pytest.raises(CampaignError, match="only draft or scheduled"):
            update_campaign(campaign, name="Too late")
