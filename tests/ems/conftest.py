"""Fixtures of the EMS tests. Imports of Django code stay inside the fixtures: `make test-fast` loads this
file for the pure simulator and algorithm tests without Django (`-p no:django`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(settings):
    """Market time under the test's control (see MarketClock)."""
    from tests.ems.live_helpers import MarketClock

    return MarketClock(settings)


@pytest.fixture
def actor(trader):
    from oms.roles import Actor

    return Actor.for_user(trader, "api")
