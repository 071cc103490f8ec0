"""What shopcrm knows about customers, for the panel and the shopper's own page: finding them,
one customer's profile, a segment's members and its export.

It reads the shop (through ``shop/``), the stored runs and the outbox, and writes nothing. The
panel's views call it and never read the shop themselves.
"""
