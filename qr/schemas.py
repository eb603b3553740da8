from __future__ import annotations

from vaxbook.fields import OutputModel


class Jwks(OutputModel):
    keys: list[dict[str, str]]
