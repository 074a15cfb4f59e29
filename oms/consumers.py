"""Websocket consumers of the OMS (thin): the blotter listens for order changes it may see."""

from channels.db import database_sync_to_async

from oms import roles
from oms.broadcast import ALL_ORDERS_GROUP, portfolio_group
from oms.socket_session import SessionBoundConsumer


def _groups_for_sync(user) -> list[str]:
    role = roles.role_of(user)
    if role is None:
        return []
    if role in roles.DESK_WIDE:
        return [ALL_ORDERS_GROUP]
    return [portfolio_group(pid) for pid in roles.visible_portfolios(user).values_list("id", flat=True)]


_groups_for = database_sync_to_async(_groups_for_sync)


class BlotterConsumer(SessionBoundConsumer):
    """``/ws/blotter/``: pushes ``order.changed`` / ``orders.changed`` for orders the user may see.

    Messages are hints: the page re-fetches its table on each one and on every (re)connect. Each message is
    forwarded only if the user may see its portfolio at that moment (``oms.socket_session``).
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
        await self.bind_session(user)
        await self.accept()
        await self.send_json({"type": "hello", "groups": len(self.groups_joined)})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.unbind_session()

    def may_see(self, user, group, event) -> bool:
        if roles.role_of(user) in roles.DESK_WIDE:
            return True
        portfolio_ids = {event.get("portfolio_id")} if event.get("portfolio_id") is not None else set()
        if group is not None and group.startswith(portfolio_group("")):
            portfolio_ids.add(int(group.removeprefix(portfolio_group(""))))
        if not portfolio_ids or group == ALL_ORDERS_GROUP:
            return False
        return roles.visible_portfolios(user).filter(id__in=portfolio_ids).count() == len(portfolio_ids)

    async def access_changed(self, user):
        wanted = await _groups_for(user)
        for group in set(self.groups_joined) - set(wanted):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(wanted) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = wanted
        if not wanted:
            await self.end_session(4403)

    async def order_changed(self, event):
        await self.forward(event)

    async def orders_changed(self, event):
        await self.forward(event)
