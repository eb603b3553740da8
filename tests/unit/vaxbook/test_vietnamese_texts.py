"""Vietnamese messages are Vietnamese: no English connective and no Python literal in any of them, in any package."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vaxbook import problems

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("vaxbook", "booking", "clinics", "priority", "quotas", "qr", "notify")
# Calls that carry a message in both languages, and the position of the Vietnamese one (or the keyword vi=).
BILINGUAL = {"Text": 0, "bilingual_error": 1, "Refusal": 1}
FOREIGN = re.compile(r"(?<![\w-])(or|and|True|False|None)(?![\w-])")


def vietnamese_texts(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every literal Vietnamese message in the source; an f-string's fields read as {…}."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and (argument := _vietnamese_argument(node)) is not None:
            text = _literal(argument)
            if text is not None:
                yield node.lineno, text


def _vietnamese_argument(call: ast.Call) -> ast.expr | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in BILINGUAL:
        return None
    keyword = next((k.value for k in call.keywords if k.arg == "vi"), None)
    position = BILINGUAL[name]
    return keyword or (call.args[position] if len(call.args) > position else None)


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) if isinstance(part, ast.Constant) else "{…}" for part in node.values)
    return None


def offenders(source: str) -> list[tuple[int, str]]:
    return [(line, text) for line, text in vietnamese_texts(source) if FOREIGN.search(text)]


def test_the_scan_finds_english_and_python_in_every_form_of_message() -> None:
    source = "\n".join(
        [
            'Text("Phải là True hoặc False", "Must be true or false")',
            'bilingual_error("code", f"Chọn {a} or {b}", "Pick {a} or {b}")',
            'Text("Đúng rồi", "English may say and, or")',
            'errors.Refusal("code", vi="Nam and nữ", en="Men and women")',
            'Text(vi=f"Giá trị {x}: None", en="x")',
            'Text("Check-in hoặc hủy; Android, Oracle, Nonetheless", "x")',
        ]
    )
    assert offenders(source) == [
        (1, "Phải là True hoặc False"),
        (2, "Chọn {…} or {…}"),
        (4, "Nam and nữ"),
        (5, "Giá trị {…}: None"),
    ]


def test_no_vietnamese_message_in_the_code_holds_english_connectives_or_python_literals() -> None:
    scanned: Counter[str] = Counter()
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, text in vietnamese_texts(path.read_text(encoding="utf-8")):
                scanned[package] += 1
                if FOREIGN.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert set(scanned) == set(PACKAGES), f"the scan reached only {sorted(scanned)}"
    assert found == []


def test_the_vietnamese_validation_templates_hold_none_either() -> None:
    assert [t for t in problems._VI_VALIDATION.values() if FOREIGN.search(t)] == []
