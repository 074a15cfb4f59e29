from django.apps import AppConfig


class TcaConfig(AppConfig):
    """Transaction cost analysis: benchmarks, reports, reconciliation, imports of outside executions, what-if replays."""

    name = "tca"
    verbose_name = "Transaction cost analysis"

    def ready(self):
        from oms.services.audit_verification import register_creation_events

        # Each of these rows is written with its creation event in the same transaction. (ParentTCA and
        # FillMetrics are derived figures, recomputable from the book: not audited.)
        register_creation_events(object_type="reconciliation", model="tca.ReconciliationRun")
        register_creation_events(object_type="import_set", model="tca.ImportSet")
        register_creation_events(object_type="what_if", model="tca.WhatIf")
