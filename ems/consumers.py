"""Websocket consumers of the EMS (thin)."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ems import selectors
from ems.broadcast import DESK_GROUP, parent_group
from oms import roles
from oms.models import Instrument
from oms.socket_session import SessionBoundConsumer

PUSH_INTERVAL_S = 0.5


@database_sync_to_async
def _load(symbol: str, user):
    if roles.role_of(user) is None:
        return None, None
    instrument = Instrument.objects.filter(symbol=symbol.upper(), is_active=True).first()
    return instrument, selectors.venue_profiles()


class MarketDataConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/market/<symbol>/``: the instrument's ladders, BBO, prints and chart, every half second.

    Each push is computed from the seeded market model at the current market time, so any web process
    serves the same market and a reconnect simply resumes.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.instrument, self.venues = await _load(self.scope["url_route"]["kwargs"]["symbol"], user)
        if self.instrument is None:
            await self.close(code=4404)
            return
        await self.accept()
        self.pusher = asyncio.ensure_future(self._push_forever())

    async def disconnect(self, code):
        pusher = getattr(self, "pusher", None)
        if pusher is not None:
            pusher.cancel()

    async def _push_forever(self):
        view = sync_to_async(selectors.market_view, thread_sensitive=False)
        while True:
            await self.send_json({"type": "market", **(await view(self.instrument, venues=self.venues))})
            await asyncio.sleep(PUSH_INTERVAL_S)


def _desk_access_sync(user, parent_id: int | None) -> bool:
    if roles.role_of(user) not in roles.DESK_WIDE:
        return False
    return parent_id is None or selectors.parent_get(user=user, parent_id=parent_id) is not None


_desk_access = database_sync_to_async(_desk_access_sync)


class DeskConsumer(SessionBoundConsumer):
    """``/ws/desk/`` (every parent) and ``/ws/parent/<id>/`` (one parent): ``parent.changed`` hints for
    the trader desk (traders, compliance, admins; 4403 for anybody else, 4404 for an unknown parent).

    Messages are hints: the page re-fetches its live regions on each one and on every (re)connect. Each is
    forwarded only while the session lives and the user still has a desk role (``oms.socket_session``).
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        raw = self.scope["url_route"]["kwargs"].get("parent_id")
        parent_id = int(raw) if raw is not None else None
        # Accepted, then closed with the reason: a close before the handshake reaches the browser as 1006,
        # which a page would retry forever; 4403 / 4404 tell it to stop.
        refusal = None
        if not await _desk_access(user, None):
            refusal = 4403
        elif parent_id is not None and not await _desk_access(user, parent_id):
            refusal = 4404
        if refusal is not None:
            await self.accept()
            await self.close(code=refusal)
            return
        self.parent_id = parent_id
        self.group = DESK_GROUP if parent_id is None else parent_group(parent_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.bind_session(user)
        await self.accept()
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.unbind_session()

    def may_see(self, user, group, event) -> bool:
        return _desk_access_sync(user, self.parent_id)

    async def access_changed(self, user):
        if not await _desk_access(user, self.parent_id):
            await self.end_session(4403)

    async def parent_changed(self, event):
        await self.forward(event)

    # The RFQ platform tells the desk about requests and quotes (rfq.broadcast): forward them too.
    async def rfq_changed(self, event):
        await self.forward(event)

    # oms.broadcast coalesces a burst of hints into one "orders.changed" per group: forward it too.
    async def orders_changed(self, event):
        await self.forward(event)
