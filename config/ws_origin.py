"""Websockets are opened only from the site's own pages (docs/security.md, "Websocket origin").

A browser sends the page's ``Origin`` with every websocket handshake and the session cookie with it, so a
page on another site could otherwise open a socket as the signed-in user (cross-site websocket
hijacking). Channels' ``AllowedHostsOriginValidator`` checks the origin against ``ALLOWED_HOSTS``, which
accepts every origin when that is ``*``. This one accepts exactly:

- the request's own ``Host`` (the page's origin without its scheme, ``host:port``, default ports
  ignored), when that host passes ``ALLOWED_HOSTS`` as an HTTP request's would; or
- an origin listed in ``CSRF_TRUSTED_ORIGINS`` (scheme, host and port exactly; an entry with a ``*`` is
  not honoured here: never a wildcard).

Anything else, a missing ``Origin`` or ``null`` included, is refused before the socket is accepted
(the server answers the handshake 403).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


def _host_port(scheme: str, netloc: str) -> str:
    """``netloc`` lower-cased, without the scheme's default port."""
    netloc = netloc.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(f":{default}"):
        netloc = netloc[: -len(default) - 1]
    return netloc


def _origin(value: str) -> tuple[str, str] | None:
    """(scheme, host:port) of an origin, or None if it is not one (``null``, garbage)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or "@" in parts.netloc:
        return None
    return parts.scheme, _host_port(parts.scheme, parts.netloc)


def origin_allowed(origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether a websocket with this ``Origin`` header, sent to ``Host`` over ``scheme`` (ws/wss), is the site's own."""
    parsed = _origin(origin) if origin else None
    if parsed is None:
        return False
    if host:
        own = _host_port(scheme, host)
        domain, _ = split_domain_port(own)
        if parsed[1] == own and domain and validate_host(domain, settings.ALLOWED_HOSTS):
            return True
    trusted = {_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS if "*" not in o}
    return parsed in trusted


class SiteOriginValidator:
    """ASGI middleware for the websocket router: refuse a socket whose origin is not the site's own."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = {}
        for name, value in scope.get("headers", []):
            if name in (b"origin", b"host") and name.decode() not in headers:
                headers[name.decode()] = value.decode("latin1")
        if origin_allowed(headers.get("origin"), headers.get("host"), scope.get("scheme", "ws")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
