from django.apps import AppConfig

from oms.audit_events import AuditEventType


class EmsConfig(AppConfig):
    """Execution management: venues, the simulated market, parent and child orders, fills, allocation."""

    name = "ems"
    verbose_name = "Execution management"

    def ready(self):
        from oms.services.audit_verification import register_creation_events

        # Each of these rows is written with its creation event in the same transaction.
        register_creation_events(object_type="parent_order", model="ems.ParentOrder", event_types=[AuditEventType.PARENT_ORDER_CREATED])
        register_creation_events(object_type="child_order", model="ems.ChildOrder", event_types=[AuditEventType.CHILD_ORDER_PLACED])
        register_creation_events(object_type="fill", model="ems.Fill", event_types=[AuditEventType.FILL_BOOKED])
        register_creation_events(object_type="internal_cross", model="ems.InternalCross", event_types=[AuditEventType.INTERNAL_CROSS_BOOKED])
