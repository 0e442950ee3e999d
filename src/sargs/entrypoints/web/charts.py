"""Server-rendered SVG charts: geometry in Python, markup in templates/console/_charts.html.

No script and no inline style (the console's CSP allows neither): colours come from CSS classes
(c0..c7 in sargs.css). Every chart has a <title>, a <desc> and its data as a table for screen
readers and for anyone who would rather read numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
COLOURS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]
    css: str = "c0"


@dataclass(frozen=True)
class Tick:
    value: float
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str
    full: str = ""


@dataclass(frozen=True)
class Line:
    series: Series
    points: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws: the plot box, ticks, labels, lines or bars, and the data table."""

    id: str
    title: str
    description: str
    kind: str  # line | bar
    labels: list[str]
    series: list[Series]
    ticks: list[Tick]
    xlabels: list[XLabel]
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def nice_max(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def _ticks(top_value: float) -> list[Tick]:
    plot = HEIGHT - BOTTOM - TOP
    return [
        Tick(
            value=top_value * i / 4, y=round(HEIGHT - BOTTOM - plot * i / 4, 1), label=_fmt(top_value * i / 4)
        )
        for i in range(5)
    ]


def _y(value: float, top_value: float) -> float:
    plot = HEIGHT - BOTTOM - TOP
    return round(HEIGHT - BOTTOM - plot * value / top_value, 1)


def _short(label: str, room: float) -> str:
    """The label cut to the room it has (about 7 px a character), with an ellipsis."""
    most = max(int(room // 7), 3)
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def _xlabels(labels: list[str], xs: list[float], most: int = 8) -> list[XLabel]:
    step = max(1, math.ceil(len(labels) / most))
    room = (WIDTH - LEFT - RIGHT) / max(math.ceil(len(labels) / step), 1)
    return [
        XLabel(x, _short(label, room), label)
        for i, (x, label) in enumerate(zip(xs, labels, strict=True))
        if i % step == 0
    ]


def coloured(series: list[tuple[str, list[float]]]) -> list[Series]:
    """Series with colour classes in order (c0, c1, ... repeating)."""
    return [Series(name, values, f"c{i % COLOURS}") for i, (name, values) in enumerate(series)]


def line_chart(*, id: str, title: str, description: str, labels: list[str], series: list[Series]) -> Chart:
    """A line per series over the labels (e.g. months)."""
    top_value = nice_max(max((v for s in series for v in s.values), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    n = len(labels)
    xs = [round(LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1) for i in range(n)]
    lines = [
        Line(s, " ".join(f"{x},{_y(v, top_value)}" for x, v in zip(xs, s.values, strict=True)))
        for s in series
    ]
    return Chart(
        id, title, description, "line", labels, series, _ticks(top_value), _xlabels(labels, xs), lines=lines
    )


def bar_chart(*, id: str, title: str, description: str, labels: list[str], series: list[Series]) -> Chart:
    """Grouped bars: one group per label, one bar per series."""
    top_value = nice_max(max((v for s in series for v in s.values), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    n = max(len(labels), 1)
    group = plot_w / n
    bar_w = max(min(group * 0.8 / max(len(series), 1), 40), 2)
    bars, xs = [], []
    for i, label in enumerate(labels):
        start = LEFT + group * i + (group - bar_w * len(series)) / 2
        xs.append(round(LEFT + group * i + group / 2, 1))
        for j, s in enumerate(series):
            y = _y(s.values[i], top_value)
            bars.append(
                Bar(
                    x=round(start + bar_w * j, 1),
                    y=y,
                    width=round(bar_w, 1),
                    height=round(HEIGHT - BOTTOM - y, 1),
                    css=s.css,
                    label=f"{label} — {s.name}: {_fmt(s.values[i])}",
                )
            )
    return Chart(
        id, title, description, "bar", labels, series, _ticks(top_value), _xlabels(labels, xs), bars=bars
    )
