"""Charts as server-rendered SVG geometry: no JavaScript library, no CDN, works offline.

Functions here turn numbers into shapes (paths, bars, points); templates draw them and show
the same numbers as a table next to every chart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4f46e5",
           "#059669", "#db2777", "#65a30d", "#7c3aed", "#0284c7", "#b45309")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass(frozen=True)
class Slice:
    label: str
    value: float
    share: float
    path: str
    color: str


def pie(items: list[tuple[str, float]], radius: float = 90, cx: float = 100, cy: float = 100) -> list[Slice]:
    """Pie slices as SVG path data. A single non-zero item is a full circle."""
    total = float(sum(v for _, v in items if v > 0))
    slices: list[Slice] = []
    angle = -math.pi / 2
    for i, (label, value) in enumerate(items):
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
        slices.append(Slice(label, value, share, path, color(i)))
    return slices


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    color: str


def bars(items: list[tuple[str, float]], width: float = 480, height: float = 180, gap: float = 8) -> list[Bar]:
    """Vertical bars scaled to the largest value, with room below for labels."""
    if not items:
        return []
    top = max((v for _, v in items), default=0) or 1
    slot = width / len(items)
    result = []
    for i, (label, value) in enumerate(items):
        h = max(0.0, value) / top * height
        result.append(Bar(label, value, i * slot + gap / 2, height - h, max(slot - gap, 1), h, color(i)))
    return result


def polyline(values: list[float], width: float = 480, height: float = 160) -> str:
    """Points of a line chart (``x,y x,y ...``)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - max(v, 0) / top * height:.1f}" for i, v in enumerate(values))
