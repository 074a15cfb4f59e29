"""Every write of the OMS. Services take keyword arguments and run in one transaction with their audit rows."""

from oms.services.audit import audit_record
from oms.services.audit_checkpoint import audit_checkpoint_write
from oms.services.audit_verification import audit_verify
from oms.services.cancel import order_cancel
from oms.services.intake import orders_submit
from oms.services.intake_group import order_submit
from oms.services.market_price import market_prices_update
from oms.services.replace import order_replace

__all__ = ["audit_checkpoint_write", "audit_record", "audit_verify", "order_cancel", "order_replace", "order_submit", "orders_submit", "market_prices_update"]
