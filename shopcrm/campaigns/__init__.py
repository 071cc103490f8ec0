"""Campaigns and email: targeting stored results, sandboxed templates, the outbox, the sender.

Flow: a campaign targets stored results of a run → ``service.enqueue`` renders one outbox row
per (campaign, customer, key) → ``sender.send_due`` delivers due rows through Flask-Mail (or
into ``.eml`` files when no SMTP server is configured).
"""
