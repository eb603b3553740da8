from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from notify import service
from notify.jobs import delivery_policy
from notify.schemas import DeadMessageOut, MessageCount, MessagesOverview
from vaxbook.auth.security import CallerRequest
from vaxbook.dependencies import AppSettings, UoW


class MessageController(Controller):
    path = "/api/v1/admin/messages"
    tags = ["Operations"]

    @get("/", summary="Messages by medium, kind and status")
    async def overview(self, uow: UoW) -> MessagesOverview:
        """How many messages are pending, being sent, sent, dead or suppressed, per medium and kind, with the oldest
        one's due time; and the latest dead ones with their last error (never an address or a text)."""
        counts, dead = await service.overview(uow)
        return MessagesOverview(
            counts=[MessageCount.model_validate(c) for c in counts],
            dead=[DeadMessageOut.model_validate(d) for d in dead],
        )

    @post("/{message_id:int}/retry", status_code=HTTP_204_NO_CONTENT, summary="Send a dead message again")
    async def retry(self, message_id: FromPath[int], uow: UoW, request: CallerRequest, settings: AppSettings) -> None:
        """Send a dead message again, its tries counted afresh (after the gateway was fixed), once the quiet hours
        let it; audited. 404 message-not-found unless it is dead (a sign-in code is never sent again, and a reminder
        of a booking cancelled or moved since is no longer dead but withdrawn)."""
        await service.revive(uow, request.user, message_id, delivery_policy(settings), now=datetime.now(UTC))
