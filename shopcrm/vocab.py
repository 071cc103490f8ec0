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
VALUE_TYPE_LABELS = {  # the shop owner's names for them (the machine words stay in tables and files)
    "new": "New sign-ups",
    "negative": "Never bought",
    "most_growth": "Growing",
    "high_value": "Best customers",
    "ordinary": "Regulars",
    "below_average": "Occasional buyers",
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


# --- what the shop owner reads (labels and one-line explanations) ------------------------------------
#: One line under (or on hover over) each value type's name.
VALUE_TYPE_HELP = {
    "new": "Signed up in the last three months.",
    "negative": "Have an account but have never ordered.",
    "most_growth": "Started buying recently, or spend much more than before.",
    "high_value": "Order often and spend the most.",
    "ordinary": "Order now and then and spend about the average.",
    "below_average": "Order rarely and spend little.",
}
#: When the last order was: key -> (lowest days, exclusive; highest days, inclusive); "never": no
#: order at all. The panel's customer filter and the run's cube count by these.
LAST_ORDER = {"30": (None, 30), "90": (30, 90), "365": (90, 365), "older": (365, None)}
#: The code a membership stores for its bucket (crm_membership.last_order), so that one index
#: range holds a country's customers of one bucket.
LAST_ORDER_CODES = {"never": 0, "30": 1, "90": 2, "365": 3, "older": 4}
#: Whether a customer might leave (the run's churn risk), as the filter and the group say it.
RISK_LABELS = {"yes": "At risk of leaving", "no": "Not at risk"}
RISK_HELP = {"yes": "Used to buy regularly and have gone quiet for longer than usual.",
             "no": "Buying as usual, or too new to tell."}
#: The three RFM scores (1 to 5, 5 best), in the owner's words.
RFM_LABELS = {"r": "how recently they bought", "f": "how often they buy", "m": "how much they spend"}
#: The recommended action of each customer, as the thing to do.
ACTION_LABELS = {
    "welcome_offer": "Welcome them",
    "first_purchase_incentive": "Nudge to a first order",
    "reactivation": "Win them back",
    "loyalty_reward": "Reward their loyalty",
    "upsell": "Suggest bigger baskets",
    "cross_sell": "Suggest related products",
}
ACTION_HELP = {
    "welcome_offer": "New sign-ups: a welcome offer while the shop is fresh in their mind.",
    "first_purchase_incentive": "An account but no order yet: a reason to place the first one.",
    "reactivation": "Used to buy regularly and have gone quiet for longer than usual.",
    "loyalty_reward": "Your best customers: thank them and keep them.",
    "upsell": "Their orders are smaller than the shop's usual order.",
    "cross_sell": "Buyers who may like products from other categories.",
}
#: Where customers came from, as the shop's own data names it (unknown names are tidied by source_label).
SOURCE_LABELS = {
    "organic": "Search engines", "google_ads": "Google Ads", "facebook": "Facebook", "instagram": "Instagram",
    "newsletter": "Newsletter", "referral": "Recommended by a site", "affiliate": "Affiliates", "direct": "Direct",
    "email": "E-mail", "tiktok": "TikTok", "bing_ads": "Bing Ads", "meta_ads": "Meta Ads",
}
#: Why an address gets no marketing e-mail, for the panel.
SUPPRESSION_LABELS = {
    "unsubscribed": "Unsubscribed", "hard_bounce": "Bounced (address does not exist)",
    "complaint": "Marked as spam", "soft_bounce": "Bounced too often (mailbox full or unavailable)",
    "manual": "Blocked by the shop", "forgotten": "Asked to be forgotten",
}
#: What a timeline entry is.
EVENT_LABELS = {"view": "Viewed", "cart": "Cart", "order": "Order", "email": "E-mail", "click": "Clicked"}


def source_label(source: str | None) -> str:
    """``google_ads`` → ``Google Ads``; a source the table does not know is tidied (``my_blog`` → ``My blog``)."""
    if not source:
        return "Unknown"
    known = SOURCE_LABELS.get(str(source).strip().lower())
    if known:
        return known
    text = str(source).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


#: Why an e-mail was not sent (the reason words of the outbox), for the panel.
REASON_LABELS = {
    **{k: v.lower() for k, v in SUPPRESSION_LABELS.items()},
    "customer_gone": "the customer is no longer in the shop", "invalid_address": "no usable address",
    "address_changed": "the address changed", "no_consent": "did not subscribe to the newsletter",
    "campaign_cancelled": "the campaign was cancelled", "bought_meanwhile": "bought in the meantime",
    "changed_while_sending": "changed while sending", "frequency_cap": "had enough e-mails this week",
    "duplicate_address": "another customer has the same address",
}
#: An outbox row's state, for the customer's timeline.
MESSAGE_STATE_LABELS = {"queued": "waiting to be sent", "sending": "being sent", "sent": "sent",
                        "failed": "could not be delivered", "suppressed": "not sent", "cancelled": "not sent"}


# --- a campaign's life (campaigns.service) -----------------------------------------------------------
#: A campaign made by hand goes draft → scheduled (launched) → sending (rendered into the outbox, being
#: delivered) → sent (nothing left to deliver); it may be cancelled before it is sent. A trigger's
#: standing campaign keeps the status "trigger".
CAMPAIGN_STATES = ("draft", "scheduled", "sending", "sent", "cancelled")
CAMPAIGN_STATE_LABELS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "queued": "Sending",  # the state's name before campaigns went on to "sent" (migration 0012 renames it)
    "sending": "Sending",
    "sent": "Sent",
    "cancelled": "Cancelled",
    "trigger": "Automatic",
}
