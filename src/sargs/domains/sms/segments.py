"""How many SMS segments a text costs, and making a reply fit one (GSM 03.38 / 3GPP TS 23.038).

A text made only of GSM-7 characters is sent in 7-bit units (septets): 160 fit one segment, and
a longer text is split into segments of 153 (the rest holds the concatenation header). The
extension characters ``^ { } \\ [ ~ ] | €`` and form feed are an escape plus a character, 2
septets each. Any other character makes the whole text UCS-2: 70 UTF-16 code units in one
segment, 67 per segment when split, an emoji outside the BMP being 2 units (a surrogate pair).

Split texts are counted as senders split them: an escape pair or a surrogate pair is never cut
in two, so a 2-unit character that would straddle a boundary starts the next segment. That is
why ``segments`` can exceed ``ceil(units / per_segment)`` by the odd segment. An empty text is
one segment of 0 units.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

# Typographic and invisible characters with a plain GSM-7 reading; letters with diacritics
# that GSM-7 lacks (ā, č, ņ, ...) are handled by stripping the marks instead.
_TO_GSM7 = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′`´", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        **dict.fromkeys("\t\u00a0\u2007\u202f", " "),
        "…": "...",
        "•": "*",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
    }
)


@dataclass(frozen=True)
class SegmentInfo:
    """The encoding a text needs and what it costs."""

    encoding: Encoding
    units: int
    segments: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """Every character of `text` is in the GSM-7 default alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def analyse(text: str) -> SegmentInfo:
    """Encoding, units, segments and the per-segment limit applied for `text`."""
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return _pack("GSM-7", costs, GSM7_SINGLE, GSM7_MULTI)
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return _pack("UCS-2", costs, UCS2_SINGLE, UCS2_MULTI)


def _pack(encoding: Encoding, costs: Iterable[int], single: int, multi: int) -> SegmentInfo:
    costs = list(costs)
    units = sum(costs)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return SegmentInfo(encoding, units, segments, multi)


def to_gsm7(text: str) -> str:
    """`text` in GSM-7 only: diacritics dropped, typography made plain, invisible format
    characters removed, and anything else replaced by '?'."""
    return _transliterate(text)[0]


def _transliterate(text: str) -> tuple[str, int]:
    """The GSM-7 form of `text`, and how many characters had no reading and became '?'."""
    out: list[str] = []
    lost = 0
    for c in text.translate(_TO_GSM7):
        if c in GSM7_BASIC or c in GSM7_EXTENSION:
            out.append(c)
        elif unicodedata.category(c) in ("Mn", "Cf"):
            continue  # a stray combining mark, a zero-width space or joiner
        else:
            plain = "".join(d for d in unicodedata.normalize("NFKD", c) if unicodedata.category(d) != "Mn")
            for d in plain or "?":
                gsm = d in GSM7_BASIC or d in GSM7_EXTENSION
                out.append(d if gsm else "?")
                lost += not gsm
    return "".join(out), lost


def fit_one_segment(text: str) -> str:
    """`text` if it fits one segment, else its GSM-7 form if that does and loses no character
    to '?', else `text` unchanged: a second segment is better than a garbled reply."""
    if analyse(text).segments == 1:
        return text
    plain, lost = _transliterate(text)
    return plain if not lost and analyse(plain).segments == 1 else text
