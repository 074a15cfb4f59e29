"""TCA writes, one module per verb (re-exported here): computing a parent's figures, reconciling the book,
importing outside executions, replaying a parent on the same market path."""

from tca.services.compute import parent_tca_compute, parents_due, tca_refresh
from tca.services.imports import ImportRejected, executions_import, executions_parse, executions_totals
from tca.services.reconciliation import reconciliation_breaks, reconciliation_run
from tca.services.what_if import execution_summary, what_if_run

__all__ = [
    "ImportRejected",
    "execution_summary",
    "executions_import",
    "executions_parse",
    "executions_totals",
    "parent_tca_compute",
    "parents_due",
    "reconciliation_breaks",
    "reconciliation_run",
    "tca_refresh",
    "what_if_run",
]
