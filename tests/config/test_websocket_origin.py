"""A websocket opens only from the site's own origins (config.ws_origin), on a real ASGI server (uvicorn) whose
environment says ALLOWED_HOSTS='*': the page's own origin and an origin in CSRF_TRUSTED_ORIGINS are
accepted; another site's origin, a missing or ``null`` origin, another port, and an origin that only a
wildcard entry would cover are refused before the socket is accepted (the handshake answers 403), even
with the signed-in trader's session cookie."""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.servers import database_url, run_server

pytestmark = pytest.mark.django_db(transaction=True)

TRUSTED = "https://desk.example.com"


def _handshake(base_url: str, path: str, *, origin: str | None, cookie: str, host: str | None = None) -> tuple[int, bytes]:
    """Open a websocket by hand (RFC 6455 handshake); return the HTTP status and the first bytes after it."""
    u = urlsplit(base_url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or u.netloc}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Cookie: {cookie}"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n")[0].split(b" ")[1])
        if status == 101 and not rest:  # the consumer's hello frame follows the accept
            rest = s.recv(4096)
        return status, rest


@pytest.fixture(scope="module")
def server(django_db_setup):
    """One server for the module, on the test database, with ALLOWED_HOSTS='*' in its environment."""
    env = {"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL, "DB_POOL_MIN_SIZE": "0",
           "ALLOWED_HOSTS": "*", "CSRF_TRUSTED_ORIGINS": f"{TRUSTED},https://*.example.org"}
    with run_server(env) as (url, _log):
        yield url


@pytest.fixture
def cookie(trader, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(trader)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_the_pages_own_origin_and_a_trusted_origin_open_a_socket(server, cookie):
    status, first = _handshake(server, "/ws/desk/", origin=server, cookie=cookie)
    assert status == 101 and b"hello" in first  # accepted: the consumer's first frame arrived

    # Behind a proxy the Host may be the upstream's; the public origin is then listed in CSRF_TRUSTED_ORIGINS.
    status, _ = _handshake(server, "/ws/desk/", origin=TRUSTED, cookie=cookie)
    assert status == 101


@pytest.mark.parametrize("origin", [
    "http://evil.example",  # another site, with ALLOWED_HOSTS='*' on the server
    None,  # no Origin at all
    "null",  # a sandboxed frame or a file: page
    "https://desk.example.com:8443",  # a trusted host on another port
    "http://desk.example.com",  # a trusted host over another scheme
    "https://a.example.org",  # covered only by a wildcard entry: wildcards are not honoured
])
def test_a_socket_from_any_other_origin_is_refused_before_accept(server, cookie, origin):
    status, _ = _handshake(server, "/ws/desk/", origin=origin, cookie=cookie)
    assert status == 403


def test_the_origin_must_match_the_host_and_port_the_socket_was_sent_to(server, cookie):
    u = urlsplit(server)
    other_port = f"http://{u.hostname}:{u.port + 1}"
    assert _handshake(server, "/ws/blotter/", origin=other_port, cookie=cookie)[0] == 403
    # The scheme-less host:port is what is compared, in any case: the page at http://127.0.0.1:<port> is the site's own.
    assert _handshake(server, "/ws/desk/", origin=server.upper().replace("HTTP", "http"), cookie=cookie)[0] == 101


def test_a_host_outside_allowed_hosts_is_not_an_own_origin(settings):
    """With ALLOWED_HOSTS listed, a page on a name that resolves to us (DNS rebinding) is not our origin
    even though its Origin and Host agree; '*' in CSRF_TRUSTED_ORIGINS trusts nothing."""
    from config.ws_origin import origin_allowed

    settings.ALLOWED_HOSTS = ["oms.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["*", "https://*.example.com"]
    assert origin_allowed("https://oms.example.com", "oms.example.com:443", "wss")
    assert not origin_allowed("http://rebound.example", "rebound.example", "ws")
    assert not origin_allowed("https://a.example.com", "oms.example.com", "wss")
