"""The admin panel's users (``crm_user``) and the record of refused logins (``crm_login_event``)."""
from __future__ import annotations

import sqlalchemy as sa
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import utcnow
from ..extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "crm_user"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    password_hash = sa.Column(sa.String(255), nullable=False)
    role = sa.Column(sa.String(16), nullable=False, default="viewer")
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    last_login_at = sa.Column(sa.DateTime)
    #: Part of every session's identity (``get_id``): raising it ends every session of the user
    #: at its next request (logout, a new password, deactivation).
    session_version = sa.Column(sa.Integer, nullable=False, default=1, server_default="1")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version (Flask-Login's
        "alternative tokens"), so a session from before a logout or a password change no longer
        names a user."""
        return f"{self.id}.{self.session_version or 1}"

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return bool(self.active)

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


class LoginEvent(db.Model):
    """A failed or refused login, kept for the admin's security list (``login_throttle``).

    ``email`` is what was typed (an address with no account included: that is how guessing
    shows); ``user_id`` is set when it named an account.
    """

    __tablename__ = "crm_login_event"

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    outcome = sa.Column(sa.String(16), nullable=False)
    email = sa.Column(sa.String(255), nullable=False)
    user_id = sa.Column(sa.Integer)
    client = sa.Column(sa.String(64), nullable=False)
    agent = sa.Column(sa.String(255), nullable=False, default="")

    __table_args__ = (sa.Index("ix_crm_login_event_at", "at"),)
