"""Fixtures of the EMS tests. Imports of Django code stay inside the fixtures: `make test-fast` loads this
file for the pure simulator and algorithm tests without Django (`-p no:django`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
