"""Domain errors, in one place.

Every error a shop admin can cause (a bad setting, a wrong mapping, an unreachable shop
database, too little data) is a :class:`ShopCRMError` with a message written for them. Views
turn these into ``flash``/``abort``; the CLI turns them into ``click.ClickException``. Anything
else is a bug and keeps its traceback.
"""


class ShopCRMError(Exception):
    """Base class: the message is meant to be shown to a shop admin as it is."""


class ConfigError(ShopCRMError):
    """The configuration is invalid; the app refuses to start."""


class MappingError(ShopCRMError):
    """The shop mapping does not fit the shop's database (or is malformed)."""


class ShopUnavailable(ShopCRMError):
    """The shop's database cannot be reached."""


class ReadOnlyViolation(ShopCRMError):
    """Something tried to write through the shop connection. shopcrm never writes there."""


class NotEnoughData(ShopCRMError):
    """The shop has too little data for the analysis asked for."""


class RunLocked(ShopCRMError):
    """Another process holds the lock for this job."""


class TemplateError(ShopCRMError):
    """An email template is invalid or tried something the sandbox forbids."""


class CampaignError(ShopCRMError):
    """A campaign cannot be created, launched or enqueued as asked."""


class AccountError(ShopCRMError):
    """An admin-panel account cannot be created or changed as asked."""
