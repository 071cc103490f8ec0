"""Marketer templates run on a budget: each way found to exhaust memory or time (huge strings,
huge lists, huge numbers, endless loops and recursion) is refused with a message naming the
limit — when the template is saved and again for each message — while the shipped templates
render as before."""
from __future__ import annotations

import re

import pytest

from shopcrm.campaigns import template_limits
from shopcrm.campaigns.templating import (
    TEMPLATE_NAMES,
    CompiledTemplates,
    default_template,
    sample_context,
    validate_templates,
)
from shopcrm.errors import TemplateError

FOOTER = {"unsubscribe_url": "https://crm.example/u/t", "shop_name": "Shop"}
FIFTY_MB = 50_000_000


@pytest.fixture
def no_clock(monkeypatch):
    """The wall clock out of the way: what refuses a payload here must be a counter or an estimate,
    so the refusal does not depend on how fast the machine is."""
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", 3600.0)


@pytest.mark.parametrize("payload,limit", [
    # strings of tens of megabytes
    ("{% set s = 'x' * 10000 %}{% for i in range(5000) %}{{ s }}{% endfor %}", "MAX_OUTPUT_CHARS"),
    (f"{{{{ 'x'|center({FIFTY_MB}) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ customer.first_name.ljust({FIFTY_MB}) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ 'x'.zfill({FIFTY_MB}) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ '{{:>{FIFTY_MB}}}'.format(customer.first_name) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ '{{:.{FIFTY_MB}f}}'.format(1.5) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ '%{FIFTY_MB}s'|format(coupon) }}}}", "MAX_VALUE_SIZE"),
    (f"{{{{ '%-{FIFTY_MB}s' % coupon }}}}", "MAX_VALUE_SIZE"),
    ("{{ range(9999)|join('x' * 5000) }}", "MAX_VALUE_SIZE"),
    ("{{ ('x' * 9000).replace('x', 'y' * 9000) }}", "MAX_VALUE_SIZE"),
    ("{{ ('\t' * 9000).expandtabs(9000) }}", "MAX_VALUE_SIZE"),
    ("{{ ('a\n' * 9000)|indent(9000) }}", "MAX_VALUE_SIZE"),
    ("{{ ('x' * 9000)|wordwrap(1, wrapstring='y' * 9000) }}", "MAX_VALUE_SIZE"),
    ("{% set ns = namespace(s='x' * 1000) %}{% for i in range(16) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
     "{{ ns.s|length }}", "MAX_VALUE_SIZE"),
    ("{% set a = ['x' * 9000] * 20 %}{% set b = [a, a, a, a] %}{% set c = [b, b, b, b] %}{{ c|join }}",
     "MAX_VALUE_SIZE"),
    ("{% set a = ['x' * 9000] * 20 %}{% set b = [a, a, a, a] %}{% set c = [b, b, b, b] %}{{ c }}",
     "MAX_VALUE_SIZE"),
    ("{% macro m() %}{% for i in range(9000) %}{{ 'x' * 9000 }}{% endfor %}{% endmacro %}{% set s = m() %}",
     "MAX_OUTPUT_CHARS"),
    ("{% for i in range(9000) %}" + "static text " * 1000 + "{% endfor %}", "MAX_OUTPUT_CHARS"),
    # lists of millions of items
    ("{{ ([0] * 1600000)|length }}", "MAX_VALUE_SIZE"),
    ("{{ (range(1600000)|list)|length }}", "MAX_RANGE"),
    ("{% set ns = namespace(l=[0] * 1000) %}{% for i in range(11) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"
     "{{ ns.l|length }}", "MAX_VALUE_SIZE"),
    ("{{ [1]|batch(1600000, 0)|list }}", "MAX_VALUE_SIZE"),
    ("{{ (range(9000)|list)|tojson(indent=100000) }}", "MAX_VALUE_SIZE"),
    # numbers of millions of digits
    ("{{ (9 ** 999) ** 999 }}", "MAX_INT_BITS"),
    ("{{ 9 ** 99999999 }}", "MAX_INT_BITS"),
    ("{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n % 7 }}",
     "MAX_INT_BITS"),
    # work without end
    ("{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}", "MAX_LOOP_ITERATIONS"),
    ("{% set r = range(9999)|list %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}"
     "{% endfor %}", "MAX_LOOP_ITERATIONS"),
    ("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}", "MAX_STEPS"),
    ("x" * 100_001, "MAX_SOURCE_CHARS"),
])
def test_exhaustion_payloads_are_refused_naming_the_limit(no_clock, payload, limit):
    with pytest.raises(TemplateError) as refused:
        validate_templates("Hi", payload, "x")
    message = str(refused.value)
    assert message.startswith("the template tried something that is not allowed") and limit in message, message


@pytest.mark.parametrize("payload,message", [
    ("{{ ([[1]] * 60000)|sum(start=[]) }}", "only numbers can be summed"),
    ("{{ 'abc'.translate({97: 'x' * 100000}) }}", "translate() is not available"),
    ("{{ '{:{}}'.format(1, 50000000) }}", "width taken from the arguments"),
    ("{{ '%*s' % (50000000, 'x') }}", "width taken from the arguments"),
    ("{{ lipsum(100000) }}", "unknown variable"),
])
def test_other_growth_paths_are_closed(no_clock, payload, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        validate_templates("Hi", payload, "x")


def test_a_template_is_checked_at_save_time_with_sample_data(segmented_app):
    from shopcrm.campaigns.service import create_campaign
    from shopcrm.campaigns.targets import default_offer_target

    with segmented_app.app_context(), pytest.raises(TemplateError, match="MAX_LOOP_ITERATIONS"):
        create_campaign("x", default_offer_target(), subject="Hi",
                        html="{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
                        text="x")


def test_the_limits_hold_again_for_each_message():
    """A template that passes with the sample data can still go over a limit with a real
    customer's data: that message is refused, the next one renders."""
    templates = CompiledTemplates("Hi {{ customer.first_name }}", "{{ customer.first_name * 5000 }}", "x")
    assert "Alex" * 5000 in templates.render(sample_context(), FOOTER).html
    long_name = sample_context()
    long_name["customer"] = {**long_name["customer"], "first_name": "A" * 100}
    with pytest.raises(TemplateError, match="MAX_VALUE_SIZE"):
        templates.render(long_name, FOOTER)
    assert templates.render(sample_context(), FOOTER).subject == "Hi Alex"


def test_the_budget_is_per_message():
    """Loops that fit once keep fitting message after message (nothing carries over)."""
    loop = "{% for i in range(3000) %}{{ i }}{% endfor %}"
    templates = CompiledTemplates("Hi", loop, loop)
    for _ in range(5):
        templates.render(sample_context(), FOOTER)
    with pytest.raises(TemplateError, match="MAX_LOOP_ITERATIONS"):
        CompiledTemplates("Hi", loop, loop + loop + loop).render(sample_context(), FOOTER)


def test_the_wall_clock_is_checked_while_rendering(monkeypatch):
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", -1.0)  # already spent
    with pytest.raises(TemplateError, match="RENDER_SECONDS"):
        validate_templates("Hi", "{% for p in products %}{{ p.name }}{% endfor %}", "x")


def test_shipped_templates_still_render_with_many_products():
    context = sample_context()
    context["products"] = [{**context["products"][0], "name": f"Product {i}"} for i in range(60)]
    context["cart"] = context["products"][:30]
    for name in TEMPLATE_NAMES:
        sources = default_template(name)
        rendered = CompiledTemplates(sources["subject"], sources["html"], sources["text"]).render(context, FOOTER)
        assert "Alex" in rendered.subject + rendered.text and FOOTER["unsubscribe_url"] in rendered.text, name
        if "{% for p in products %}" in sources["html"]:
            assert "Product 59" in rendered.html, name


def test_ordinary_template_features_still_work():
    html = ("{% macro price(p) %}<b>{{ p.price }}</b>{% endmacro %}"
            "{% for p in products %}{{ loop.index }}. {{ p.name|upper ~ '!' }} {{ price(p) }} "
            "{{ '%.1f'|format(loop.index / 2) }} {{ '{}/{}'.format(loop.index, loop.length) }}{% endfor %}"
            "{{ top_categories|join(', ') }} {{ (2 ** 10) * 3 }} {{ 'x'|center(9) }}|{{ customer.first_name ~ 1 }}")
    rendered = validate_templates("Hi {{ customer.first_name|title }}", html, "{{ products|length }} products")
    assert "1. SAMPLE PRODUCT! <b>€10.00</b> 0.5 1/2" in rendered.html
    assert "Category A, Category B 3072     x    |Alex1" in rendered.html
    assert rendered.subject == "Hi Alex" and "2 products" in rendered.text
