"""QR images of a text: PNG for any phone, SVG for print. An appointment code is level M and fits version 10; a
health card is level L and fits version 22, as the SMART Health Cards specification sets."""

from __future__ import annotations

import asyncio
import functools
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

MAX_VERSION = 10
CARD_MAX_VERSION = 22
LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "L": qrcode.constants.ERROR_CORRECT_L}
BOX_PIXELS = 8  # a module's side in a PNG


def _code(text: str, max_version: int, level: str) -> qrcode.QRCode:  # type: ignore[type-arg]
    code = qrcode.QRCode(error_correction=LEVELS[level], box_size=BOX_PIXELS, border=4)
    code.add_data(text)
    code.make(fit=True)
    if code.version > max_version:
        raise ValueError(f"QR version {code.version} is above {max_version}")
    return code


def png(text: str, *, max_version: int = MAX_VERSION, level: str = "M") -> bytes:
    """The code as a black-and-white PNG, a module a pixel scaled up: the same image as the qrcode package's own
    drawing (a rectangle a dark module), in a quarter of its time."""
    matrix = _code(text, max_version, level).get_matrix()
    size = len(matrix)
    modules = Image.new("1", (size, size), 1)
    modules.putdata([0 if dark else 1 for row in matrix for dark in row])
    buffer = io.BytesIO()
    modules.resize((size * BOX_PIXELS, size * BOX_PIXELS), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def svg(text: str, *, max_version: int = MAX_VERSION, level: str = "M") -> bytes:
    """The code as one SVG path, a rectangle per run of dark modules on a row, in module units on a white ground
    (with its quiet zone), 1 mm a module: about half the bytes of a square per module, so a slip carries it
    inline and prints it sharp at any size."""
    matrix = _code(text, max_version, level).get_matrix()
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}mm" height="{size}mm" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><path fill="#fff" d="M0 0h{size}v{size}H0z"/><path d="{"".join(runs)}"/>'
        "</svg>"
    ).encode()


# Drawing a code is CPU work of 10-20 ms. A booking's appointment code does not change, and people open it again in
# the queue: those are kept (they hold no personal data; a health card does, and is never kept).
appointment_png = functools.lru_cache(maxsize=4096)(png)
appointment_svg = functools.lru_cache(maxsize=1024)(svg)

# One thread draws, off the event loop: drawn on it, a code would stall every other request for its whole time; on
# more threads, drawings would only take turns for Python's lock with the loop and with each other.
_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qr-drawing")


async def drawn(text: str, kind: Literal["png", "svg"], *, card: bool) -> bytes:
    """The code as an image, drawn on the drawing thread (a kept appointment code is not drawn again)."""
    if card:
        draw = functools.partial(png if kind == "png" else svg, text, max_version=CARD_MAX_VERSION, level="L")
    else:
        draw = functools.partial(appointment_png if kind == "png" else appointment_svg, text)
    return await asyncio.get_running_loop().run_in_executor(_DRAWER, draw)
