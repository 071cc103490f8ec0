"""SMS: the parts an SMS outbox needs, each on its own.

``segments`` (what a text costs), ``phones`` (shop phone text to E.164), ``keywords``
(STOP/START/HELP replies), ``quiet_hours`` (no texts at night, on the shop's clock),
``settings`` (the SHOPCRM_TWILIO_* / SHOPCRM_SMS_* settings), ``provider`` (the interface and
its error classes) and ``twilio_provider`` (Twilio's API, and its webhook signatures).
"""
