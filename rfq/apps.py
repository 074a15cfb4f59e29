from django.apps import AppConfig


class RfqConfig(AppConfig):
    """RFQ platform: liquidity providers, requests for quote and their quotes; an EMS destination."""

    name = "rfq"
    verbose_name = "RFQ platform"

    def ready(self):
        from ems.destinations import destination_register
        from oms.services.audit_verification import register_creation_events
        from rfq.services.destination import RfqDestination

        # The EMS hands the parents its selection matrix sends to RFQ to this platform (ems never imports rfq).
        destination_register(RfqDestination())
        # Each of these rows is written with its creation event in the same transaction (a late quote: refused).
        register_creation_events(object_type="rfq", model="rfq.RFQ")
        register_creation_events(object_type="quote", model="rfq.Quote")
