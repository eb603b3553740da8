"""QR images are drawn off the event loop, and an appointment code once."""

from __future__ import annotations

import threading

import pytest

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
