from rest_framework.permissions import SAFE_METHODS, BasePermission

from oms import role_names, roles
from oms.error_codes import PermissionErrorCode


class HasRole(BasePermission):
    """An authenticated user with an OMS role; compliance may only read (403 on every write)."""

    message = {"code": PermissionErrorCode.NO_ROLE, "detail": "Your account has no OMS role"}

    def has_permission(self, request, view):
        role = roles.role_of(request.user)
        if role is None:
            return False
        if role == role_names.COMPLIANCE and request.method not in SAFE_METHODS:
            self.message = {"code": PermissionErrorCode.READ_ONLY, "detail": "Compliance has read-only access"}
            return False
        return True


class CanReadAudit(BasePermission):
    message = {"code": PermissionErrorCode.COMPLIANCE_ONLY, "detail": "The audit trail is for compliance"}

    def has_permission(self, request, view):
        return roles.can_read_audit(request.user)
