"""The ASGI server command: uvicorn (httptools for HTTP, ``websockets`` for websockets) serving ``config.asgi``.

Uvicorn hands a request body to the app as it arrives and parses none of it (daphne's Twisted parsed multipart
bodies in its one event-loop thread before the app saw the request: one hostile POST froze every page).
``config.body_limits`` bounds the body before Django reads it. ``make run`` (scripts/run.py) and the tests'
real server (tests/servers.py) start it with this command; so should a deployment (docs/operations.md).
"""

from __future__ import annotations

import sys

# The largest websocket message a client may send (the sockets only push; a client sends nothing but pings).
WS_MAX_MESSAGE_BYTES = 64 * 1024
# Seconds the server waits, on SIGTERM, for open requests and sockets before it closes them.
GRACEFUL_SHUTDOWN_S = 10


def command(host: str, port: int | str, *, python: str = sys.executable, ws_max_bytes: int = WS_MAX_MESSAGE_BYTES) -> list[str]:
    """The command line that serves the site on ``host``:``port``.

    ``--no-proxy-headers``: REMOTE_ADDR is the peer's address; X-Forwarded-For is read by the app itself, only
    from TRUSTED_PROXY_COUNT proxies (oms.signin.client_ip). ``--lifespan off``: Django has no lifespan events.
    """
    return [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port),
            "--http", "httptools", "--ws", "websockets", "--ws-max-size", str(ws_max_bytes),
            "--lifespan", "off", "--no-proxy-headers", "--no-server-header",
            "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S)]
