"""Reference data the intake path reads on every order, cached per process and never stale.

Instruments, portfolios and their members, users' roles and API tokens, risk limits, the restricted list and the engaged kill switches change
rarely but are read by every order. PostgreSQL triggers (migration ``0002_refdata_version``) stamp every
change to those tables, in the same transaction, with a fresh value from a sequence into the one-row
table ``oms_refdataversion``. A reader compares that stamp (one cheap query) with the stamp its cache
was built at and reloads on any difference, so a change is seen by the first order after its commit,
whether it came from the admin, a service or raw SQL. Sequence values never repeat, even after a
rollback, so an equal stamp always means equal data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db import connection
from rest_framework.authtoken.models import Token

from oms.models import Instrument, KillSwitch, Portfolio, RestrictedInstrument, RiskLimit
from oms.role_names import role_for


@dataclass(frozen=True)
class RefData:
    stamp: int | None
    instruments: dict[str, Instrument]  # active instruments by symbol
    portfolios: dict[str, Portfolio]  # by code
    members: dict[int, frozenset[int]]  # user id -> portfolio ids
    roles: dict[int, str]  # user id -> role ("" = none); superusers are "admin"
    limits: dict[int | None, RiskLimit]  # portfolio id (None = global) -> row
    restricted: dict[tuple[int, int | None], str]  # (instrument id, portfolio id or None) -> reason
    tokens: dict[str, Token]  # API token key -> token (with its active user)
    # engaged kill switches: ("all", None) | ("portfolio", portfolio id) | ("instrument", instrument id) -> row
    halts: dict[tuple[str, int | None], KillSwitch]


_cache: RefData | None = None
_lock = threading.Lock()


STAMP_SQL = "SELECT version FROM oms_refdataversion WHERE id = 1"


def current_stamp() -> int | None:
    with connection.cursor() as cur:
        cur.execute(STAMP_SQL)
        row = cur.fetchone()
    return row[0] if row else None


def _load(stamp: int | None) -> RefData:
    from django.contrib.auth.models import User

    members: dict[int, set[int]] = {}
    for user_id, portfolio_id in Portfolio.members.through.objects.values_list("user_id", "portfolio_id"):
        members.setdefault(user_id, set()).add(portfolio_id)
    groups: dict[int, set[str]] = {}
    for user_id, name in User.groups.through.objects.values_list("user_id", "group__name"):
        groups.setdefault(user_id, set()).add(name)
    role_map = {
        user_id: role_for(groups.get(user_id, set()), is_superuser=is_superuser)
        for user_id, is_superuser in User.objects.filter(is_active=True).values_list("id", "is_superuser")
    }
    return RefData(
        stamp=stamp,
        instruments={i.symbol: i for i in Instrument.objects.filter(is_active=True)},
        portfolios={p.code: p for p in Portfolio.objects.all()},
        members={uid: frozenset(pids) for uid, pids in members.items()},
        roles=role_map,
        limits={r.portfolio_id: r for r in RiskLimit.objects.all()},
        restricted={(r.instrument_id, r.portfolio_id): r.reason for r in RestrictedInstrument.objects.all()},
        tokens={t.key: t for t in Token.objects.select_related("user").filter(user__is_active=True)},
        halts={(k.scope, k.portfolio_id or k.instrument_id): k
               for k in KillSwitch.objects.filter(lifted_at__isnull=True).select_related("portfolio", "instrument")},
    )


def symbol_key(symbol: str) -> str:
    """How every endpoint matches an instrument symbol it is given: case-insensitively (symbols are stored
    upper case; ``refdata().instruments`` is keyed by them)."""
    return symbol.upper()


def cached_refdata() -> RefData | None:
    """This process's cached reference data as last loaded, possibly stale (for read-ahead hints only)."""
    return _cache


_UNREAD = object()


def refdata(stamp=_UNREAD) -> RefData:
    """The reference data as committed now (or as this transaction sees it).

    ``stamp``: the current stamp, when the caller read it in the same round trip as something else.
    """
    global _cache
    if stamp is _UNREAD:
        stamp = current_stamp()
    cached = _cache
    if cached is not None and stamp is not None and cached.stamp == stamp:
        return cached
    with _lock:
        fresh = _load(stamp)
        if stamp is not None:  # no stamp yet (an empty or just-flushed database): do not cache
            _cache = fresh
    return fresh
