from django.apps import AppConfig


class OmsConfig(AppConfig):
    """Order management: reference data, order intake, pre-trade risk, the audit trail."""

    name = "oms"
    verbose_name = "Order management"

    def ready(self):
        from oms import auth_audit  # noqa: F401  (connects the sign-in audit receivers)
