"""How many SMS segments a text costs, and which characters make it expensive.

An SMS carries 140 octets. Text that fits the GSM 03.38 alphabet travels as 7-bit septets
(160 per message); anything else forces the whole message into UCS-2 (UTF-16, 70 code units
per message). A longer text is split into concatenated parts whose header takes room:
153 septets or 67 code units per part. Carriers bill per part, so a single emoji in an
otherwise plain offer can turn one segment into three; :func:`measure` names those characters
so the admin panel can say so before anything is sent.

Counting follows what carriers do, not just a division:

* a character of the GSM extension table (``€ [ ] { } \\ ~ ^ |`` and form feed) is an escape
  plus a septet, so it counts 2, and its two septets are never split across parts;
* in UCS-2 a character outside the Basic Multilingual Plane (most emoji) is a surrogate pair,
  2 code units, and the pair is never split across parts either.

An empty text is 0 segments (Twilio refuses an empty body; the caller decides what to say).
"""
from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: GSM 03.38 default alphabet, in table order 0x00-0x7F (0x1B, the escape, is left out:
#: it is not a character of its own). Ç at 0x09 is the capital letter, as in the standard.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: each of these is sent as escape + septet.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsSize:
    """What a text costs as SMS.

    ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2). ``forcing_ucs2`` lists the
    characters that are not in the GSM alphabet, each once, in order of appearance: removing
    (or replacing) them brings the text back to GSM-7, where it would take ``segments_as_gsm``
    segments.
    """

    encoding: str
    characters: int
    units: int
    segments: int
    forcing_ucs2: tuple[str, ...]
    segments_as_gsm: int


def is_gsm_char(char: str) -> bool:
    return char in GSM_BASIC or char in GSM_EXTENSION


def gsm_units(char: str) -> int:
    """Septets of one GSM character: 2 for the extension table."""
    return 2 if char in GSM_EXTENSION else 1


def ucs2_units(char: str) -> int:
    """UTF-16 code units of one character: 2 above the Basic Multilingual Plane."""
    return 2 if ord(char) > 0xFFFF else 1


def _segments(widths: list[int], encoding: str) -> int:
    """Parts needed for characters of these widths, never splitting a character."""
    total = sum(widths)
    if total == 0:
        return 0
    if total <= SINGLE_LIMIT[encoding]:
        return 1
    limit, parts, used = PART_LIMIT[encoding], 1, 0
    for width in widths:
        if used + width > limit:
            parts, used = parts + 1, 0
        used += width
    return parts


def measure(text: str) -> SmsSize:
    """Encoding, characters, units and segments of ``text`` (see the module docstring)."""
    forcing = tuple(dict.fromkeys(char for char in text if not is_gsm_char(char)))
    gsm_widths = [gsm_units(char) for char in text if is_gsm_char(char)]
    as_gsm = _segments(gsm_widths, GSM7)
    if not forcing:
        return SmsSize(GSM7, len(text), sum(gsm_widths), as_gsm, (), as_gsm)
    widths = [ucs2_units(char) for char in text]
    return SmsSize(UCS2, len(text), sum(widths), _segments(widths, UCS2), forcing, as_gsm)
