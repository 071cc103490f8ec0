"""Twilio's webhooks: inbound SMS (STOP, START, HELP) and delivery status callbacks.

Both are exempt from CSRF only because each request must carry a valid ``X-Twilio-Signature``
(HMAC of the URL and the form under the auth token, ``twilio.request_validator``): a request
without one, or with a forged one, is refused with 403 before anything is read or written.
The URL signed is the one Twilio was given — ``SHOPCRM_PUBLIC_URL`` + ``sms/inbound`` or
``sms/status?m=<id>`` — not the address the app sees behind a proxy. Without SMS settings the
routes do not exist (404).
"""
from __future__ import annotations

from flask import Response, abort, current_app, request

from ..delivery.sms import inbound
from ..extensions import csrf
from ..request_guard import parse_id
from . import bp


def _require_signature(path: str) -> None:
    from ..delivery.sms.twilio_provider import SIGNATURE_SETTINGS_HEADER, valid_signature

    config = current_app.config
    if not config.get("SHOPCRM_TWILIO_ACCOUNT_SID"):
        abort(404)
    url = f"{config['SHOPCRM_PUBLIC_URL'].rstrip('/')}/{path}"
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    if not valid_signature(config.get("SHOPCRM_TWILIO_AUTH_TOKEN") or "", url, request.form,
                           request.headers.get("X-Twilio-Signature"), request.headers.get(SIGNATURE_SETTINGS_HEADER)):
        abort(403)


def _twiml(text: str | None) -> Response:
    from twilio.twiml.messaging_response import MessagingResponse

    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), mimetype="text/xml")


@bp.route("/sms/inbound", methods=["POST"])
@csrf.exempt  # Twilio cannot carry a form token; its signature is checked instead
def sms_inbound():
    _require_signature("sms/inbound")
    return _twiml(inbound.handle_reply(request.form))


@bp.route("/sms/status", methods=["POST"])
@csrf.exempt  # as above: the Twilio signature is the credential
def sms_status():
    _require_signature("sms/status")
    inbound.record_status(parse_id(request.args.get("m")), request.form)
    return Response("", status=204)
