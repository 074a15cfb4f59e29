"""Websocket consumer of the RFQ platform (thin): ``/ws/rfq/<id>/``, one RFQ's ladder live."""

from __future__ import annotations

from channels.db import database_sync_to_async

from oms import roles
from oms.socket_session import SessionBoundConsumer
from rfq import selectors
from rfq.broadcast import rfq_group


def _refusal_sync(user, rfq_id: int) -> tuple[int, str] | None:
    if roles.role_of(user) is None:
        return 4403, "no OMS role"
    if roles.role_of(user) not in roles.DESK_WIDE:  # the API's rule: RFQs are the desk's (rfq.selectors.rfq_list)
        return 4403, "RFQs are the trading desk's"
    if selectors.rfq_get(user=user, rfq_id=rfq_id) is None:
        return 4404, "no such RFQ among those you may see"
    return None


_refusal = database_sync_to_async(_refusal_sync)


@database_sync_to_async
def _detail(user, rfq_id: int) -> dict | None:
    from rfq.api.serializers import RfqDetailSerializer

    rfq = selectors.rfq_list(user=user).select_related("requested_by", "executed_quote__provider").filter(pk=rfq_id).first()
    return None if rfq is None else RfqDetailSerializer(rfq, context={"user": user}).data


class RfqConsumer(SessionBoundConsumer):
    """``/ws/rfq/<id>/``: quotes as they arrive, the execution and the close of one RFQ.

    Who may connect is who may read the RFQ (the API's rule): traders, compliance and admins; a PM or an API
    client never (an RFQ's sizes are whole-parent figures). Refusals are accepted, then closed with a code and
    a reason (4401 not signed in, 4403 no desk role, 4404 unknown; the server passes the code on
    but not the reason): a close before the handshake reaches a browser as 1006, which a page would retry
    forever.

    On connect it joins the RFQ's group, then sends ``{"type": "hello", "rfq": <the API's detail>}``, built
    after joining so that no change falls between the snapshot and the first push. It then forwards every
    ``rfq.changed`` (``rfq.broadcast``: the event, the RFQ's status and the quote that changed) and the
    publisher's coalesced ``orders.changed`` hint (several changes sent together under load); a page
    re-fetches ``GET /api/rfqs/<id>/`` on either when it needs the whole ladder. Each is forwarded only while
    the session lives and the user may still read the RFQ (``oms.socket_session``).
    """

    async def connect(self):
        user = self.scope.get("user")
        rfq_id = int(self.scope["url_route"]["kwargs"]["rfq_id"])
        if user is None or not user.is_authenticated:
            refusal = (4401, "sign in first")
        else:
            refusal = await _refusal(user, rfq_id)
        if refusal is not None:
            await self.accept()
            await self.close(code=refusal[0], reason=refusal[1])
            return
        self.rfq_id = rfq_id
        self.group = rfq_group(rfq_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.bind_session(user)
        await self.accept()
        await self.send_json({"type": "hello", "rfq": await _detail(user, rfq_id)})

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.unbind_session()

    def may_see(self, user, group, event) -> bool:
        return _refusal_sync(user, self.rfq_id) is None

    async def access_changed(self, user):
        refusal = await _refusal(user, self.rfq_id)
        if refusal is not None:
            await self.end_session(refusal[0])

    async def rfq_changed(self, event):
        await self.forward(event)

    async def orders_changed(self, event):
        await self.forward(event)
