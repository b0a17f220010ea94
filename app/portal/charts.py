"""Line and bar charts drawn on the server as SVG: no script, no charting library, no fonts.

A chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>` (what a
screen reader says: the range, the extremes and the latest value), with axes, tick labels and
an optional threshold line (a budget or an objective, drawn dashed and labelled). Colours are
presentation attributes, not `style`, so a strict CSP (`style-src 'self'`) does not drop them.
A day without data (`None`) leaves a gap in a line instead of pretending it was zero.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Series", "Threshold", "bar_chart", "line_chart", "nice_ticks"]

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 16, 40
# Colour-blind-safe (Okabe-Ito), each at least 3:1 against white as WCAG 1.4.11 asks.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
THRESHOLD_COLOUR = "#B00020"
_AXIS = "#5f6368"
_GRID = "#e0e0e0"
_MAX_X_LABELS = 8


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label; None: no data that day


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    label: str  # e.g. "2 s budget"


def nice_ticks(high: float, count: int = 4) -> list[float]:
    """0 to at least `high` in `count` or so round steps (1, 2, 2.5 or 5 times a power of ten)."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    steps = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _plain(value: float, unit: str) -> str:
    return f"{_number(value)}{unit}"


class _Frame:
    """The plot area and the mapping from data to pixels."""

    def __init__(self, count: int, top_value: float) -> None:
        self.count = max(count, 1)
        self.ticks = nice_ticks(top_value)
        self.top = self.ticks[-1]
        self.x0, self.x1 = _LEFT, WIDTH - _RIGHT
        self.y0, self.y1 = HEIGHT - _BOTTOM, _TOP

    def y(self, value: float) -> float:
        return round(self.y0 - (self.y0 - self.y1) * (value / self.top), 1)

    def slot(self) -> float:
        return (self.x1 - self.x0) / self.count

    def x(self, index: int) -> float:
        """The centre of the index-th slot (bars and points line up with their labels)."""
        return round(self.x0 + self.slot() * (index + 0.5), 1)


def _axes(frame: _Frame, labels: Sequence[str], unit: str) -> list[str]:
    parts = []
    for tick in frame.ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.x0}" x2="{frame.x1}" y1="{y}" y2="{y}" stroke="{_GRID}"/>'
            f'<text x="{frame.x0 - 6}" y="{y + 4}" text-anchor="end">'
            f"{escape(_plain(tick, unit))}</text>"
        )
    every = max(1, math.ceil(len(labels) / _MAX_X_LABELS))
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(
                f'<text x="{frame.x(index)}" y="{frame.y0 + 18}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append(
        f'<line x1="{frame.x0}" x2="{frame.x0}" y1="{frame.y1}" y2="{frame.y0}" '
        f'stroke="{_AXIS}"/><line x1="{frame.x0}" x2="{frame.x1}" y1="{frame.y0}" '
        f'y2="{frame.y0}" stroke="{_AXIS}"/>'
    )
    return parts


def _threshold(frame: _Frame, threshold: Threshold | None) -> list[str]:
    if threshold is None:
        return []
    y = frame.y(threshold.value)
    return [
        f'<line class="threshold" x1="{frame.x0}" x2="{frame.x1}" y1="{y}" y2="{y}" '
        f'stroke="{THRESHOLD_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        f'<text x="{frame.x1}" y="{y - 5}" text-anchor="end" fill="{THRESHOLD_COLOUR}">'
        f"{escape(threshold.label)}</text>"
    ]


def _legend(series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], _LEFT
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}">{escape(item.name)}</text>'
        )
        x += 24 + 7 * len(item.name)
    return parts


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    if not labels:
        return "No data in this period."
    sentences = [f"From {labels[0]} to {labels[-1]}."]
    for item in series:
        known = [(label, v) for label, v in zip(labels, item.values, strict=True) if v is not None]
        if not known:
            sentences.append(f"{item.name}: no data.")
            continue
        low = min(known, key=lambda pair: pair[1])
        high = max(known, key=lambda pair: pair[1])
        sentences.append(
            f"{item.name}: lowest {_plain(low[1], unit)} on {low[0]}, highest "
            f"{_plain(high[1], unit)} on {high[0]}, latest {_plain(known[-1][1], unit)} "
            f"on {known[-1][0]}."
        )
    return " ".join(sentences)


def _chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    threshold: Threshold | None,
    draw: Callable[[_Frame], list[str]],
) -> Markup:
    for item in series:
        if len(item.values) != len(labels):
            raise ValueError(
                f"series {item.name!r} has {len(item.values)} values for {len(labels)} labels"
            )
    values = [v for item in series for v in item.values if v is not None]
    top = max([*values, threshold.value if threshold else 0.0, 0.0])
    frame = _Frame(len(labels), top)
    body = [
        *_axes(frame, labels, unit),
        *draw(frame),
        *_threshold(frame, threshold),
        *_legend(series),
    ]
    cid = escape(chart_id)
    # Every piece of text that comes from the data went through escape() on its way in.
    return Markup(  # noqa: S704
        f'<svg class="chart" id="{cid}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-size="11" font-family="sans-serif" fill="#202124" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(_describe(labels, series, unit))}</desc>'
        + "".join(body)
        + "</svg>"
    )


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    threshold: Threshold | None = None,
) -> Markup:
    """One polyline per series; a run of `None` splits the line, a lone point gets a dot."""

    def draw(frame: _Frame) -> list[str]:
        parts = []
        for index, item in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            runs: list[list[str]] = [[]]
            for position, value in enumerate(item.values):
                if value is None:
                    runs.append([])
                else:
                    runs[-1].append(f"{frame.x(position)},{frame.y(value)}")
            for run in runs:
                if len(run) > 1:
                    parts.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"/>'
                    )
                elif run:
                    x, y = run[0].split(",")
                    parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
        return parts

    return _chart(chart_id, title, labels, series, unit, threshold, draw)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    threshold: Threshold | None = None,
) -> Markup:
    """Grouped bars, one group per label; each bar has a tooltip with its exact value."""

    def draw(frame: _Frame) -> list[str]:
        parts = []
        group = frame.slot() * 0.8
        width = group / max(len(series), 1)
        for index, item in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            for position, value in enumerate(item.values):
                if value is None:
                    continue
                x = round(frame.x(position) - group / 2 + index * width, 1)
                y = frame.y(value)
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{round(max(width - 1, 1), 1)}" '
                    f'height="{round(frame.y0 - y, 1)}" fill="{colour}"><title>'
                    f"{escape(item.name)}, {escape(labels[position])}: "
                    f"{escape(_plain(value, unit))}</title></rect>"
                )
        return parts

    return _chart(chart_id, title, labels, series, unit, threshold, draw)
