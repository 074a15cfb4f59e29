"""What the OMS tells the apps above it, without importing them (DESIGN.md §3: ``oms`` <- ``ems`` <- ``rfq``).

``order_cancel_requested``: sent after the commit of a cancel request for an order that a parent order
works (the order went PENDING_CANCEL; its parent's children may still be at the venues), with
``order_id`` and ``parent_id``. The EMS connects it in its AppConfig and ticks the parent, whose driver
cancels the children, takes the order's rest out of the parent and closes the order with its fills kept.

``order_reduce_requested``: sent (synchronously, outside any transaction) by the cancel/replace of an order
that a parent order works, with ``order_id``, the new ``quantity`` and the ``actor``. Its one receiver, the
EMS's (connected in its AppConfig), reduces the parent and the order in one transaction under its locks
and returns the order; it raises the OMS's own errors (``Conflict``) when the reduction cannot be made.
"""

from django.dispatch import Signal

order_cancel_requested = Signal()
order_reduce_requested = Signal()
