"""RFQ writes, one module per verb family (re-exported here).

- ``requests``: ``rfq_create`` (checks, reservation, provider choice, anonymous dissemination)
- ``quotes``: ``quote_submit`` / ``quote_decline`` (providers' answers, the server-side window), ``quotes_lapse``
- ``execution``: ``quote_accept`` and the shared execution step with last look (``AcceptResult``)
- ``closing``: ``rfq_window_close``, ``rfq_cancel``, ``rfqs_cancel_for_parents``, ``rfqs_sweep``
- ``packages``: ``package_create`` (a multi-leg package: one order and parent per leg, one RFQ)
- ``destination``: ``RfqDestination`` (the EMS's ``rfq`` strategy) and ``rfq_venue``
"""

from rfq.services.closing import rfq_cancel, rfq_window_close, rfqs_cancel_for_parents, rfqs_sweep
from rfq.services.common import rfq_venue
from rfq.services.destination import RfqDestination
from rfq.services.execution import AcceptResult, quote_accept
from rfq.services.packages import package_create
from rfq.services.quotes import quote_decline, quote_submit, quotes_lapse
from rfq.services.requests import rfq_create

__all__ = [
    "AcceptResult", "RfqDestination", "package_create", "quote_accept", "quote_decline", "quote_submit", "quotes_lapse", "rfq_cancel", "rfq_create",
    "rfq_venue", "rfq_window_close", "rfqs_cancel_for_parents", "rfqs_sweep",
]
