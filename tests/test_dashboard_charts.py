"""The dashboard's server-side SVG charts: scales, bars per hour, rows against a tier line."""

from __future__ import annotations

import pytest

from cwsim.simulator.dashboard.charts import Row, hour_chart, nice_ceiling, row_chart


def test_nice_ceilings() -> None:
    assert [nice_ceiling(value) for value in (0, 1, 3, 7, 11, 20, 480, 501)] == [1, 1, 5, 10, 20, 20, 500, 1000]


def test_hour_chart_geometry() -> None:
    hours = [f"2026-03-02T{hour:02d}:00:00+00:00" for hour in range(6)]
    chart = hour_chart(hours, [0, 5, 10, 0, 0, 2], [1, 1, 0, 0, 0, 10], "alerts", "tickets")
    assert len(chart.bars) == len(chart.points) == 6
    assert chart.bars[0].height == 0 and chart.bars[2].height == pytest.approx(2 * chart.bars[1].height, abs=0.2)
    assert chart.points[5].y == chart.bars[2].y  # one scale for both series
    assert [label for _, label in chart.x_ticks] == ["00:00", "03:00"]
    assert chart.bars[1].title == "01:00: 5 alerts"


def test_row_chart_draws_the_tier_line_and_clips_what_is_past_the_scale() -> None:
    rows = [Row("half", 0.5, "50%"), Row("over", 1.2, "120%", over=True), Row("far", 5.0, "500%", over=True)]
    chart = row_chart(rows, scale=2.0, marker=1.0, marker_label="tier")
    half, over, far = chart.bars
    assert chart.marker_x == chart.plot_x + chart.plot_width / 2
    assert half.width == chart.plot_width / 4 and not half.clipped
    assert far.width == chart.plot_width and far.clipped and over.over
