"""Who may see and do what. Roles are Django groups (editable in the admin); superusers are admins."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from oms.role_names import ADMIN, API_CLIENT, COMPLIANCE, PM, TRADER

# Roles that see every portfolio; the others see only the portfolios they are members of.
DESK_WIDE = frozenset({TRADER, COMPLIANCE, ADMIN})


def role_of(user) -> str | None:
    """Return the user's role (cached on the user object for the request)."""
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_oms_role", None)
    if cached is not None:
        return cached or None
    from oms.refdata import refdata

    role = refdata().roles.get(user.pk, "")
    user._oms_role = role
    return role or None


def tradable_portfolio_ids(user, data) -> frozenset[int] | None:
    """Ids of the portfolios the user may trade in ``data`` (a RefData); None means every portfolio."""
    role = role_of(user)
    if role in (TRADER, ADMIN):
        return None
    if role in (PM, API_CLIENT):
        return data.members.get(user.pk, frozenset())
    return frozenset()


def can_read_audit(user) -> bool:
    return role_of(user) in (COMPLIANCE, ADMIN)


def visible_portfolios(user) -> QuerySet:
    """Portfolios whose orders the user may see."""
    from oms.models import Portfolio

    role = role_of(user)
    if role in DESK_WIDE:
        return Portfolio.objects.all()
    if role in (PM, API_CLIENT):
        return Portfolio.objects.filter(members=user)
    return Portfolio.objects.none()


def tradable_portfolios(user) -> QuerySet:
    """Portfolios the user may submit and cancel orders for (none for compliance)."""
    from oms.models import Portfolio

    if role_of(user) == COMPLIANCE:
        return Portfolio.objects.none()
    return visible_portfolios(user)


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit trail records it."""

    name: str
    type: str  # user | api_client | system
    source: str  # browser:<user> | api:<client> | system:<task>
    user_id: int | None = None

    @classmethod
    def for_user(cls, user, channel: str) -> Actor:
        """The actor for a person or system acting through ``channel`` ("browser" or "api")."""
        kind = "api_client" if role_of(user) == API_CLIENT else "user"
        return cls(name=user.get_username(), type=kind, source=f"{channel}:{user.get_username()}", user_id=user.pk)

    @classmethod
    def system(cls, task: str) -> Actor:
        return cls(name="system", type="system", source=f"system:{task}")
