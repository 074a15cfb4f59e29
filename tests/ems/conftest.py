"""Fixtures of the EMS tests."""

from __future__ import annotations

import pytest

from oms.roles import Actor
from tests.ems.live_helpers import MarketClock


@pytest.fixture
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(settings):
    """Market time under the test's control (see MarketClock)."""
    return MarketClock(settings)


@pytest.fixture
def actor(trader):
    return Actor.for_user(trader, "api")
