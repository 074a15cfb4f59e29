from django.apps import AppConfig


class FixConfig(AppConfig):
    """FIX 4.4 connectivity on the QuickFIX engine: sessions as data, the gateway process, order entry.

    An intake source like the REST API: it submits through ``oms.services`` and nothing below imports it.
    """

    name = "fix"
    verbose_name = "FIX connectivity"

    def ready(self):
        from oms.services.audit_verification import register_creation_events

        register_creation_events(object_type="fix_session", model="fix.FixSession")

        from fix.outbox import reports_write
        from oms.order_reports import order_reports_listen

        order_reports_listen(reports_write)  # execution reports written in the OMS's own transactions
