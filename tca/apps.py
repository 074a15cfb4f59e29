from django.apps import AppConfig

from oms.audit_events import AuditEventType


class TcaConfig(AppConfig):
    """Transaction cost analysis: benchmarks, reports, reconciliation, imports of outside executions, what-if replays."""

    name = "tca"
    verbose_name = "Transaction cost analysis"

    def ready(self):
        from oms.services.audit_verification import register_creation_events

        # Each of these rows is written with its creation event in the same transaction. (ParentTCA and
        # FillMetrics are derived figures, recomputable from the book: not audited.)
        register_creation_events(object_type="reconciliation", model="tca.ReconciliationRun", event_types=[AuditEventType.TCA_RECONCILIATION])
        register_creation_events(object_type="import_set", model="tca.ImportSet", event_types=[AuditEventType.TCA_IMPORT])
        register_creation_events(object_type="what_if", model="tca.WhatIf", event_types=[AuditEventType.TCA_WHAT_IF])
