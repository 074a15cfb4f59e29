"""Browser tests: a real ASGI server (uvicorn: HTTP + websockets) on the test database, driven by headless
Chromium (Debian's /usr/bin/chromium) through Playwright's sync API.

pytest-django's ``live_server`` is WSGI only, so websockets need this server instead. It sees only
committed data: tests use ``@pytest.mark.django_db(transaction=True)``. The server and this process
share one channel-layer prefix, so a push sent from either reaches the pages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_SEAL_BOUND_S
from tests.servers import database_url, run_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SERVER_CHANNELS_PREFIX = f"browser-{uuid.uuid4().hex[:8]}"
PASSWORD = "secret-pass-1"  # tests.factories.UserFactory's default
SERVER_LOG: dict[str, str] = {}  # "path": the running server's combined stdout/stderr
# The server's audit checkpoint file: emptied before each test, as the database is flushed after each.
SERVER_CHECKPOINT_FILE = Path(tempfile.gettempdir()) / f"browser-audit-checkpoints-{uuid.uuid4().hex[:8]}.jsonl"


@pytest.fixture(scope="session")
def asgi_server(django_db_setup):
    """Start the ASGI server on the test database; yield its base URL. Stopped before the test database is dropped."""
    from django.conf import settings
    from django.db import connection

    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_PREFIX": SERVER_CHANNELS_PREFIX,
        "DB_POOL_MIN_SIZE": "0",  # the pool keeps no connection it does not need, so the database can be dropped
        "AUDIT_CHECKPOINT_FILE": str(SERVER_CHECKPOINT_FILE),
        "AUDIT_SEAL_BOUND_S": str(TEST_SEAL_BOUND_S),  # no sealer runs here either (tests/conftest.py)
    }
    with run_server(env) as (url, log):
        SERVER_LOG["path"] = str(log)
        yield url


@pytest.fixture(autouse=True)
def _isolated_audit_checkpoint_file(settings):
    # Overrides tests/conftest.py: this process and the server share the server's file, fresh for each test.
    SERVER_CHECKPOINT_FILE.unlink(missing_ok=True)
    settings.AUDIT_CHECKPOINT_FILE = SERVER_CHECKPOINT_FILE
    yield
    SERVER_CHECKPOINT_FILE.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _isolated_channel_prefix(settings):
    # Overrides tests/conftest.py: this process must publish where the server's consumers listen.
    from channels import layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": SERVER_CHANNELS_PREFIX},
        }
    }
    layers.channel_layers.backends.clear()
    yield
    layers.channel_layers.backends.clear()


@pytest.fixture(scope="module")
def browser():
    # Module scope, not session: while Playwright's sync API is alive its event loop counts as running in
    # this thread, and every later test that calls async_to_sync (channels tests) would fail.
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set CHROMIUM_PATH)", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, asgi_server):
    """Open a fresh browser context (its own cookies) on the server; several per test are allowed."""
    contexts = []

    def make():
        context = browser.new_context(base_url=asgi_server, viewport={"width": 1600, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def server_log(asgi_server):
    """Read what the server has logged since the test started (server-side exceptions show up here)."""
    path = Path(SERVER_LOG["path"])
    start = path.stat().st_size

    def read() -> str:
        with path.open("rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    return read


@pytest.fixture
def page(new_page):
    return new_page()


def log_in(page, user, password: str = PASSWORD) -> None:
    """Sign the user in through the login page; return once the browser has left it."""
    page.goto("/login/")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def signed_in_at(browser, base_url: str, user, *, timeout_ms: int, **context_options):
    """A fresh context (its own cookies) on a server of the test's own, the user signed in: (context, page).
    The caller closes the context."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1600, "height": 900}, **context_options)
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    log_in(page, user)
    return context, page


@pytest.fixture
def signed_in(new_page):
    """Sign a user in through the login page in a fresh context; return the page, on the desk."""

    def sign_in(user, password: str = PASSWORD):
        page = new_page()
        log_in(page, user, password)
        return page

    return sign_in


@pytest.fixture
def screenshot(tmp_path):
    """screenshot(page, name) -> the path of a full-page picture of the page (taken scrolled to the top: a picture
    taken scrolled shows the sticky bar mid-page), in the test's own tmp dir; also copied into $SCREENSHOT_DIR
    when that is set, for people to look at."""

    def take(page, name: str) -> Path:
        path = tmp_path / "screenshots" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=True)
        if folder := os.environ.get("SCREENSHOT_DIR"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(folder) / path.name)
        return path

    return take


@pytest.fixture
def api_post(asgi_server):
    """POST JSON to the running server's REST API with the user's token; return the httpx response."""
    import httpx
    from rest_framework.authtoken.models import Token

    def post(user, path: str, payload: dict | list | None = None):
        token, _ = Token.objects.get_or_create(user=user)
        return httpx.post(f"{asgi_server}{path}", json=payload, headers={"Authorization": f"Token {token.key}"}, timeout=10)

    return post
