"""What the OMS tells the apps above it, without importing them (DESIGN.md §3: ``oms`` <- ``ems`` <- ``rfq``).

``order_cancel_requested``: sent after the commit of a cancel request for an order that a parent order
works (the order went PENDING_CANCEL; its parent's children may still be at the venues), with
``order_id`` and ``parent_id``. The EMS connects it in its AppConfig and ticks the parent, whose driver
cancels the children, takes the order's rest out of the parent and closes the order with its fills kept.
"""

from django.dispatch import Signal

order_cancel_requested = Signal()
