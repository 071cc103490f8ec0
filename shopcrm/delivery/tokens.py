"""Signed tokens for links in emails (unsubscribe, the shopper's page, tracked links).

Tokens are signed with the app's ``SECRET_KEY`` and a purpose-specific salt, so a token made
for one purpose is worthless for another, and they carry their creation time so they expire.
"""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import ShopCRMError
from ..state import app_state

# How long a link keeps working, per purpose (seconds).
MAX_AGE = {
    "unsubscribe": 400 * 86400,  # must keep working long after the email was sent
    "preferences": 60 * 86400,  # the shopper's own page: shows their emails, so it expires sooner
    "click": 400 * 86400,
    "open": 400 * 86400,
}


class TokenInvalid(ShopCRMError):
    """A link was tampered with, made for another purpose, or has expired."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    """One serializer per app, key and purpose (building one costs more than signing)."""
    cache = app_state().token_serializers
    key = (current_app.secret_key, purpose)
    if key not in cache:
        cache[key] = URLSafeTimedSerializer(current_app.secret_key or "", salt=f"shopcrm.{purpose}")
    return cache[key]


def make_token(purpose: str, data: dict) -> str:
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _serializer(purpose).dumps(data)


def read_token(purpose: str, token: str) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise TokenInvalid("this link has expired") from exc
    except BadSignature as exc:
        raise TokenInvalid("this link is not valid") from exc
    if not isinstance(data, dict):
        raise TokenInvalid("this link is not valid")
    return data
