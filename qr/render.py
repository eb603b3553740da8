"""QR images of a text: PNG for any phone, SVG for print. Error correction M; an appointment code fits version 10."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

MAX_VERSION = 10


def _code(text: str, max_version: int) -> qrcode.QRCode:  # type: ignore[type-arg]
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    if code.version > max_version:
        raise ValueError(f"QR version {code.version} is above {max_version}")
    return code


def png(text: str, *, max_version: int = MAX_VERSION) -> bytes:
    buffer = io.BytesIO()
    _code(text, max_version).make_image(image_factory=PilImage).save(buffer)
    return buffer.getvalue()


def svg(text: str, *, max_version: int = MAX_VERSION) -> bytes:
    buffer = io.BytesIO()
    _code(text, max_version).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()


def version_of(text: str) -> int:
    return int(_code(text, 40).version)
