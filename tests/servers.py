"""Start the real ASGI server (uvicorn, ``config.server``) on the test database in a subprocess, for tests that need real
HTTP and real concurrency (pytest-django's live_server is single-process WSGI)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from config import server

BASE_DIR = Path(__file__).resolve().parents[1]


def wait_for(predicate, timeout_s: float = 60, *, every_s: float = 0.1):
    """Call ``predicate`` every ``every_s`` until it returns something truthy, and return that; after ``timeout_s``
    return its last (falsy) answer. It is called at least once, and once more at the deadline. What a server or
    a worker process does is seen from the test through the database; ``predicate`` may raise to give up early."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database inside a test)."""
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'])}"


@contextmanager
def run_server(env: dict[str, str], *, wait_s: float = 30):
    """Run the ASGI server (``config.server.command``: what ``make run`` runs) with ``env`` added to this process's environment; yield (base URL, log path)."""
    port = free_port()
    # Its own cache prefix: throttle counts and sign-in flags of one server never leak into another's.
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CACHE_KEY_PREFIX": f"test-server-{uuid.uuid4().hex[:8]}", **env}
    log = tempfile.NamedTemporaryFile(prefix="asgi-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        server.command("127.0.0.1", port),
        cwd=BASE_DIR, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{Path(log.name).read_text()[-4000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        if not wait_for(listening, wait_s):
            raise RuntimeError(f"the server did not listen on {port}:\n{Path(log.name).read_text()[-4000:]}")
        yield f"http://127.0.0.1:{port}", Path(log.name)
    finally:
        stop(proc)
        log.close()


def celery_worker_start(env: dict[str, str], queue: str, *, wait_s: float = 60) -> tuple[subprocess.Popen, Path]:
    """Start a real Celery worker (solo pool) that consumes only ``queue``; return its process and log path once it
    is ready. The caller stops it (``stop``), or kills it to see what a crash leaves behind."""
    # The tests read the worker's log for "Task ... succeeded": the console keeps the routine lines (config/logs.py).
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_CONSOLE_LEVEL": "DEBUG", **env}
    with tempfile.NamedTemporaryFile(prefix="celery-", suffix=".log", delete=False) as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q", queue, "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"],
            cwd=BASE_DIR, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    path = Path(log.name)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{path.read_text()[-4000:]}")
        return "ready." in path.read_text()

    try:
        if not wait_for(ready, wait_s, every_s=0.2):
            raise RuntimeError(f"celery worker did not start:\n{path.read_text()[-4000:]}")
    except BaseException:
        stop(proc)
        raise
    return proc, path


@contextmanager
def celery_worker(env: dict[str, str], queue: str, *, wait_s: float = 60):
    """Run a real Celery worker (solo pool) that consumes only ``queue``; yield its log path once it is ready."""
    proc, log = celery_worker_start(env, queue, wait_s=wait_s)
    try:
        yield log
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate the process; kill it if it has not exited 15 s later."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- a real websocket client ----------------------------------------------------------------------------------

SOCKET_TIMEOUT = 5  # seconds a websocket handshake or message may take to arrive


class RawSocket:
    """A minimal websocket client (RFC 6455: handshake, unfragmented frames, close, ping) over asyncio streams,
    so the test depends on nothing the server does not (no client library with its own timeouts)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base_url: str, path: str, *, cookie: str) -> RawSocket:
        u = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = [f"GET {path} HTTP/1.1", f"Host: {u.netloc}", "Upgrade: websocket", "Connection: Upgrade",
                   f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Origin: {base_url}", f"Cookie: {cookie}"]
        writer.write(("\r\n".join(request) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOCKET_TIMEOUT)
        assert head.split(b"\r\n")[0].split(b" ")[1] == b"101", head
        return cls(reader, writer)

    async def receive(self, timeout: float = SOCKET_TIMEOUT) -> tuple[str, object]:
        """The next message: ("text", its JSON) or ("close", (code, reason))."""
        while True:
            b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(await self.reader.readexactly(2 if n == 126 else 8), "big")
            payload = await self.reader.readexactly(n)  # a server's frames are not masked
            if opcode == 0x1:
                return "text", json.loads(payload)
            if opcode == 0x8:
                return "close", (int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None, payload[2:].decode())
            if opcode == 0x9:
                await self._send(0xA, payload)  # ping -> pong

    async def quiet_for(self, seconds: float) -> bool:
        """True when nothing at all arrives (no message, no close) for ``seconds``."""
        try:
            await self.receive(timeout=seconds)
        except TimeoutError:
            return True
        return False

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        self.writer.write(bytes([0x80 | opcode]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        await self.writer.drain()

    async def close(self) -> None:
        await self._send(0x8, (1000).to_bytes(2, "big"))
        self.writer.close()


def session_cookie(user) -> str:
    """A ``Cookie`` header value for a fresh signed-in session of ``user`` (stored in the test database)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"
