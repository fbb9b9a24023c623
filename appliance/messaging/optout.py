"""Opt-out and opt-in keywords (several languages) and the block-list rule for outbound SMS.

A message counts as a keyword only when it is the keyword alone (case, spacing, trailing
punctuation, Hebrew points and Arabic diacritics ignored), as carriers' practice is: "stop
calling me at work" is a message for an agent, not an opt-out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from enum import Enum

from appliance.domain.errors import DomainError


class Keyword(Enum):
    """What a keyword message asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


# Per language; matched after normalize() (so list them in any case, with or without marks).
OPT_OUT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT",
           "OPT-OUT", "REVOKE"),
    "he": ("הסר", "הסרה", "עצור", "הפסק", "בטל"),  # "הסר" is what the Israeli spam law names
    "ar": ("إلغاء", "الغاء", "إلغاء الاشتراك", "توقف", "إيقاف", "قف"),
    "pl": ("WYPISZ", "REZYGNUJĘ", "REZYGNUJE", "ANULUJ", "KONIEC"),
    "zh": ("退订", "TD", "取消订阅", "退定", "停止"),
}
OPT_IN_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("START", "UNSTOP", "SUBSCRIBE"),
    "he": ("הרשם", "התחל"),
    "ar": ("ابدأ", "اشتراك"),
    "pl": ("ZAPISZ",),
    "zh": ("订阅",),
}

_MARKS = re.compile("[\u0591-\u05c7\u064b-\u065f\u0670\u0640]")  # Hebrew points, Arabic harakat, tatweel
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
_EDGE = re.compile(r"^[\s\"'.,!?;:()\[\]«»“”„،؟。！？]+|[\s\"'.,!?;:()\[\]«»“”„،؟。！？]+$")


def normalize(text: str) -> str:
    """Compare form: NFKC, case folded, marks and alef variants unified, edges and runs of spaces trimmed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _MARKS.sub("", text).translate(_ALEF).casefold()
    text = _EDGE.sub("", text)
    return " ".join(text.split())


def _table(words: dict[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(normalize(w) for ws in words.values() for w in ws)


_OUT = _table(OPT_OUT_WORDS)
_IN = _table(OPT_IN_WORDS)


def classify(text: str) -> Keyword | None:
    """OPT_OUT or OPT_IN when the whole message is such a keyword, else None."""
    key = normalize(text)
    if key in _OUT:
        return Keyword.OPT_OUT
    if key in _IN:
        return Keyword.OPT_IN
    return None


class RecipientOptedOut(DomainError):
    """The recipient asked not to receive messages (STOP and the like)."""

    def __init__(self, number: str) -> None:
        super().__init__(f"{number} opted out of SMS (replied with an opt-out keyword); nothing was sent")
        self.number = number


def check_outbound(number: str, blocked: Container[str]) -> None:
    """Raise RecipientOptedOut when the number is on the block list."""
    if number in blocked:
        raise RecipientOptedOut(number)
