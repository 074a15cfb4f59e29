from django.apps import AppConfig


class RfqConfig(AppConfig):
    """RFQ platform: requests for quote, liquidity providers and their quotes (built in a later issue)."""

    name = "rfq"
    verbose_name = "RFQ platform"
