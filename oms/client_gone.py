"""Knowing, in a view, that its client has gone away (ASGI ``http.disconnect``).

Django answers a disconnect by cancelling the async task of the request, but a sync view runs in a thread
that goes on. :class:`ClientGoneMiddleware` (wrapped around the HTTP application in ``config.asgi``) puts a
``threading.Event`` in the scope and sets it when the server reports ``http.disconnect``; a long computation
polls :func:`client_gone` (the what-if replay does, through its budget: ``tca.services.what_if``) and stops.
Under WSGI or the test client there is no such event: the function answers None (never cancelled).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

SCOPE_KEY = "smart_oms.client_gone"


class ClientGoneMiddleware:
    """ASGI middleware: ``scope[SCOPE_KEY]`` is set once the client of this HTTP request disconnects."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        gone = threading.Event()

        async def watched_receive():
            message = await receive()
            if message.get("type") == "http.disconnect":
                gone.set()
            return message

        return await self.app({**scope, SCOPE_KEY: gone}, watched_receive, send)


def client_gone(request) -> Callable[[], bool] | None:
    """A check that answers True once the request's client has disconnected (None: no way to know)."""
    event = (getattr(request, "scope", None) or {}).get(SCOPE_KEY)
    return event.is_set if event is not None else None
