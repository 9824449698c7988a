"""Server-side SVG chart geometry for the dashboard: bars per simulated hour, and rows of bars against a line."""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH = 720
HOURS_WIDTH = 1100  # the hour chart spans the page: a wider box keeps its text small
LABEL_CHARS = 30


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (an axis' top)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- per hour ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourBar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class HourPoint:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class HourChart:
    """Bars (one series) and a line with points (another) over the same hours and the same scale."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: float
    bars: list[HourBar]
    points: list[HourPoint]
    line: str  # the polyline's points
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]


def hour_chart(
    hours: list[str], bars: list[int], line: list[int], bar_name: str, line_name: str, height: int = 200
) -> HourChart:
    """`hours` are ISO moments (`2026-03-02T05:00:00+00:00`); a tick every three hours."""
    left, right, top, bottom = 40, HOURS_WIDTH - 8, 10, height - 24
    slot = (right - left) / max(len(hours), 1)
    peak = nice_ceiling(max([*bars, *line, 1]))

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * value / peak, 1)

    chart_bars, points = [], []
    for index, (hour, bar, dot) in enumerate(zip(hours, bars, line, strict=True)):
        x = left + index * slot
        label = hour_label(hour)
        top_of_bar = y_of(bar)
        width = round(slot * 0.7, 1)
        title = f"{label}: {bar} {bar_name}"
        chart_bars.append(HourBar(round(x + slot * 0.15, 1), top_of_bar, width, round(bottom - top_of_bar, 1), title))
        points.append(HourPoint(round(x + slot / 2, 1), y_of(dot), f"{label}: {dot} {line_name}"))
    x_ticks = [(round(left + i * slot + slot / 2, 1), hour_label(hour)) for i, hour in enumerate(hours) if i % 3 == 0]
    y_ticks = [(y_of(peak * share), f"{peak * share:g}") for share in (0, 0.5, 1)]
    return HourChart(
        HOURS_WIDTH,
        height,
        left,
        right,
        bottom,
        chart_bars,
        points,
        " ".join(f"{point.x},{point.y}" for point in points),
        x_ticks,
        y_ticks,
    )


def hour_label(moment: str) -> str:
    """`2026-03-02T05:00:00+00:00` as `05:00`."""
    return moment[11:16]


# -- rows against a line ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One bar to draw: its label, its value on the chart's scale, and the text at its end."""

    label: str
    value: float
    text: str
    title: str = ""
    over: bool = False


@dataclass(frozen=True)
class RowBar:
    label: str
    text: str
    title: str
    over: bool
    clipped: bool  # longer than the scale: drawn to its end
    y: float
    width: float


@dataclass(frozen=True)
class RowChart:
    width: int
    height: int
    row_height: int
    bar_height: int
    plot_x: int
    plot_width: int
    text_x: int
    bars: list[RowBar]
    marker_x: float | None  # the reference line (a plan's tier), if any
    marker_label: str


def row_chart(rows: list[Row], scale: float, marker: float | None = None, marker_label: str = "") -> RowChart:
    """Horizontal bars on a scale from 0 to `scale`, with an optional vertical line at `marker`."""
    row_height, bar_height, label_width, text_width = 18, 12, 210, 170
    plot_width = WIDTH - label_width - text_width
    scale = scale or 1
    bars = []
    for index, row in enumerate(rows):
        share = max(row.value, 0) / scale
        bars.append(
            RowBar(
                shorten(row.label),
                row.text,
                row.title or row.label,
                row.over,
                share > 1,
                index * row_height + 4,
                round(plot_width * min(share, 1), 1),
            )
        )
    return RowChart(
        WIDTH,
        max(len(rows), 1) * row_height + 8,
        row_height,
        bar_height,
        label_width,
        plot_width,
        label_width + plot_width + 6,
        bars,
        None if marker is None else round(label_width + plot_width * marker / scale, 1),
        marker_label,
    )
