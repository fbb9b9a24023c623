"""A tiny gettext-style catalogue: msgid is the English text; other languages fall back to it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

LANGUAGES = {"en": "English", "he": "עברית", "ar": "العربية"}
RTL = frozenset({"he", "ar"})
DEFAULT = "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language (msgid -> text)."""
    path = resources.files("web.local").joinpath("locale", f"{lang}.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"locale {lang}: expected a JSON object")
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True)
class Translator:
    """Translates msgids for one language; `dir` is rtl for Hebrew and Arabic."""

    lang: str

    @property
    def dir(self) -> str:
        """Text direction for the <html dir> attribute."""
        return "rtl" if self.lang in RTL else "ltr"

    def __call__(self, msgid: str, **fmt: object) -> str:
        """The translation of `msgid` (English when missing), with {names} filled in."""
        text = catalogue(self.lang).get(msgid) or msgid
        return text.format(**fmt) if fmt else text


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language: ?lang=, then the lang cookie, then Accept-Language, then English."""
    for cand in (query, cookie):
        if cand in LANGUAGES:
            return cand
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


_MSGID = re.compile(r"""\b(?:_|tr)\(\s*(?P<q>["'])(?P<id>(?:(?!(?P=q)).)+)(?P=q)""")


def extract_msgids(root: Path) -> set[str]:
    """Every literal msgid passed to `_()` in templates or `tr()` in Python under `root`."""
    found: set[str] = set()
    for path in [*root.rglob("*.html"), *root.rglob("*.py")]:
        found.update(m.group("id") for m in _MSGID.finditer(path.read_text(encoding="utf-8")))
    from web.local.render import NAV

    found.update(label for _path, label, _role in NAV)
    return found
