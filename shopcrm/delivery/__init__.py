"""Delivery: from outbox rows to the shopper's inbox or phone."""
