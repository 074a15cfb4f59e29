"""Celery tasks of the OMS (thin: load, call a service)."""

import logging

from celery import shared_task

from oms.services import audit_checkpoint_write, audit_verify
from oms.services.audit_checkpoint import AuditChainBroken
from oms.services.audit_seal import AuditTreeBroken, audit_seal_run

log = logging.getLogger(__name__)


@shared_task(name="oms.tasks.audit_verify_task")
def audit_verify_task() -> dict:
    """Verify the audit chain on a schedule; a broken chain is logged as an error for the on-call."""
    result = audit_verify()
    if result.ok:
        log.info("audit trail intact: %s events (%s sealed, %s in the hash chain)", result.events, result.tree_size, result.checked)
    else:
        log.error("AUDIT CHAIN BROKEN (%s) at event #%s: %s", result.code, result.broken_seq, result.problem)
    return result.as_dict()


@shared_task(name="oms.tasks.audit_checkpoint_task")
def audit_checkpoint_task() -> dict:
    """Anchor the chain's head in a signed checkpoint (every minute, from beat); a chain that does not
    extend the latest checkpoint is not signed but logged as an error for the on-call."""
    try:
        cp = audit_checkpoint_write()
    except AuditChainBroken as exc:
        log.error("AUDIT CHAIN BROKEN (%s) at event #%s: %s; no checkpoint written", exc.problem.code, exc.problem.seq, exc.problem.detail)
        return {"ok": False, "written": None, **exc.problem.as_dict()}
    return {"ok": True, "written": None if cp is None else cp.as_dict()}


@shared_task(name="oms.tasks.audit_seal_task")
def audit_seal_task() -> dict:
    """Seal the committed audit events into the Merkle tree (every AUDIT_SEAL_EVERY_S, from beat); a tree that does
    not match its latest signed head is not extended but logged as an error for the on-call.

    A short run (seal what is pending, no polling): it shares a solo worker with the algorithm ticks. The sealer
    process (``manage.py audit_sealer``) polls; while it runs, this answers "busy" at once."""
    try:
        results = audit_seal_run()
    except AuditTreeBroken as exc:
        log.error("AUDIT TREE BROKEN: %s; nothing sealed", exc)
        return {"ok": False, "sealed": 0, "detail": str(exc)}
    last = results[-1]
    return {"ok": True, "sealed": sum(r.sealed for r in results), "status": last.status,
            "head": None if last.head is None else last.head.as_dict()}
