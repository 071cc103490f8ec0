"""shopcrm's own tables, one module per area. Every table is prefixed ``crm_``; shopcrm owns
nothing else.

Timestamps are naive UTC (``clock.utcnow``). Nothing here commits: the service that calls a
model (a run, an enqueue, a send batch, a form handler) decides when to commit. Importing this
package registers every table, which migrations and queries rely on.
"""
from .beacon import ProductView
from .campaigns import Campaign, Trigger
from .outbox import Click, Message, Preference, SmsConsent, SoftBounce, Suppression, TrackedLink
from .runs import Insight, Membership, Rule, Run, SearchWord, Segment
from .settings import PanelSetting
from .system import Lock, State
from .throttle import Throttle
from .users import LoginEvent, User

__all__ = ["Campaign", "Click", "Insight", "Lock", "LoginEvent", "Membership", "Message", "PanelSetting", "Preference",
           "ProductView", "Rule", "Run", "SearchWord", "Segment", "SmsConsent", "SoftBounce", "State", "Suppression", "Throttle",
           "TrackedLink", "Trigger", "User"]
