"""Websocket consumers of the OMS (thin): the blotter listens for order changes it may see."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from oms import roles
from oms.broadcast import ALL_ORDERS_GROUP, portfolio_group


@database_sync_to_async
def _groups_for(user) -> list[str]:
    role = roles.role_of(user)
    if role is None:
        return []
    if role in roles.DESK_WIDE:
        return [ALL_ORDERS_GROUP]
    return [portfolio_group(pid) for pid in roles.visible_portfolios(user).values_list("id", flat=True)]


class BlotterConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/blotter/``: pushes ``order.changed`` / ``orders.changed`` for orders the user may see.

    Messages are hints: the page re-fetches its table on each one and on every (re)connect.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await _groups_for(user)
        if not self.groups_joined:
            await self.close(code=4403)
            return
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "groups": len(self.groups_joined)})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def order_changed(self, event):
        await self.send_json(event)

    async def orders_changed(self, event):
        await self.send_json(event)
