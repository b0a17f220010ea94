"""Server-rendered SVG charts: well-formed, named for screen readers, honest about gaps."""

import xml.etree.ElementTree as ET

import pytest

from app.portal.charts import HEIGHT, Series, Threshold, bar_chart, line_chart, nice_ticks

NS = {"svg": "http://www.w3.org/2000/svg"}
DAYS = ["11-01", "11-02", "11-03", "11-04"]


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]


def test_ticks_are_round_and_cover_the_highest_value() -> None:
    assert nice_ticks(100) == [0, 25, 50, 75, 100]
    assert nice_ticks(2600) == [0, 1000, 2000, 3000]
    assert nice_ticks(0.93) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0) == [0, 1]


def test_a_line_chart_is_an_accessible_image_with_a_summary() -> None:
    svg = parse(line_chart("loads", "Widget loads per day", DAYS, [Series("Loads", [3, 10, 7, 5])]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "loads-title loads-desc"
    assert svg.find("svg:title", NS).text == "Widget loads per day"  # type: ignore[union-attr]
    desc = svg.find("svg:desc", NS).text  # type: ignore[union-attr]
    assert desc == (
        "From 11-01 to 11-04. Loads: lowest 3 on 11-01, highest 10 on 11-02, latest 5 on 11-04."
    )
    # The axis labels the ticks and every day.
    assert {"0", "5", "10"} <= set(texts(svg))
    assert all(day in texts(svg) for day in DAYS)


def test_the_threshold_is_a_labelled_dashed_line_at_its_value() -> None:
    svg = parse(
        line_chart(
            "p95",
            "Load time",
            DAYS,
            [Series("p95", [800, 1200, 900, 1000])],
            unit=" ms",
            threshold=Threshold(2000, "2 s budget"),
        )
    )
    line = svg.find("svg:line[@class='threshold']", NS)
    assert line is not None and line.get("stroke-dasharray")
    # The y axis stretches to show the budget even though no value reaches it: 0..2000, so
    # the budget sits on the top grid line.
    assert "2,000 ms" in texts(svg)
    top_grid = min(float(el.get("y1", 0)) for el in svg.findall("svg:line", NS))
    assert float(line.get("y1", -1)) == top_grid
    assert "2 s budget" in texts(svg)


def test_days_without_data_split_the_line_instead_of_dropping_to_zero() -> None:
    svg = parse(line_chart("c", "Rate", [*DAYS, "11-05"], [Series("r", [1, 2, None, 4, 5])]))
    polylines = svg.findall("svg:polyline", NS)
    assert [len(p.get("points", "").split()) for p in polylines] == [2, 2]
    lone = parse(line_chart("c", "Rate", DAYS, [Series("r", [None, 2, None, None])]))
    assert not lone.findall("svg:polyline", NS)
    assert len(lone.findall("svg:circle", NS)) == 1


def test_bars_grow_from_the_axis_with_their_value_as_a_tooltip() -> None:
    svg = parse(
        bar_chart(
            "s",
            "Sessions and messages",
            DAYS,
            [Series("Sessions", [1, 0, 4, None]), Series("Messages", [2, 0, 8, None])],
        )
    )
    bars = svg.findall("svg:rect[@height]", NS)
    bars = [b for b in bars if b.find("svg:title", NS) is not None]
    assert len(bars) == 6  # the day without data draws nothing
    heights = {b.find("svg:title", NS).text: float(b.get("height", 0)) for b in bars}  # type: ignore[union-attr]
    assert heights["Messages, 11-03: 8"] == pytest.approx(2 * heights["Sessions, 11-03: 4"], 0.01)
    assert heights["Sessions, 11-02: 0"] == 0
    for bar in bars:  # every bar stands on the x axis
        assert float(bar.get("y", 0)) + float(bar.get("height", 0)) == pytest.approx(HEIGHT - 40)
    assert {"Sessions", "Messages"} <= set(texts(svg))  # a legend for two series


def test_text_from_the_data_is_escaped() -> None:
    markup = line_chart("x", "<script>alert(1)</script>", ["<b>"], [Series("</svg><img>", [1])])
    assert "<script>" not in markup and "<img>" not in markup
    svg = parse(markup)  # still well-formed XML
    assert svg.find("svg:title", NS).text == "<script>alert(1)</script>"  # type: ignore[union-attr]


def test_an_empty_period_says_so() -> None:
    svg = parse(line_chart("e", "Nothing", [], [Series("x", [])]))
    assert svg.find("svg:desc", NS).text == "No data in this period."  # type: ignore[union-attr]


def test_a_series_must_have_one_value_per_label() -> None:
    with pytest.raises(ValueError, match="3 values for 4 labels"):
        line_chart("bad", "Bad", DAYS, [Series("x", [1, 2, 3])])
