"""Bar charts drawn on the server as SVG: no script, nothing to download, sharp when printed. Each chart is an
image with a title for screen readers, and the page shows the same numbers in a table next to it."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 640
LABEL_WIDTH = 220
BAR_HEIGHT = 14
GAP = 10
VALUE_ROOM = 48


@dataclass(frozen=True)
class Series:
    name: str
    kind: str  # a CSS class of site.css (chart-a, chart-b, chart-c): its colour
    values: list[int]


def bar_chart(title: str, categories: list[str], series: list[Series]) -> str:
    """Horizontal bars, one group per category, one bar per series, with a legend; values written at each bar's
    end. The scale starts at zero and ends at the largest value."""
    biggest = max([max(s.values, default=0) for s in series] + [1])
    span = WIDTH - LABEL_WIDTH - VALUE_ROOM
    group_height = BAR_HEIGHT * len(series) + GAP
    legend_height = 24
    height = legend_height + group_height * len(categories) + GAP
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    x = LABEL_WIDTH
    for s in series:
        parts.append(f'<rect class="{s.kind}" x="{x}" y="4" width="12" height="12"/>')
        parts.append(f'<text x="{x + 16}" y="14">{escape(s.name)}</text>')
        x += 24 + 8 * len(s.name)
    for row, category in enumerate(categories):
        top = legend_height + row * group_height
        label = category if len(category) <= 34 else category[:33] + "…"
        parts.append(f'<text class="chart-label" x="{LABEL_WIDTH - 6}" y="{top + BAR_HEIGHT}">{escape(label)}</text>')
        for n, s in enumerate(series):
            value = s.values[row] if row < len(s.values) else 0
            y = top + n * BAR_HEIGHT
            length = round(span * value / biggest)
            parts.append(
                f'<rect class="{s.kind}" x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT - 2}"/>'
            )
            parts.append(f'<text x="{LABEL_WIDTH + length + 4}" y="{y + BAR_HEIGHT - 3}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)
