"""What every app's API accepts as a key or a size: route patterns, the largest id, the bulk limit.

Routes match only well-formed keys, so "/api/orders/abc/cancel/" or "/api/instruments/%00/" is a 404 from
the router before any of it reaches int() or SQL; the OpenAPI schema states the same bounds (oms.api.schema).
"""

MAX_BULK = 5000  # orders per bulk submission
ID_REGEX = r"[0-9]{1,18}"  # a bigint
MAX_ID = 10**18 - 1
SYMBOL_REGEX = r"[A-Za-z0-9._\-]{1,16}"
PORTFOLIO_CODE_REGEX = r"[A-Za-z0-9._\-]{1,32}"
