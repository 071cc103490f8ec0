"""A shop's phone text made into a number an SMS can go to (E.164), or the reason it cannot.

Shops store phone numbers as customers typed them: ``0151 2345 6789``, ``(0151) 23456789``,
``0049 151 ...``, ``+49 151 ...``, sometimes ``n/a`` or a landline. Twilio wants E.164
(``+4915123456789``), and a landline would accept the SMS and deliver nothing while it is billed.
So a number is usable only when ``phonenumbers`` (Google's libphonenumber metadata) finds it
valid and of type MOBILE, or FIXED_LINE_OR_MOBILE (the North American plan, where the two
cannot be told apart by the number). National numbers are read for the shop's default region
(``SHOPCRM_SMS_DEFAULT_REGION``); numbers written with ``+`` or an international prefix keep
their own country.

The reason is plain words for the admin panel: ``empty``, ``not a number``,
``unknown country code``, ``invalid for region XX``, ``not a mobile number``.
"""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

EMPTY = "empty"
NOT_A_NUMBER = "not a number"
UNKNOWN_COUNTRY_CODE = "unknown country code"
NOT_MOBILE = "not a mobile number"

#: Number types an SMS can reach.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

#: A phone field longer than this is not a phone number (and is not worth parsing).
MAX_LENGTH = 64


def invalid_for(region: str) -> str:
    return f"invalid for region {region}"


@dataclass(frozen=True)
class PhoneCheck:
    """Either ``e164`` (usable) or ``reason`` (not usable), never both."""

    e164: str | None = None
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.e164 is not None


def check_region(region: str) -> str:
    """The region code in upper case, or ValueError naming what is accepted."""
    code = (region or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{region!r} is not a region phonenumbers knows; use a two-letter ISO 3166 code "
                         "such as DE, AT, GB or US")
    return code


def _region_of(number: phonenumbers.PhoneNumber, default_region: str) -> str:
    """The region a number belongs to, for the message: its own when it is known, else the
    main region of its country code, else the one it was read for."""
    return (phonenumbers.region_code_for_number(number)
            or phonenumbers.region_code_for_country_code(number.country_code)
            or default_region)


def normalise_phone(text: str | None, default_region: str) -> PhoneCheck:
    """E.164 for ``text`` read with ``default_region`` (e.g. ``DE``), or the reason it is not usable."""
    region = check_region(default_region)
    raw = (text or "").strip()
    if not raw:
        return PhoneCheck(reason=EMPTY)
    if len(raw) > MAX_LENGTH:
        return PhoneCheck(reason=NOT_A_NUMBER)
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return PhoneCheck(reason=UNKNOWN_COUNTRY_CODE)
        if exc.error_type == NumberParseException.NOT_A_NUMBER:
            return PhoneCheck(reason=NOT_A_NUMBER)
        if raw.startswith("+"):  # too short or too long for any country: no region to blame
            return PhoneCheck(reason=NOT_A_NUMBER)
        return PhoneCheck(reason=invalid_for(region))  # too short or too long for the region
    # The type first: it is UNKNOWN for an invalid number, so a mobile type also says "valid"
    # and a usable number (the common case, checked again before each text) is matched once.
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        if not phonenumbers.is_valid_number(number):
            return PhoneCheck(reason=invalid_for(_region_of(number, region)))
        return PhoneCheck(reason=NOT_MOBILE)
    return PhoneCheck(e164=phonenumbers.format_number(number, PhoneNumberFormat.E164))
