"""A document as plain data: a title, a language and blocks; renderers turn it into PDF or HTML."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    """A section heading (level 2 is a section, 3 a subsection)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of running text."""

    text: str


@dataclass(frozen=True)
class KeyValues:
    """Labelled values, one per row (a label and its value)."""

    rows: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    """A table with a header row; long tables continue on the next page with the header repeated."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Bullets:
    """An unordered list."""

    items: list[str] = field(default_factory=list)


Block = Heading | Paragraph | KeyValues | Table | Bullets


@dataclass(frozen=True)
class Document:
    """A printable document: title, language (lv/en), blocks, and an optional subtitle and footer."""

    title: str
    language: str
    blocks: list[Block]
    subtitle: str | None = None
    footer: str | None = None
