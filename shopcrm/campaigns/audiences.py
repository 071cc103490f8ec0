"""Ready-made audiences: who the panel suggests mailing today, each with the template that suits.

The dashboard's action cards count them (``targets.audience_count``) and link to a new
campaign prefilled with one (``/crm/admin/campaigns/new?audience=<key>``); the campaign form
offers them as starting points. A target here uses only the keys ``targets.check_target``
knows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..vocab import POTENTIAL_PROFITABLE


@dataclass(frozen=True)
class Audience:
    key: str
    name: str  # what the owner reads: a campaign's default name too
    why: str  # one line under the name
    target: dict
    template: str  # a shipped template (templating.TEMPLATE_NAMES)


AUDIENCES = {a.key: a for a in (
    Audience("win_back", "Win back customers about to leave",
             "They used to buy regularly and have gone quiet for longer than usual.",
             {"churn_risk": True}, "win_back"),
    Audience("welcome", "Welcome new customers",
             "They signed up in the last three months: a first offer while the shop is fresh in their mind.",
             {"actions": ["welcome_offer"]}, "segment_offer"),
    Audience("first_order", "Turn sign-ups into buyers",
             "They have an account but never ordered.",
             {"actions": ["first_purchase_incentive"]}, "segment_offer"),
    Audience("best_customers", "Thank your best customers",
             "Your high-value customers: reward them before they drift.",
             {"value_types": ["high_value"]}, "segment_offer"),
    Audience("potential_profitable", "Offer to the customers most likely to buy",
             "High value, growing and new customers together.",
             {"value_types": list(POTENTIAL_PROFITABLE)}, "segment_offer"),
    # added for the panel's customer groups (segments page): one ready-made audience per group that has one
    Audience("growing", "Keep growing customers coming",
             "They started buying recently, or spend much more than before.",
             {"value_types": ["most_growth"]}, "segment_offer"),
    Audience("upsell", "Suggest bigger baskets",
             "Their orders are smaller than the shop's usual order.",
             {"actions": ["upsell"]}, "segment_offer"),
    Audience("cross_sell", "Suggest related products",
             "Buyers who may like products from other categories.",
             {"actions": ["cross_sell"]}, "segment_offer"),
    Audience("predicted_best", "Your predicted best customers",
             "The tenth of your buyers expected to spend the most in the coming months.",
             {"predicted_top_percent": 10}, "segment_offer"),
)}


def audience(key: str) -> Audience | None:
    return AUDIENCES.get(key)
