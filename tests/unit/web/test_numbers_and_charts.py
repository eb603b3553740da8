"""Numbers on the pages as each language writes them, and the department's charts naming every clinic in full."""

from __future__ import annotations

import re
from functools import partial

from quotas.models import InsufficientStock
from vaxbook.i18n import count, number_in
from web.charts import Series, bar_chart
from web.view import percent


def test_a_fraction_is_written_with_the_language_s_own_marks() -> None:
    assert number_in("vi", 4.5) == "4,5"
    assert number_in("en", 4.5) == "4.5"
    assert number_in("vi", 1250.54) == "1.250,5"
    assert number_in("en", 1250.54) == "1,250.5"
    assert number_in("vi", 4.0) == "4", "no trailing zero"
    assert number_in("vi", 10.0) == "10", "a whole number keeps its zeros"
    assert number_in("en", 0.3) == "0.3"
    assert number_in("vi", 0.25, digits=2) == "0,25"
    assert number_in("vi", None) == "–"


def test_a_share_is_a_rounded_percentage() -> None:
    assert percent(2 / 3) == "67%", "rounded, not cut"
    assert percent(0.999) == "100%"
    assert percent(0.0) == "0%"
    assert percent(None) == "–"


def test_a_chart_names_each_long_clinic_in_full_on_two_lines() -> None:
    names = [
        "Trạm Y tế phường Xuân Khánh, quận Ninh Kiều",
        "Bệnh viện Phụ sản thành phố Cần Thơ",
        "Ngắn",
    ]
    drawn = bar_chart("Đúng giờ", names, [Series("%", "chart-c", [90, 75, 60])])
    labels = re.findall(r'<text class="chart-label"[^>]*>(.*?)</text>', drawn)
    assert len(labels) == 3
    for name, label in zip(names, labels, strict=True):
        lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", label)
        assert " ".join(lines) == name, "broken between words, nothing cut"
        assert 1 <= len(lines) <= 2
    assert len(re.findall(r"<tspan", labels[0])) == 2, "the longest on two lines"
    height = int(re.search(r'viewBox="0 0 \d+ (\d+)"', drawn).group(1))  # type: ignore[union-attr]
    one_line = bar_chart("Đúng giờ", ["A", "B", "C"], [Series("%", "chart-c", [90, 75, 60])])
    assert height > int(re.search(r'viewBox="0 0 \d+ (\d+)"', one_line).group(1)), "room for the second lines"  # type: ignore[union-attr]


def test_only_a_name_longer_than_two_lines_is_cut_and_says_so() -> None:
    name = "Trung tâm Kiểm soát Bệnh tật thành phố Cần Thơ, điểm tiêm chủng lưu động số 12 phường An Hòa"
    drawn = bar_chart("t", [name], [Series("n", "chart-a", [1])])
    lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", drawn)
    assert len(lines) == 2
    assert lines[1].endswith("…")
    assert name.startswith(" ".join(lines)[:-1].rstrip())


def test_counts_group_their_thousands_as_the_language_does() -> None:
    assert number_in("vi", 18081, 0) == "18.081"
    assert number_in("en", 18081, 0) == "18,081"
    assert number_in("vi", 999, 0) == "999"
    assert count(10_000_000) == ("10.000.000", "10,000,000")
    refused = InsufficientStock(available=3640, requested=12000)
    assert refused.detail == ("Kho còn 3.640 liều của lô này; không thể lấy 12.000.", refused.detail.en)
    assert refused.detail.en.startswith("3,640 doses")
    drawn = bar_chart("t", ["A"], [Series("n", "chart-a", [18081])], partial(number_in, "vi", digits=0))
    assert ">18.081</text>" in drawn
