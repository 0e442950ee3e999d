"""Text in several languages, the building block every policy section uses."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")  # ISO 639 (with an optional region: pt-BR)
FALLBACK = ("en", "lv")  # a language the text lacks reads as English, then Latvian


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Frozen):
    """A text in Latvian (required: the seeds' language), English, and any other language.

    ``lv`` and ``en`` are fields as before; another language is one more key (``ru: …``), so a
    policy file that gives only lv and en dumps, and hashes, exactly as it always did.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    lv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @model_validator(mode="after")
    def _languages(self) -> Text:
        for code, text in (self.__pydantic_extra__ or {}).items():
            if not LANGUAGE_CODE.fullmatch(code):
                raise ValueError(f"{code!r} is not a language code (like ru, de or pt-BR)")
            if not isinstance(text, str) or not text:
                raise ValueError(f"{code}: the text must be a non-empty string")
        return self

    @property
    def languages(self) -> tuple[str, ...]:
        return ("lv", "en", *(self.__pydantic_extra__ or {}))

    def texts(self) -> dict[str, str]:
        return {code: self.get(code) for code in self.languages}

    def get(self, language: str) -> str:
        """The text in `language`, else in English, else in Latvian."""
        for code in (language, *FALLBACK):
            if code == "lv":
                return self.lv
            if code == "en":
                return self.en
            extra: dict[str, Any] = self.__pydantic_extra__ or {}
            if code in extra:
                return str(extra[code])
        return self.lv
