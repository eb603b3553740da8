from __future__ import annotations

from litestar import Controller, get

from qr import service
from qr.schemas import Jwks
from vaxbook.auth.security import PUBLIC
from vaxbook.dependencies import UoW


class JwksController(Controller):
    path = "/.well-known/jwks.json"
    tags = ["QR codes"]

    @get("/", opt=PUBLIC)
    async def jwks(self, uow: UoW) -> Jwks:
        """The public keys that verify our QR codes and certificates (active and retired; never revoked ones)."""
        return Jwks(keys=await service.jwks(uow))
