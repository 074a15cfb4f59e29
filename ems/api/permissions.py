"""Who may act through the EMS API (and the RFQ platform's, which works the EMS's parent orders)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from oms import role_names, roles
from oms.error_codes import PermissionErrorCode

TRADER_ROLES = frozenset({role_names.TRADER, role_names.ADMIN})


class IsTraderForWrites(BasePermission):
    """Reads follow HasRole; every write (a control, the kill switch) is for traders."""

    message = {"code": PermissionErrorCode.TRADER_ONLY, "detail": "Only a trader may act on parent orders"}

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or roles.role_of(request.user) in TRADER_ROLES
