"""What an inbound SMS asks for: to stop, to start again, help, or nothing we act on.

The rule follows Twilio's documented handling of its default keywords ("SMS STOP filtering",
and the Advanced Opt-Out guide for Messaging Services): only a message that *is* a keyword
counts. "STOP" stops; "STOP PLEASE", "please cancel" or "I can't stop buying here" do not.
shopcrm must agree with Twilio: Twilio blocks a number that sent a default keyword (further
sends fail with error 21610), and a sentence that Twilio lets through must not silently
unsubscribe someone here either.

Matching, exactly:

1. the text is normalised with Unicode NFKC (full-width ``ＳＴＯＰ`` becomes ``STOP``) and case-folded;
2. whitespace and punctuation around it are ignored (``" Stop. "``, ``"STOP!"``): a phone's
   autocorrect adds them, and they do not change what was asked; inside the text nothing is
   ignored, so ``"STOP ALL"`` (two words) is not ``STOPALL``;
3. what remains must equal one keyword.

Defaults are Twilio's: opt-out STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, and REVOKE and
OPTOUT, which Twilio's current guide lists as well; opt-in START, UNSTOP, YES; help HELP, INFO.
A shop adds words in its customers' language (``SHOPCRM_SMS_OPT_OUT_KEYWORDS=STOPP,ABMELDEN``)
— with Advanced Opt-Out the same words can be set at Twilio, so both sides block alike. A word
may belong to one class only.
"""
from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable


class Intent(enum.Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"
    NONE = "none"


DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
DEFAULT_OPT_IN = ("START", "UNSTOP", "YES")
DEFAULT_HELP = ("HELP", "INFO")


def _is_edge(char: str) -> bool:
    """Whitespace or punctuation, which may surround a keyword."""
    return char.isspace() or unicodedata.category(char).startswith("P")


def normalise(text: str) -> str:
    """The comparable form of a message or keyword (see rule 1 and 2 in the module docstring)."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    start, end = 0, len(folded)
    while start < end and _is_edge(folded[start]):
        start += 1
    while end > start and _is_edge(folded[end - 1]):
        end -= 1
    return folded[start:end]


class KeywordClassifier:
    """Classifies inbound messages; built once from the settings, then shared."""

    def __init__(self, extra_opt_out: Iterable[str] = (), extra_opt_in: Iterable[str] = (),
                 extra_help: Iterable[str] = ()):
        self._intents: dict[str, Intent] = {}
        groups = ((Intent.OPT_OUT, DEFAULT_OPT_OUT, extra_opt_out), (Intent.OPT_IN, DEFAULT_OPT_IN, extra_opt_in),
                  (Intent.HELP, DEFAULT_HELP, extra_help))
        for intent, defaults, extra in groups:
            for word in (*defaults, *(extra or ())):
                self._add(word, intent)

    def _add(self, word: str, intent: Intent) -> None:
        key = normalise(word)
        if not key or any(char.isspace() for char in key):
            raise ValueError(f"SMS keyword {word!r} must be one word")
        known = self._intents.get(key)
        if known is not None and known is not intent:
            raise ValueError(f"SMS keyword {word!r} cannot be both {known.value} and {intent.value}")
        self._intents[key] = intent

    def classify(self, body: str) -> Intent:
        """The intent of a whole inbound message."""
        return self._intents.get(normalise(body), Intent.NONE)

    def keywords(self, intent: Intent) -> tuple[str, ...]:
        """The (normalised) words of one class, e.g. for a help reply listing them."""
        return tuple(word for word, known in self._intents.items() if known is intent)
