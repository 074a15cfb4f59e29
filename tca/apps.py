from django.apps import AppConfig


class TcaConfig(AppConfig):
    """Transaction cost analysis: benchmarks and reports (built in a later issue)."""

    name = "tca"
    verbose_name = "Transaction cost analysis"
