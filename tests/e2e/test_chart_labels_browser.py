"""The department's charts in a real Chromium: every category's name is drawn whole inside the chart, at a desk's
width and on a phone (the clinics' and vaccines' longest names in the demo, in the stylesheet's type)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e.pages import DESK, PHONE
from web.charts import Series, bar_chart

pytestmark = pytest.mark.e2e

STYLESHEET = next((Path(__file__).resolve().parents[2] / "web" / "static" / "pages").glob("site.v*.css"))
NAMES = [
    "Bệnh viện Nhi đồng thành phố Cần Thơ",
    "Bệnh viện Phụ sản thành phố Cần Thơ",
    "Gene-HBvax 10 mcg (viêm gan B sơ sinh)",
    "bOPV – Vắc xin bại liệt uống 2 týp (1, 3)",
    "Trạm Y tế phường Xuân Khánh, quận Ninh Kiều",
    "MVVAC – Vắc xin sởi; ComBE Five – Vắc xin 5 trong 1 (DPT-VGB-Hib)",
]

# each label's drawn box, in the chart's own units, where it starts left of the chart's edge
LABELS_CUT = """() => [...document.querySelectorAll('.chart-label')].filter(label => label.getBBox().x < 0)
    .map(label => label.textContent)"""


@pytest.mark.parametrize("size", [PHONE, DESK])
def test_each_name_on_a_chart_is_drawn_whole(size: dict[str, int], browser: Browser) -> None:
    chart = bar_chart("Vắc xin theo cơ sở", NAMES, [Series("Còn lại", "chart-a", [5040, 9450, 3780, 1, 0, 7])])
    context = browser.new_context(viewport={"width": size["width"], "height": size["height"]})
    page = context.new_page()
    try:
        page.set_content(
            f"<!DOCTYPE html><html lang='vi'><head><style>{STYLESHEET.read_text()}</style></head>"
            f"<body><main>{chart}</main></body></html>"
        )
        assert page.locator(".chart-label").count() == len(NAMES)
        assert page.evaluate(LABELS_CUT) == []
    finally:
        context.close()
