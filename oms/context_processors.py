from oms import role_names, roles


def role_context(request):
    """Expose the user's role to templates (menus and buttons follow it)."""
    role = roles.role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_trade": role not in (None, role_names.COMPLIANCE),
        "can_read_audit": role in (role_names.COMPLIANCE, role_names.ADMIN),
    }
