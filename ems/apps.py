from django.apps import AppConfig


class EmsConfig(AppConfig):
    """Execution management: venues and the simulated market (parents, children, routing come later)."""

    name = "ems"
    verbose_name = "Execution management"
