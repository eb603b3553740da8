"""QR codes read back by an independent reader (zxing-cpp), as a scanner at the door or a verifier's app would."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image


def the_qr_in(png: bytes) -> zxingcpp.Barcode:
    """The one QR code a PNG shows. Only QR codes are looked for: a reader looking for every kind of barcode may, now
    and then, take a run of a QR's modules for a barcode of another kind, and a signed code is drawn anew each time
    (its signature changes), so such a misreading would come and go between runs."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len({code.text for code in found}) == 1, [(code.text[:40], str(code.position)) for code in found]
    return found[0]
