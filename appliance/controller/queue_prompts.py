"""Spoken values for queue announcements: the prompt's text with the value filled in, cached per text."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.acd.announce import Say
from appliance.controller.prompts import TEXTS, PromptError, Prompts

_VALUE = re.compile(r"^\+?[0-9]{1,20}$")


def spoken_digits(number: str) -> str:
    """A phone number as espeak should say it: digit by digit ("plus 4 8 1 2")."""
    head = "plus " if number.startswith("+") else ""
    return head + " ".join(number.lstrip("+"))


class QueuePrompts:
    """Prompt files for `Say` values: plain prompts from `Prompts`, valued ones through `Prompts.speech`."""

    def __init__(self, prompts: Prompts) -> None:
        self.prompts = prompts

    async def path(self, say: Say | str, language: str = "en", *, digits: str | None = None) -> Path:
        """The WAV for a prompt, with its value (a number, or digits said one by one) filled in."""
        name, value = (say.prompt, say.value) if isinstance(say, Say) else (say, None)
        if value is None and digits is None:
            return await self.prompts.path(name, language)
        text_value = str(value) if digits is None else digits
        if not _VALUE.match(text_value):
            raise PromptError(f"cannot say {text_value!r}")
        lang = language if name in TEXTS.get(language, {}) else "en"
        if name not in TEXTS[lang]:
            raise PromptError(f"unknown prompt {name!r}")
        said = spoken_digits(text_value) if digits is not None else text_value
        return await self.prompts.speech(TEXTS[lang][name].format(value=said), lang)
