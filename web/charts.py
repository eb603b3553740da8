"""Bar charts drawn on the server as SVG: no script, nothing to download, sharp when printed. Each chart is an
image with a title for screen readers, and the page shows the same numbers in a table next to it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

WIDTH = 640
LABEL_WIDTH = 260
BAR_HEIGHT = 14
GAP = 10
VALUE_ROOM = 48
LABEL_CHARACTERS = 38  # a line of a category's name, in the label's room at the chart's type size
LINE_HEIGHT = 13


@dataclass(frozen=True)
class Series:
    name: str
    kind: str  # a CSS class of site.css (chart-a, chart-b, chart-c): its colour
    values: list[int]


def bar_chart(title: str, categories: list[str], series: list[Series], written: Callable[[int], str] = str) -> str:
    """Horizontal bars, one group per category, one bar per series, with a legend; values written at each bar's
    end (`written`: as the page's language writes a number). The scale starts at zero and ends at the largest
    value."""
    biggest = max([max(s.values, default=0) for s in series] + [1])
    span = WIDTH - LABEL_WIDTH - VALUE_ROOM
    labels = [_label_lines(category) for category in categories]
    group_height = max(BAR_HEIGHT * len(series), LINE_HEIGHT * max(map(len, labels), default=1)) + GAP
    legend_height = 24
    height = legend_height + group_height * len(categories) + GAP
    parts = [
        # on a phone the chart keeps a width its words can be read at, and scrolls sideways
        '<div class="table-wrap" tabindex="0">',
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
    ]
    x = LABEL_WIDTH
    for s in series:
        parts.append(f'<rect class="{s.kind}" x="{x}" y="4" width="12" height="12"/>')
        parts.append(f'<text x="{x + 16}" y="14">{escape(s.name)}</text>')
        x += 24 + 8 * len(s.name)
    for row, lines in enumerate(labels):
        top = legend_height + row * group_height
        parts.append(f'<text class="chart-label" x="{LABEL_WIDTH - 6}" y="{top + BAR_HEIGHT - 2}">')
        parts += [
            f'<tspan x="{LABEL_WIDTH - 6}" dy="{LINE_HEIGHT if n else 0}">{escape(line)}</tspan>'
            for n, line in enumerate(lines)
        ]
        parts.append("</text>")
        for n, s in enumerate(series):
            value = s.values[row] if row < len(s.values) else 0
            y = top + n * BAR_HEIGHT
            length = round(span * value / biggest)
            parts.append(
                f'<rect class="{s.kind}" x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT - 2}"/>'
            )
            parts.append(f'<text x="{LABEL_WIDTH + length + 4}" y="{y + BAR_HEIGHT - 3}">{written(value)}</text>')
    parts.append("</svg></div>")
    return "".join(parts)


def table_of(
    categories: list[str], series: list[Series], written: Callable[[int], str], *, summary: str, heading: str
) -> str:
    """A chart's numbers as a table, folded under `summary`, for whoever cannot see (or read) the bars."""
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(category)}</th>'
        + "".join(f"<td>{written(s.values[n] if n < len(s.values) else 0)}</td>" for s in series)
        + "</tr>"
        for n, category in enumerate(categories)
    )
    return (
        f'<details><summary>{escape(summary)}</summary><div class="table-wrap" tabindex="0"><table class="today">'
        f'<thead><tr><th scope="col">{escape(heading)}</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        "</details>"
    )


def _label_lines(name: str) -> list[str]:
    """A category's name on at most two lines, broken between words (clinics' names run long: "Trạm Y tế phường
    ..."); only a name longer than both is cut, and says so with an ellipsis."""
    lines = textwrap.wrap(name, LABEL_CHARACTERS, break_on_hyphens=False) or [""]
    if len(lines) <= 2:
        return lines
    rest = " ".join(lines[1:])
    return [lines[0], rest[: LABEL_CHARACTERS - 1].rstrip() + "…"]
