from django.apps import AppConfig


class EmsConfig(AppConfig):
    """Execution management: venues, the simulated market, parent and child orders, fills, allocation."""

    name = "ems"
    verbose_name = "Execution management"

    def ready(self):
        from ems.option_market import option_greeks_held
        from ems.services.closing import on_order_reduce_requested
        from ems.services.ticks import on_order_cancel_requested
        from oms.services.audit_verification import register_creation_events
        from oms.services.risk_greeks import greeks_provider_register
        from oms.signals import order_cancel_requested, order_reduce_requested

        # The OMS asks for a parent's tick when an order it works is being cancelled (oms never imports ems),
        # and for the reduction of the parent when such an order's quantity is amended down.
        order_cancel_requested.connect(on_order_cancel_requested, dispatch_uid="ems.order_cancel_requested")
        order_reduce_requested.connect(on_order_reduce_requested, dispatch_uid="ems.order_reduce_requested")

        # Pre-trade risk values options' delta and vega with this app's model (oms never imports ems).
        greeks_provider_register(option_greeks_held)

        # Each of these rows is written with its creation event (oms.audit_events.CREATION_EVENTS) in the same transaction.
        register_creation_events(object_type="parent_order", model="ems.ParentOrder")
        register_creation_events(object_type="child_order", model="ems.ChildOrder")
        register_creation_events(object_type="fill", model="ems.Fill")
        register_creation_events(object_type="internal_cross", model="ems.InternalCross")
