"""QR images of a text: PNG for any phone, SVG for print. An appointment code is level M and fits version 10; a
health card is level L and fits version 22, as the SMART Health Cards specification sets."""

from __future__ import annotations

import functools
import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

MAX_VERSION = 10
CARD_MAX_VERSION = 22
LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "L": qrcode.constants.ERROR_CORRECT_L}


def _code(text: str, max_version: int, level: str) -> qrcode.QRCode:  # type: ignore[type-arg]
    code = qrcode.QRCode(error_correction=LEVELS[level], box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    if code.version > max_version:
        raise ValueError(f"QR version {code.version} is above {max_version}")
    return code


def png(text: str, *, max_version: int = MAX_VERSION, level: str = "M") -> bytes:
    buffer = io.BytesIO()
    _code(text, max_version, level).make_image(image_factory=PilImage).save(buffer)
    return buffer.getvalue()


def svg(text: str, *, max_version: int = MAX_VERSION, level: str = "M") -> bytes:
    buffer = io.BytesIO()
    _code(text, max_version, level).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()


# Drawing a code is CPU work of about 10 ms. A booking's appointment code does not change, and people open it
# again in the queue: those are cached (they hold no personal data; a health card does, and is never cached).
appointment_png = functools.lru_cache(maxsize=4096)(png)
appointment_svg = functools.lru_cache(maxsize=1024)(svg)
