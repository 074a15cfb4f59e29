"""Fixtures shared by the whole suite: users in each role, their portfolios, instruments, API clients."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings as hypothesis_settings

# No per-example deadline: the properties are about values, and a busy CI machine can pause any example
# past Hypothesis's 200 ms default, which it reports as a flaky failure.
hypothesis_settings.register_profile("suite", deadline=None, print_blob=True)
hypothesis_settings.load_profile("suite")


def _django_plugin(config) -> bool:
    # `make test-fast` runs the pure-Python simulator tests with `-p no:django`: no services needed there.
    return config.pluginmanager.hasplugin("django")


def pytest_configure(config):
    if not _django_plugin(config):
        return
    from config import runtime

    runtime.configure()
    # Under CI=true a missing PostgreSQL or Redis is a failure, never a skip.
    problems = runtime.check_reachable()
    if problems:
        raise pytest.UsageError("Required services are unreachable:\n  " + "\n  ".join(problems))


@pytest.fixture(autouse=True)
def _isolated_channel_prefix(request):
    # Each test gets its own channel-layer groups.
    if not _django_plugin(request.config):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }
    from channels import layers

    layers.channel_layers.backends.clear()
    yield
    layers.channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _isolated_cache_prefix(request):
    # Each test gets its own keys in the shared Redis cache: API throttle counts and sign-in flags start at zero.
    if _django_plugin(request.config):
        settings = request.getfixturevalue("settings")
        default = {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
        settings.CACHES = {**settings.CACHES, "default": default}


@pytest.fixture(autouse=True)
def _isolated_audit_checkpoint_file(request, tmp_path_factory):
    # Each test gets its own checkpoint file, as it gets its own (rolled back or flushed) checkpoint table:
    # a line left by another test would be reported as a checkpoint missing from the table.
    if not _django_plugin(request.config):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.AUDIT_CHECKPOINT_FILE = tmp_path_factory.getbasetemp() / "audit-checkpoints" / f"{uuid.uuid4().hex}.jsonl"
    yield


# No sealer runs in the suite unless a test runs one (tests/oms/test_audit_seal.py): events left unsealed are
# reported only after this long, which no test lasts; the tests of the seal bound set their own.
TEST_SEAL_BOUND_S = 86_400.0


@pytest.fixture(autouse=True)
def _no_sealer_in_the_suite(request):
    if _django_plugin(request.config):
        request.getfixturevalue("settings").AUDIT_SEAL_BOUND_S = TEST_SEAL_BOUND_S
    yield


@pytest.fixture
def instrument(db):
    from tests.factories import InstrumentFactory

    return InstrumentFactory(symbol="ACME", reference_price="100.00", adv=10_000_000)


@pytest.fixture
def other_instrument(db):
    from tests.factories import InstrumentFactory

    return InstrumentFactory(symbol="BETA", reference_price="50.00", adv=5_000_000)


@pytest.fixture
def venues(db):
    """The simulator's venues in the Venue table (XSMA, XSMB, XSMI lit; DRKA, DRKB dark): the live market needs them."""
    from ems.services import venues_sync_from_sim

    return venues_sync_from_sim()


def _user(username, role):
    from tests.factories import UserFactory

    return UserFactory(username=username, role=role)


@pytest.fixture
def pm(db):
    return _user("pm_a", "pm")


@pytest.fixture
def other_pm(db):
    return _user("pm_b", "pm")


@pytest.fixture
def trader(db):
    return _user("desk_trader", "trader")


@pytest.fixture
def compliance(db):
    return _user("compliance_officer", "compliance")


@pytest.fixture
def api_client_user(db):
    return _user("bridge_client", "api_client")


@pytest.fixture
def admin_user(db):
    """The superuser root_admin (password secret-pass-1). Replaces pytest-django's ``admin_user``, so its
    ``admin_client`` (a Django test client logged in as the admin user) logs this one in."""
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root_admin", "root@example.com", "secret-pass-1")


@pytest.fixture
def portfolio(pm):
    from tests.factories import PortfolioFactory

    return PortfolioFactory(code="PM-A-GROWTH", members=[pm])


@pytest.fixture
def other_portfolio(other_pm):
    from tests.factories import PortfolioFactory

    return PortfolioFactory(code="PM-B-MACRO", members=[other_pm])


@pytest.fixture
def client_portfolio(api_client_user):
    from tests.factories import PortfolioFactory

    return PortfolioFactory(code="BRIDGE-BOOK", members=[api_client_user])


@pytest.fixture
def clock(settings):
    """Market time under the test's control (tests.ems.live_helpers.MarketClock): day 2, 10:30, wall speed."""
    from tests.ems.live_helpers import MarketClock

    return MarketClock(settings)


@pytest.fixture
def actor(trader):
    """The desk trader acting over the API, as the services record who did what."""
    from oms.roles import Actor

    return Actor.for_user(trader, "api")


@pytest.fixture
def pm_parent(pm, portfolio, instrument, clock):
    """A working TWAP buy parent of 10,000 ACME holding one order of pm_a's, as aggregation leaves it (first tick
    not yet run, nothing at the venues), on the test's market clock."""
    from tests.ems import factories as f
    from tests.ems.live_helpers import working_parent

    return working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])


def api_for(user):
    """A DRF client authenticated with the user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api():
    return api_for


@pytest.fixture
def trader_api(api, trader):
    """The trader's token-authenticated DRF client; a server error comes back as a 500 response, not an exception."""
    c = api(trader)
    c.raise_request_exception = False
    return c


@pytest.fixture
def order_payload(portfolio, instrument):
    """A valid limit order for the PM's portfolio; override fields per test."""

    def make(**overrides):
        data = {
            "client_order_id": f"T-{uuid.uuid4().hex[:12]}",
            "portfolio": portfolio.code,
            "instrument": instrument.symbol,
            "side": "buy",
            "quantity": 1000,
            "order_type": "limit",
            "limit_price": "100.50",
            "time_in_force": "day",
            "urgency": "medium",
            "strategy": "auto",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return make


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def real_server(settings, transactional_db):
    """The ASGI server (tests/servers.asgi_server) on the test database and this test's channel-layer prefix, so what the
    test commits and publishes reaches the server's consumers: yields (base URL, log path)."""
    from django.db import connection

    from tests.servers import database_url, run_server

    env = {"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL,
           "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"], "DB_POOL_MIN_SIZE": "0"}
    connection.close()
    with run_server(env) as running:
        yield running
