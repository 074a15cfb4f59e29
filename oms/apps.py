from django.apps import AppConfig


class OmsConfig(AppConfig):
    """Order management: reference data, order intake, pre-trade risk, the audit trail."""

    name = "oms"
    verbose_name = "Order management"

    def ready(self):
        from oms import auth_audit, checks, socket_session  # noqa: F401  (sign-in audit receivers; deployment checks)

        socket_session.connect_signals()  # sockets re-check their session when it or the user's access changes
