"""Websocket consumers of the EMS (thin)."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ems import selectors
from ems.services import venue_profiles
from oms import roles
from oms.models import Instrument

PUSH_INTERVAL_S = 0.5


@database_sync_to_async
def _load(symbol: str, user):
    if roles.role_of(user) is None:
        return None, None
    instrument = Instrument.objects.filter(symbol=symbol.upper(), is_active=True).first()
    return instrument, venue_profiles()


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
