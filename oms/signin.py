"""Sign-in lockout: who is asking (the client address), refusing before the password is hashed, the 429 page.

django-axes counts failed sign-ins per username and per client address (``AXES_LOCKOUT_PARAMETERS``) in
its ``AccessAttempt`` table; once either count reaches ``AXES_FAILURE_LIMIT`` inside the cool-off window,
``LockoutBackend`` (first in ``AUTHENTICATION_BACKENDS``) refuses every further attempt for that
username or from that address, the right password included, before ``ModelBackend`` hashes anything.
Hashing is the expensive part of a sign-in (~0.3 s of CPU with PBKDF2), so a refused attempt costs two
small queries instead. The browser sign-in pages (``/login/``, the admin's) answer with the 429 page
below; the token endpoint answers JSON (``oms.api.views.TokenApi``).
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """The client's address, by the same rule as the API throttles (``REST_FRAMEWORK["NUM_PROXIES"]``).

    With no trusted proxy configured (the default) that is REMOTE_ADDR: an X-Forwarded-For header the
    client wrote itself must not let it pick a fresh address for every guess.
    """
    return BaseThrottle().get_ident(request) or ""


class LockoutBackend(AxesStandaloneBackend):
    """Refuse sign-ins for a locked-out username or address, and mark the request as refused so.

    The mark (``signin_refused_by_lockout``) lets the audit tell an attempt whose password was checked
    and wrong (``auth.login_failed``) from one refused unchecked while the lock holds. A call without a
    request (a shell, a management command: no network client to count) is not checked; every sign-in
    surface (the login pages, the token endpoint) passes its request.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.signin_refused_by_lockout = True
            raise


def lockout_retry_after(username: str | None, ip_address: str) -> int:
    """Seconds until neither this username nor this address is locked any more (at least 1).

    A lock lifts one cool-off after the last failure it counted (refused attempts are not counted:
    ``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``), so this is an upper bound when the
    failures were spread over several rows (several user agents).
    """
    cool_off = get_cool_off()
    if cool_off is None:  # permanent lock: only an admin lifts it
        return 24 * 3600
    now = timezone.now()
    ends = []
    for param, value in (("username", username), ("ip_address", ip_address)):
        if not value or param not in settings.AXES_LOCKOUT_PARAMETERS:
            continue
        counted = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off, **{param: value}).aggregate(
            failures=Sum("failures_since_start"), last=Max("attempt_time")
        )
        if counted["failures"] and counted["failures"] >= settings.AXES_FAILURE_LIMIT:
            ends.append(counted["last"] + cool_off)
    remaining = (max(ends) - now) if ends else cool_off
    return max(1, math.ceil(remaining.total_seconds()))


def lockout_detail(retry_after: int) -> str:
    minutes = max(1, math.ceil(retry_after / 60))
    return (
        f"Too many failed sign-ins for this account or from this address: sign-in is locked for "
        f"{minutes} minute{'s' if minutes != 1 else ''}. Ask an administrator to unlock it sooner."
    )


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the 429 page for a locked-out browser sign-in (/login/, the admin's).

    django-axes 8.3.1's async middleware passes ``credentials`` in the place of ``original_response``,
    so neither is relied on: the username comes from the posted form.
    """
    username = get_client_username(request, credentials if isinstance(credentials, dict) else None)
    retry_after = lockout_retry_after(username, client_ip(request))
    context = {
        "username": username or "",
        "retry_minutes": max(1, math.ceil(retry_after / 60)),
        "failure_limit": get_failure_limit(request, credentials),
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response
