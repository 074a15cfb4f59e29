"""API rate limits (DRF throttles) counted in the shared Redis cache, so every process sees one count.

DRF's stock throttles keep a list of request times per client, read it, and write it back: requests
racing in several processes all read the same list and all pass (the 50 parallel sign-ins of the
finding would all have reached the password hasher), and at an API client's order rate the list,
pickled on every request, grows to thousands of entries. These count in fixed windows instead, with one
atomic Redis increment per request: exact across processes and O(1). The price of a fixed window is
that a client can spend two windows' allowance around a window's boundary.

Rates: ``settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``anon``, ``user``,
``auth_token``), read at request time. A refusal is 429 ``{"code": "throttled"}`` with Retry-After
(``oms.api.errors``).
"""

from __future__ import annotations

import logging
import math

from django.db import transaction
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from oms.audit_events import AuditEventType
from oms.roles import Actor
from oms.services.audit import audit_record
from oms.signin import client_ip

log = logging.getLogger(__name__)


class FixedWindowThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle that counts with an atomic increment per fixed window."""

    def get_rate(self):
        # Looked up per request (DRF binds the rates when the class is created): settings from the
        # environment and per-test overrides both apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        self.count = self._hit(f"{self.key}:{window}")
        if self.count <= self.num_requests:
            return True
        if self.count == self.num_requests + 1:  # the first refusal of this window
            self.first_refusal(request)
        return False

    def _hit(self, key: str) -> int:
        try:
            return self.cache.incr(key)
        except ValueError:  # no count yet in this window
            if self.cache.add(key, 1, timeout=self.duration + 1):
                return 1
            return self.cache.incr(key)

    def wait(self):
        return max(self.window_end - self.now, 1)

    def first_refusal(self, request) -> None:
        log.warning("throttled %s: more than %s requests in %s s", self.key, self.num_requests, self.duration)


class AnonThrottle(FixedWindowThrottle, AnonRateThrottle):
    """Requests without a user (the schema, the docs), per client address."""


class UserThrottle(FixedWindowThrottle, UserRateThrottle):
    """Requests per signed-in user or API client (keep this far above the intake rate of a client)."""


class AuthTokenThrottle(FixedWindowThrottle):
    """Password exchanges on ``POST /api/auth/token/``, per client address, checked before any hashing.

    The first refusal of each window is audited (``auth.throttled``), the others only counted: a row
    per refused request would let the flood write the audit trail.
    """

    scope = "auth_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def first_refusal(self, request) -> None:
        super().first_refusal(request)
        try:
            username = str(request.data.get("username") or "")[:150]
        except Exception:  # noqa: BLE001 - an unreadable body still gets its audit row
            username = ""
        with transaction.atomic():
            audit_record(
                actor=Actor(name=username or "unknown", type="user", source=f"api:{username}"),
                event_type=AuditEventType.AUTH_THROTTLED, object_type="user", object_id=username,
                after={"ip": self.get_ident(request), "path": request.path, "limit": self.rate,
                       "retry_after": math.ceil(self.wait())},
                reason=f"more than {self.num_requests} sign-in requests in {self.duration} s from this address "
                       "(later refusals in the same window are not recorded)",
            )
