"""The admin panel's accounts: one set of rules, for the panel and for the CLI alike.

* An e-mail address names one account; addresses are stored in lower case and compared
  without regard to case.
* A password has at least :data:`MIN_PASSWORD` characters.
* There is always at least one active admin: nobody demotes or deactivates the last one.

Nothing here commits: the form handler or the command does, once the change is complete.
"""
from __future__ import annotations

import sqlalchemy as sa

from . import login_throttle
from .delivery.addresses import normalize
from .errors import AccountError
from .extensions import db
from .models import User
from .vocab import ROLES

MIN_PASSWORD = 10


def _address(email: str) -> str:
    address = normalize(email)
    if address is None:
        raise AccountError(f"{email!r} is not an e-mail address")
    return address.lower()


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"use a password of at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; known: {', '.join(ROLES)}")


def find(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))


def active_admins() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.role == "admin", User.active.is_(True)))


def create_user(email: str, role: str, password: str) -> User:
    """A new, active account; an address that already has one is refused."""
    address = _address(email)
    _check_role(role)
    _check_password(password)
    if find(address) is not None:
        raise AccountError(f"{address} already has an account")
    user = User(email=address, role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def change_role(user: User, role: str, active: bool) -> None:
    """Set role and activity, keeping at least one active admin."""
    _check_role(role)
    losing_admin = user.role == "admin" and user.active and (role != "admin" or not active)
    if losing_admin and active_admins() <= 1:
        raise AccountError("there must always be at least one active admin")
    if user.active and not active:
        end_sessions(user)  # a deactivated account's sessions end, and stay ended if it comes back
    user.role, user.active = role, bool(active)


def set_password(user: User, password: str) -> None:
    """A new password. It ends every session of the user (a session stolen with the old
    password dies with it; the panel keeps the changer's own with ``auth.keep_this_session``),
    and strangers' failed attempts on the account no longer make its owner wait."""
    _check_password(password)
    user.set_password(password)
    end_sessions(user)
    login_throttle.forget_account(user.email)


def end_sessions(user: User) -> None:
    """Raise the session version: every session naming the old one is over (``User.get_id``)."""
    user.session_version = (user.session_version or 1) + 1


def create_or_reset(email: str, role: str, password: str) -> tuple[User, bool]:
    """The command line's "create-user": a new account, or an existing one given this role and
    password (and reactivated). Returns the user and whether it was created."""
    user = find(email)
    if user is None:
        return create_user(email, role, password), True
    _check_password(password)
    change_role(user, role, True)
    set_password(user, password)
    return user, False


def change_own_password(user: User, current: str, new: str, repeated: str) -> None:
    """A user's own new password: they prove the current one first, and type the new one twice.
    (An admin resets someone else's with :func:`set_password`.)"""
    if not user.check_password(current or ""):
        raise AccountError("the current password is not right")
    if new != repeated:
        raise AccountError("the two new passwords differ; type the same one twice")
    if new == current:
        raise AccountError("choose a password that differs from the current one")
    set_password(user, new)
