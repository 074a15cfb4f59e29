"""The role names (the Django groups an account is put in) and which one an account with several has.

Its own module so that the reference-data cache (``oms.refdata``, which maps each user to a role) and the
rules of who may see and do what (``oms.roles``, which reads that cache) both use it without importing
each other.
"""

from __future__ import annotations

PM = "pm"
TRADER = "trader"
COMPLIANCE = "compliance"
API_CLIENT = "api_client"
ADMIN = "admin"
ROLE_GROUPS = (PM, TRADER, COMPLIANCE, API_CLIENT)
# An account in several groups has the first of these it is in.
_PRECEDENCE = (COMPLIANCE, TRADER, PM, API_CLIENT)


def role_for(groups: set[str], *, is_superuser: bool) -> str:
    """The role of an active account in ``groups`` ("" = none); a superuser is an admin."""
    if is_superuser:
        return ADMIN
    return next((r for r in _PRECEDENCE if r in groups), "")
