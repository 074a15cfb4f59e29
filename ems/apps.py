from django.apps import AppConfig


class EmsConfig(AppConfig):
    """Execution management: venues, the simulated market, parent and child orders, fills, allocation."""

    name = "ems"
    verbose_name = "Execution management"

    def ready(self):
        from oms.services.audit_verification import register_creation_events

        # Each of these rows is written with its creation event (oms.audit_events.CREATION_EVENTS) in the same transaction.
        register_creation_events(object_type="parent_order", model="ems.ParentOrder")
        register_creation_events(object_type="child_order", model="ems.ChildOrder")
        register_creation_events(object_type="fill", model="ems.Fill")
        register_creation_events(object_type="internal_cross", model="ems.InternalCross")
