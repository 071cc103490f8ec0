"""shopcrm's vocabulary: every word that more than one part of the code uses, defined once.

Stored values are the short machine words on the left (they are in ``crm_`` tables and in
exported files); what a shop owner reads is in the label tables beside them. Nothing here
imports anything of shopcrm, so every layer may use it.
"""
from __future__ import annotations

# --- people ------------------------------------------------------------------------------------------
ROLES = ("admin", "marketer", "viewer")

# --- the analyses ------------------------------------------------------------------------------------
#: Seed 004's six customer types, in the order their rules are applied (the first that matches wins).
VALUE_TYPES = ("new", "negative", "most_growth", "high_value", "ordinary", "below_average")
#: The value types of the three k-means value clusters, by cluster rank (0 high, 1 average, 2 low).
RANK_TYPES = ("high_value", "ordinary", "below_average")
#: Seed 004's "potential profitable" customers: the default audience of an offer.
POTENTIAL_PROFITABLE = ("high_value", "most_growth", "new")
VALUE_TYPE_LABELS = {
    "new": "New",
    "negative": "Negative (never bought)",
    "most_growth": "Most growth",
    "high_value": "High value",
    "ordinary": "Ordinary",
    "below_average": "Below average",
}

#: Seed 003's recommended actions, in the order their rules are applied (the first that matches wins):
ACTIONS = (
    "welcome_offer",             # 1. a new account (value type "new"): welcome them
    "first_purchase_incentive",  # 2. never bought ("negative"): a reason to place a first order
    "reactivation",              # 3. a buyer at churn risk: win them back before they are gone
    "loyalty_reward",            # 4. a high-value buyer: reward and keep them
    "upsell",                    # 5. a buyer whose average order is below the shop's median: bigger baskets
    "cross_sell",                # 6. every other buyer: related products from other categories
)

#: The churn rankings a run's backtest compares (``mining.forecast``), in the owner's words.
CHURN_RANKING_LABELS = {
    "days_since_last": "Days since the last purchase",
    "rfm": "RFM score, lowest first",
    "bgnbd_dropout": "Chance of having stopped (lifetime model)",
    "bgnbd_purchases": "Fewest purchases expected (lifetime model)",
    "classifier": "Learnt from the shop's own past (classifier)",
}
#: How the best customers can be picked (the value rankings of a run and of ``backtest``), in the owner's words.
VALUE_RANKING_LABELS = {
    "expected_value": "Predicted value (lifetime model)",
    "high_value": "“High value” type",
    "rfm": "RFM score",
    "ceiling": "What they really spent (the ceiling)",
}

#: What interest segments are computed on, and how they are clustered.
LEVELS = ("category", "brand", "both")
ALGORITHMS = ("kmeans", "agglomerative")
#: Association and sequence rules a run finds (seed 002).
RULE_KINDS = ("product", "category", "sequence")

# --- runs, campaigns, the outbox --------------------------------------------------------------------
RUN_STATES = ("queued", "running", "succeeded", "failed")
#: A trigger's standing campaign is of its kind; a campaign made by hand is of kind "campaign".
TRIGGER_KINDS = ("run_offer", "abandoned_cart", "browse_abandonment", "win_back")
#: Triggered reminders: the frequency cap may exempt them (SHOPCRM_CAP_EXEMPT_REMINDERS).
REMINDER_KINDS = ("abandoned_cart", "browse_abandonment")
#: Outbox rows that count as mailed (or about to be): a trigger does not mail them again meanwhile.
LIVE_MESSAGE_STATES = ("queued", "sending", "sent")

#: Why an address must never be mailed again.
SUPPRESSION_REASONS = ("unsubscribed", "hard_bounce", "complaint", "soft_bounce", "manual", "forgotten")
#: Suppressions a shopper may lift themselves (from their own page).
RESUBSCRIBABLE = ("unsubscribed",)
#: How often a shopper wants marketing e-mail, and the days between two messages it allows.
FREQUENCY_DAYS = {"weekly": 7, "monthly": 30}
FREQUENCIES = ("normal", *FREQUENCY_DAYS)
