"""Every write of the OMS. Services take keyword arguments and run in one transaction with their audit rows."""

from oms.services.audit import audit_record, audit_verify
from oms.services.intake import order_cancel, order_submit, orders_submit

__all__ = ["audit_record", "audit_verify", "order_cancel", "order_submit", "orders_submit"]
