from __future__ import annotations

from litestar import Controller, Response, get

from qr import service
from qr.schemas import Jwks
from vaxbook.auth.security import PUBLIC
from vaxbook.dependencies import UoW


class JwksController(Controller):
    path = "/.well-known/jwks.json"
    tags = ["QR codes"]

    @get("/", opt=PUBLIC, summary="Public keys for QR codes and certificates")
    async def jwks(self, uow: UoW) -> Response[Jwks]:
        """The public keys that verify our QR codes and certificates (active and retired; never revoked ones).
        Served to any origin, as SMART Health Card verifiers in a browser need."""
        return Response(
            Jwks(keys=await service.jwks(uow)),
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"},
        )
