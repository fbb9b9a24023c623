"""The string catalogue: English complete, Hebrew complete, right-to-left where it should be."""

from __future__ import annotations

from pathlib import Path

import web.local
from web.local import i18n

ROOT = Path(web.local.__file__).parent


def test_english_is_complete() -> None:
    used = i18n.extract_msgids(ROOT)
    assert len(used) > 50
    missing = used - set(i18n.catalogue("en"))
    assert not missing, f"add to locale/en.json: {sorted(missing)}"


def test_hebrew_is_complete_and_formats_fill_in() -> None:
    missing = i18n.extract_msgids(ROOT) - set(i18n.catalogue("he"))
    assert not missing
    tr = i18n.Translator("he")
    assert tr("Delete extension {number}?", number="101") == "למחוק את שלוחה 101?"
    for lang in ("he", "ar"):
        for msgid, text in i18n.catalogue(lang).items():
            assert msgid.count("{") == text.count("{"), (lang, msgid)


def test_direction_and_fallback() -> None:
    assert i18n.Translator("he").dir == "rtl" and i18n.Translator("ar").dir == "rtl"
    assert i18n.Translator("en").dir == "ltr"
    assert i18n.Translator("ar")("Something was refused") == "Something was refused"  # falls back to English
    assert i18n.pick(None, None, "ar-EG,ar;q=0.9") == "ar"
    assert i18n.pick("fr", "he", None) == "he"
    assert i18n.pick(None, None, "de-DE") == "en"
