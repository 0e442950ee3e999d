"""Inbound SMS keyword commands: a pure parser from message text to a :class:`Command` (R-SMS-1).

The parser matches on :func:`normalise` output (case, spacing, punctuation, emoji and diacritics
do not matter: "sadarbība!" reads as ``SADARBIBA``). With KEYWORD one of the policy's keywords
and STOP the withdraw word, the forms are:

- ``KEYWORD``: ``grant``, with ``keyword`` = KEYWORD as configured.
- ``KEYWORD STOP``, ``STOP KEYWORD`` or glued ``KEYWORDSTOP``: ``withdraw`` that keyword.
- a stop word alone (``STOP``, ``STOPALL``, ``UNSUBSCRIBE``, ``CANCEL``, ``END``, ``QUIT``):
  ``stop_all``.
- a start word alone (``START``, ``UNSTOP``): ``start``.
- a help word alone (``HELP``, ``INFO``): ``help`` with reason "help".
- nothing left after normalising (only spaces, punctuation, emoji): ``help``, reason "empty".
- anything else (extra words, two keywords, numbers, markup): ``help``, reason "unknown"; or
  "ambiguous" when a typo could be read two ways (below).

Typos: a word of 4 or more letters (a keyword, or the withdraw word) also matches text at
Damerau-Levenshtein distance 1 from it (one letter substituted, inserted, deleted, or two
neighbours swapped), and the result says ``corrected=True``. Words of 2-3 letters match only
exactly: a short word one typo off is as likely another word as a slip. In the glued form one
typo in the whole token is allowed. An exact match always beats a corrected one; a token one
typo from two readings (``VIETE`` with keywords VIETA and VIETU, or a token one typo from both
a keyword and a stop, start, help or withdraw word) is ``help`` with reason "ambiguous". Stop, start and help
words match only exactly: ``STPO`` alone is not a stop (though ``JAUNUMI STPO`` is a withdraw).

Bodies longer than :data:`MAX_TEXT_LENGTH` characters, or :data:`MAX_NORMALISED_LENGTH` after
normalising, are "unknown" without further work, so a parse is linear and bounded.

The parser only says what the text means. What ``stop_all`` and ``start`` do (withdraw every
SMS purpose, silence the channel, resume it) is the service's decision under the policy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

CommandKind = Literal["grant", "withdraw", "stop_all", "start", "help"]

STOP_WORDS: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
START_WORDS: tuple[str, ...] = ("START", "UNSTOP")
HELP_WORDS: tuple[str, ...] = ("HELP", "INFO")

MAX_TEXT_LENGTH = 1600
MAX_NORMALISED_LENGTH = 160
MIN_FUZZY_LENGTH = 4

_WORD = re.compile(r"[A-Z0-9]{2,20}")

# Letters that NFKD does not decompose, folded after upper-casing.
_FOLD = str.maketrans(
    {"Æ": "AE", "Œ": "OE", "Ø": "O", "Đ": "D", "Ð": "D", "Ł": "L", "Þ": "TH", "Ħ": "H", "Ŧ": "T", "ẞ": "SS"}
)


@dataclass(frozen=True)
class Command:
    """What an inbound text asks for."""

    kind: CommandKind
    keyword: str | None = None
    reason: str | None = None
    corrected: bool = False


_EMPTY = Command("help", reason="empty")
_UNKNOWN = Command("help", reason="unknown")
_AMBIGUOUS = Command("help", reason="ambiguous")


def _without_marks(text: str) -> str:
    """`text` decomposed (compatibility forms too: full-width letters, ligatures) without its
    combining marks."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")


def normalise(text: str) -> str:
    """Upper-case ASCII-folded words of `text`, single-spaced; what the parser matches on.

    Idempotent. Marks go before upper-casing (which would turn U+0345, a combining iota, into
    the letter Ι) and again after it (upper-casing can add one: ǰ -> J̌); the letters NFKD leaves
    whole are folded last, as they may only appear once their marks are gone (Ǣ -> Æ -> AE)."""
    text = _without_marks(_without_marks(text).upper()).translate(_FOLD)
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def _within_one(a: str, b: str) -> bool:
    """Damerau-Levenshtein (optimal string alignment) distance of `a` and `b` is at most 1."""
    if abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:
            return True  # equal, or one substitution at i
        return a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]  # adjacent swap
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return short[i:] == long_[i + 1 :]


def _typos(token: str, word: str) -> int | None:
    """0 if `token` is `word`, 1 if one typo away and `word` is long enough to correct, else None."""
    if token == word:
        return 0
    if len(word) >= MIN_FUZZY_LENGTH and _within_one(token, word):
        return 1
    return None


class KeywordParser:
    """Parses inbound texts against one policy's SMS keywords."""

    def __init__(
        self,
        keywords: Iterable[str],
        *,
        withdraw_word: str = "STOP",
        stop_words: Iterable[str] = STOP_WORDS,
        start_words: Iterable[str] = START_WORDS,
        help_words: Iterable[str] = HELP_WORDS,
    ) -> None:
        if isinstance(keywords, str):
            raise ValueError("keywords must be a collection of words, not a single string")
        self._keywords = tuple(keywords)
        self._withdraw = withdraw_word
        reserved: dict[str, Command] = {}
        for group, words, command in (
            ("stop", stop_words, Command("stop_all")),
            ("start", start_words, Command("start")),
            ("help", help_words, Command("help", reason="help")),
        ):
            for word in words:
                _check_word(word, f"{group} word")
                if word in reserved and reserved[word] != command:
                    raise ValueError(f"{word!r} cannot be both a {group} word and another reserved word")
                reserved[word] = command
        _check_word(withdraw_word, "withdraw word")
        if withdraw_word in reserved and reserved[withdraw_word].kind != "stop_all":
            raise ValueError(f"withdraw word {withdraw_word!r} is also a start or help word")
        self._blockers = (*reserved, withdraw_word)
        self._exact: dict[str, Command] = dict(reserved)
        for keyword in self._keywords:
            _check_word(keyword, "SMS keyword")
            if keyword in self._blockers:
                raise ValueError(f"SMS keyword {keyword!r} is a reserved stop, start, help or withdraw word")
            if keyword in self._exact:
                raise ValueError(f"SMS keyword {keyword!r} is listed twice")
            self._exact[keyword] = Command("grant", keyword)
        for keyword in self._keywords:
            glued = keyword + withdraw_word
            if glued in self._exact:
                raise ValueError(
                    f"SMS keyword {keyword!r} followed by withdraw word {withdraw_word!r} reads as {glued!r}"
                )
            self._exact[glued] = Command("withdraw", keyword)

    @property
    def keywords(self) -> tuple[str, ...]:
        """The configured keywords, in the order given."""
        return self._keywords

    def parse(self, text: str) -> Command:
        """The command an inbound SMS body asks for; never raises."""
        if len(text) > MAX_TEXT_LENGTH:
            return _UNKNOWN
        normalised = normalise(text)
        if not normalised:
            return _EMPTY
        if len(normalised) > MAX_NORMALISED_LENGTH:
            return _UNKNOWN
        tokens = normalised.split(" ")
        if len(tokens) == 1:
            return self._one(tokens[0])
        if len(tokens) == 2:
            return self._two(*tokens)
        return _UNKNOWN

    def _one(self, token: str) -> Command:
        if token in self._exact:
            return self._exact[token]
        found: list[tuple[int, Command]] = []
        for keyword in self._keywords:
            if _typos(token, keyword) == 1:
                found.append((1, Command("grant", keyword, corrected=True)))
            if self._glued_typo(token, keyword):
                found.append((1, Command("withdraw", keyword, corrected=True)))
        if found:  # a keyword one typo from a reserved word is no safe guess
            found += [(1, _UNKNOWN) for word in self._blockers if _within_one(token, word)]
        return _best(found)

    def _glued_typo(self, token: str, keyword: str) -> bool:
        """`token` is `keyword` glued to the withdraw word with one typo, in a long enough part."""
        withdraw = self._withdraw
        if len(keyword) >= MIN_FUZZY_LENGTH and len(withdraw) >= MIN_FUZZY_LENGTH:
            return _within_one(token, keyword + withdraw)
        if len(withdraw) >= MIN_FUZZY_LENGTH:
            return token.startswith(keyword) and _within_one(token[len(keyword) :], withdraw)
        if len(keyword) >= MIN_FUZZY_LENGTH:
            return token.endswith(withdraw) and _within_one(token[: -len(withdraw)], keyword)
        return False

    def _two(self, first: str, second: str) -> Command:
        found: list[tuple[int, Command]] = []
        for keyword in self._keywords:
            for word, stop in ((first, second), (second, first)):
                typos_word, typos_stop = _typos(word, keyword), _typos(stop, self._withdraw)
                if typos_word is not None and typos_stop is not None:
                    typos = typos_word + typos_stop
                    found.append((typos, Command("withdraw", keyword, corrected=typos > 0)))
        return _best(found)


def _check_word(word: str, what: str) -> None:
    if not isinstance(word, str) or not _WORD.fullmatch(word):
        raise ValueError(f"invalid {what} {word!r}: use 2-20 characters, A-Z and 0-9 only")


def _best(found: list[tuple[int, Command]]) -> Command:
    """The single reading with fewest typos; "unknown" if none, "ambiguous" if several."""
    if not found:
        return _UNKNOWN
    fewest = min(typos for typos, _ in found)
    readings = {command for typos, command in found if typos == fewest}
    return readings.pop() if len(readings) == 1 else _AMBIGUOUS
