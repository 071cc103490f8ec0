"""Admin forms (Flask-WTF: every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from ..delivery.addresses import normalize
from ..vocab import ROLES


def valid_address(form, field):
    if normalize(field.data) is None:
        raise ValidationError("Enter a valid email address.")


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
