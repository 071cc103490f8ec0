"""Admin forms (Flask-WTF: every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from ..delivery.addresses import normalize
from ..request_guard import parse_id
from ..vocab import ROLES


def valid_address(form, field):
    if normalize(field.data) is None:
        raise ValidationError("Enter a valid email address.")


def valid_id(form, field):
    """A record id (a segment, a customer, a campaign): whole, positive, at most 2⁶³−1 — a larger
    number names nothing and must not reach the database driver (``request_guard.parse_id``)."""
    value = parse_id(field.data)
    if value is None:
        raise ValidationError("Choose one from the list.")
    field.data = value


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Log in")


class ConfirmForm(FlaskForm):
    """An empty form: a button that POSTs with a CSRF token."""

    submit = SubmitField("OK")


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), valid_address, Length(max=255)])
    role = SelectField("Role", choices=list(ROLES), default="viewer")
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=256)])
    submit = SubmitField("Create user")


class UserForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES))
    active = BooleanField("Active")
    submit = SubmitField("Save")


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=256)])
    submit = SubmitField("Set password")
