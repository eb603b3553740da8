"""QR images are drawn off the event loop, and an appointment code once."""

from __future__ import annotations

import io
import threading

import pytest
import qrcode
import zxingcpp
from PIL import Image
from qrcode.image.pil import PilImage

from qr import render


async def test_codes_are_drawn_on_the_drawing_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn_on: list[str] = []

    def recording(text: str) -> bytes:
        drawn_on.append(threading.current_thread().name)
        return render.png(text)

    monkeypatch.setattr(render, "appointment_png", recording)
    image = await render.drawn("VB1:appointment", "png", card=False)
    assert image.startswith(b"\x89PNG")
    (thread,) = drawn_on
    assert thread.startswith("qr-drawing")
    assert thread != threading.current_thread().name


async def test_an_appointment_code_is_drawn_once_and_a_card_every_time() -> None:
    render.appointment_svg.cache_clear()
    first = await render.drawn("VB1:again", "svg", card=False)
    again = await render.drawn("VB1:again", "svg", card=False)
    assert first == again
    assert render.appointment_svg.cache_info().hits == 1
    card = await render.drawn("shc:/5676290952432060346029243740", "svg", card=True)
    assert b"<svg" in card[:200]
    assert render.appointment_svg.cache_info().currsize == 1, "a card is never kept"


@pytest.mark.parametrize(
    ("text", "max_version", "level"),
    [
        ("VB1.short", render.MAX_VERSION, "M"),
        ("shc:/" + "5676290952432060346029243740" * 20, render.CARD_MAX_VERSION, "L"),
    ],
)
def test_a_png_is_the_qrcode_package_s_own_drawing_and_reads_back(text: str, max_version: int, level: str) -> None:
    drawn = Image.open(io.BytesIO(render.png(text, max_version=max_version, level=level)))
    theirs = qrcode.QRCode(error_correction=render.LEVELS[level], box_size=render.BOX_PIXELS, border=4)
    theirs.add_data(text)
    theirs.make(fit=True)
    buffer = io.BytesIO()
    theirs.make_image(image_factory=PilImage).save(buffer)
    expected = Image.open(io.BytesIO(buffer.getvalue()))
    assert (drawn.mode, drawn.size) == (expected.mode, expected.size)
    assert drawn.tobytes() == expected.tobytes()
    (found,) = zxingcpp.read_barcodes(drawn.convert("L"))
    assert found.text == text
