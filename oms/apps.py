from django.apps import AppConfig


class OmsConfig(AppConfig):
    """Order management: reference data, order intake, pre-trade risk, the audit trail."""

    name = "oms"
    verbose_name = "Order management"

    def ready(self):
        from oms import auth_audit, checks  # noqa: F401  (sign-in audit receivers; deployment checks)
