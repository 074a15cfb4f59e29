from django.apps import AppConfig


class EmsConfig(AppConfig):
    """Execution management: venues, the simulated market, parent and child orders, fills, allocation."""

    name = "ems"
    verbose_name = "Execution management"

    def ready(self):
        from ems.services.ticks import on_order_cancel_requested
        from oms.services.audit_verification import register_creation_events
        from oms.signals import order_cancel_requested

        # The OMS asks for a parent's tick when an order it works is being cancelled (oms never imports ems).
        order_cancel_requested.connect(on_order_cancel_requested, dispatch_uid="ems.order_cancel_requested")

        # Each of these rows is written with its creation event in the same transaction.
        register_creation_events(object_type="parent_order", model="ems.ParentOrder", event_types=["parent_order.created"])
        register_creation_events(object_type="child_order", model="ems.ChildOrder", event_types=["child_order.placed"])
        register_creation_events(object_type="fill", model="ems.Fill", event_types=["fill.booked"])
        register_creation_events(object_type="internal_cross", model="ems.InternalCross", event_types=["internal_cross.booked"])
