"""Charts as server-rendered SVG geometry: no JavaScript library, no CDN, works offline.

Functions here turn numbers into shapes with their axes: ticks at round values with their
labels (money with its currency, counts with separators), month names along the bottom, and the
current month, which has only begun, drawn dashed and marked "so far" instead of as a collapse.
Templates (``_charts.html``) draw them and keep the numbers as a table next to every chart.

Colours: a segment keeps one colour on every page (``segment_color`` of its label), and each
value type has its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from babel.dates import format_date
from babel.numbers import format_compact_currency

from ..formatting import babel_locale, compact, currency, money, number

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4f46e5",
           "#059669", "#db2777", "#65a30d", "#7c3aed", "#0284c7", "#b45309")
# value types: a green scale from the best customers down, new sign-ups apart, never-bought grey
VALUE_TYPE_COLORS = {"high_value": "#14532d", "most_growth": "#0d9488", "new": "#c084fc", "ordinary": "#4ade80",
                     "below_average": "#a3e635", "negative": "#d1d5db"}
OTHER_COLOR = "#9ca3af"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def segment_color(label: int | None) -> str:
    """The colour of an interest segment (by its label in the run), the same on every page."""
    return OTHER_COLOR if label is None else color(int(label))


@dataclass(frozen=True)
class Slice:
    label: str
    value: float
    share: float
    path: str
    color: str
    href: str | None = None


def pie(items: list[tuple], radius: float = 90, cx: float = 100, cy: float = 100) -> list[Slice]:
    """Pie slices as SVG path data; items are (label, value[, colour[, link]]). A single non-zero
    item is a full circle."""
    total = float(sum(item[1] for item in items if item[1] > 0))
    slices: list[Slice] = []
    angle = -math.pi / 2
    for i, item in enumerate(items):
        label, value = item[0], item[1]
        fill = item[2] if len(item) > 2 and item[2] else color(i)
        href = item[3] if len(item) > 3 else None
        if value <= 0 or total <= 0:
            continue
        share = value / total
        if share >= 0.9999:
            path = (f"M {cx - radius:.2f} {cy:.2f} a {radius} {radius} 0 1 0 {2 * radius} 0 "
                    f"a {radius} {radius} 0 1 0 {-2 * radius} 0 Z")
        else:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            large = 1 if share > 0.5 else 0
            path = f"M {cx} {cy} L {x1:.2f} {y1:.2f} A {radius} {radius} 0 {large} 1 {x2:.2f} {y2:.2f} Z"
            angle = end
        slices.append(Slice(label, value, share, path, fill, href))
    return slices


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round values from 0 up to at least ``top`` (0, 250, 500, 750, 1,000 …)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def axis_label(value: float, is_money: bool) -> str:
    """A tick's label: ``€2,500`` or ``€12.5k`` for money, ``2,500`` or ``12.5k`` for counts."""
    if is_money:
        if value < 10_000:
            return money(value, cents=False)
        return format_compact_currency(value, currency(), locale=babel_locale(), fraction_digits=1)
    return number(value) if value < 10_000 else compact(value)


def month_label(month: str, with_year: bool = False) -> str:
    """``2026-10`` → ``Oct`` (``Oct 2026``) in the shop's language."""
    year, number = (int(x) for x in month.split("-"))
    return format_date(date(year, number, 1), "MMM y" if with_year else "MMM", locale=babel_locale())


@dataclass(frozen=True)
class Tick:
    at: float  # position along the axis (SVG units)
    label: str


@dataclass
class Plot:
    """A chart's frame: the SVG size, the drawing area inside the axes, and the ticks."""

    width: float = 520
    height: float = 220
    left: float = 62
    right: float = 30  # room for the last month's label
    top: float = 12
    bottom: float = 30
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> float:
        return self.top + self.inner_height


@dataclass
class Line:
    """A line over months: the solid part, the dashed last step to the month still running, points."""

    plot: Plot
    solid: str
    partial: str  # (unused: the running month is not joined to the line)
    points: list[tuple[float, float, str, float, bool]]  # x, y, month, value, partial?
    unit: str  # what the y axis counts
    partial_month: str | None


def line(rows: list[dict], field_name: str, unit: str, is_money: bool = False, partial_last: bool = True) -> Line | None:
    """A month-by-month line of ``rows[i][field_name]`` (rows oldest first, ``month`` = ``YYYY-MM``).
    With ``partial_last`` the last month is the one still running."""
    if not rows:
        return None
    values = [float(r.get(field_name) or 0) for r in rows]
    plot = Plot()
    ticks = nice_ticks(max(values))
    top = ticks[-1] or 1
    plot.y_ticks = [Tick(plot.baseline - t / top * plot.inner_height, axis_label(t, is_money)) for t in ticks]
    step = plot.inner_width / max(len(rows) - 1, 1)
    xs = [plot.left + i * step for i in range(len(rows))]
    ys = [plot.baseline - v / top * plot.inner_height for v in values]
    every = max(1, math.ceil(len(rows) / 6))
    plot.x_ticks = [Tick(xs[i], month_label(rows[i]["month"], with_year=(i == 0 or rows[i]["month"].endswith("-01"))))
                    for i in range(len(rows)) if (len(rows) - 1 - i) % every == 0]
    partial = partial_last and len(rows) > 1
    solid_end = len(rows) - 1 if partial else len(rows)
    solid = " ".join(f"{xs[i]:.1f},{ys[i]:.1f}" for i in range(solid_end))
    # The running month is a point of its own, not joined to the line: a month that has only
    # begun would otherwise read as a collapse.
    dashed = ""
    points = [(xs[i], ys[i], rows[i]["month"], values[i], partial and i == len(rows) - 1) for i in range(len(rows))]
    return Line(plot, solid, dashed, points, unit, rows[-1]["month"] if partial else None)


@dataclass(frozen=True)
class HBar:
    label: str
    value: float
    y: float
    width: float
    color: str
    text: str  # the value as shown at the bar's end
    href: str | None = None
    help: str = ""


@dataclass
class HBars:
    bars: list[HBar]
    height: float
    label_width: float = 150
    bar_height: float = 22
    scale_width: float = 260


def hbars(items: list[dict], is_money: bool = False) -> HBars | None:
    """Horizontal bars with their labels on the left and values at their ends (long names fit,
    also on a phone). Items: {label, value[, color, href, help]}."""
    if not items:
        return None
    chart = HBars([], 0)
    top = max((float(i["value"]) for i in items), default=0) or 1
    row = chart.bar_height + 10
    for n, item in enumerate(items):
        value = float(item["value"])
        text = money(value, cents=False) if is_money else number(value)
        chart.bars.append(HBar(item["label"], value, n * row + 4, max(value / top * chart.scale_width, 1 if value else 0),
                               item.get("color") or color(n), text, item.get("href"), item.get("help", "")))
    chart.height = len(items) * row + 4
    return chart


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    color: str


@dataclass
class Columns:
    plot: Plot
    bars: list[Bar]
    unit: str


def columns(items: list[tuple[str, float]], unit: str, is_money: bool = False, fill: str = "#2563eb") -> Columns | None:
    """Vertical bars with a y axis of round values and a label under each bar."""
    if not items:
        return None
    plot = Plot()
    ticks = nice_ticks(max((v for _, v in items), default=0))
    top = ticks[-1] or 1
    plot.y_ticks = [Tick(plot.baseline - t / top * plot.inner_height, axis_label(t, is_money)) for t in ticks]
    slot = plot.inner_width / len(items)
    gap = min(8.0, slot * 0.2)
    result = []
    for i, (label, value) in enumerate(items):
        h = max(0.0, value) / top * plot.inner_height
        result.append(Bar(str(label), value, plot.left + i * slot + gap / 2, plot.baseline - h, max(slot - gap, 1), h,
                          fill))
    plot.x_ticks = [Tick(b.x + b.width / 2, b.label) for b in result]
    return Columns(plot, result, unit)
