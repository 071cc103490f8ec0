"""Delivery: from outbox rows to the shopper's inbox. Addresses, suppression, tokens and links,
the MIME builder and the SMTP transport, the sender, the SMS parts, and the shopper's own page."""
