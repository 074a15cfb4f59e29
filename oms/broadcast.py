"""Websocket pushes to blotters. Sent only after commit; they are hints, pages re-fetch on receipt.

Publishing never blocks a request: messages go to one long-lived event loop per process (a daemon
thread) that owns the channel layer's Redis connections, in the order they were queued.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

ALL_ORDERS_GROUP = "blotter.all"
# Above this many orders in one change, send one "orders changed" hint per portfolio, not one per order.
PER_ORDER_PUSH_LIMIT = 20


def portfolio_group(portfolio_id: int) -> str:
    return f"blotter.p{portfolio_id}"


class _Publisher:
    """A background event loop that sends channel-layer group messages strictly in the order queued."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self._loop.is_running():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run():
                    asyncio.set_event_loop(loop)
                    self._queue = asyncio.Queue()
                    loop.create_task(self._send_forever())
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="channel-publisher", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def _send_forever(self):
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():  # what queued up while we were sending goes out together
                batch.append(self._queue.get_nowait())
            try:
                for layer, messages in _coalesce(batch):
                    for group, message in messages:
                        # Tagged with its group: a consumer re-checks the user may still see that group.
                        await layer.group_send(group, {**message, "group": group})
            except Exception:  # a lost hint must never break anything: pages re-fetch on reconnect
                log.exception("blotter push failed")
            finally:
                for _ in batch:
                    self._queue.task_done()

    def publish(self, messages: list[tuple[str, dict]]) -> None:
        """Queue messages for sending; returns at once."""
        layer = get_channel_layer()
        if layer is None or not messages:
            return
        loop = self._ensure_loop()
        loop.call_soon_threadsafe(self._queue.put_nowait, (layer, messages))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far has been sent (tests; graceful shutdown)."""
        loop = self._ensure_loop()
        asyncio.run_coroutine_threadsafe(self._queue.join(), loop).result(timeout)


def _coalesce(batch: list[tuple]) -> list[tuple]:
    """Under load, many changes queue up between two sends: give each group one "orders.changed" hint
    for them instead of a message per order (pages re-fetch on either). A single change goes out as is."""
    if len(batch) == 1:
        return batch
    by_layer: dict[int, tuple] = {}
    for layer, messages in batch:
        groups = by_layer.setdefault(id(layer), (layer, {}))[1]
        for group, message in messages:
            groups.setdefault(group, []).append(message)
    out = []
    for layer, groups in by_layer.values():
        out.append((layer, [
            (group, msgs[0] if len(msgs) == 1 else {"type": "orders.changed", "count": sum(m.get("count", 1) for m in msgs)})
            for group, msgs in groups.items()
        ]))
    return out


publisher = _Publisher()


def orders_changed_on_commit(orders: Iterable) -> None:
    """After the current transaction commits, tell every blotter that may see these orders."""
    orders = list(orders)
    if not orders:
        return
    if len(orders) <= PER_ORDER_PUSH_LIMIT:
        messages = []
        for o in orders:
            payload = {"type": "order.changed", "id": o.id, "status": o.status, "portfolio_id": o.portfolio_id,
                       "client_order_id": o.client_order_id, "filled_quantity": o.filled_quantity}
            messages += [(portfolio_group(o.portfolio_id), payload), (ALL_ORDERS_GROUP, payload)]
    else:
        portfolio_ids = sorted({o.portfolio_id for o in orders})
        messages = [(portfolio_group(pid), {"type": "orders.changed", "count": len(orders)}) for pid in portfolio_ids]
        messages.append((ALL_ORDERS_GROUP, {"type": "orders.changed", "count": len(orders)}))
    transaction.on_commit(lambda: publisher.publish(messages))
