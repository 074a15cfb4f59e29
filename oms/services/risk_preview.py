"""What pre-trade risk would say of an order not sent yet (the ticket's estimate): the intake's own parse,
limits and risk price, without sending anything."""

from __future__ import annotations

from dataclasses import replace

from oms.errors import DomainError
from oms.refdata import refdata
from oms.roles import tradable_portfolio_ids
from oms.selectors import risk_references
from oms.services.order_parse import parse_order
from oms.services.risk import check_static, effective_limits


def order_risk_preview(*, user, data: dict) -> tuple[str, str] | None:
    """What pre-trade risk would say of the order ``data`` (an intake payload) if it were sent now:
    (code, reason) of a denial by a limb that needs only the order and the limits (restricted list, maximum
    quantity and notional, price collar, an engaged kill switch), else None. The same parse, limits and risk price as the intake;
    None too while ``data`` is not a valid order yet (its field errors come when it is sent). The rate,
    duplicate and credit limbs depend on what else is sent meanwhile: they are decided at sending.
    """
    ref = refdata()
    allowed = tradable_portfolio_ids(user, ref)
    portfolios = ref.portfolios if allowed is None else {c: p for c, p in ref.portfolios.items() if p.id in allowed}
    try:
        req = parse_order(data, portfolios=portfolios, instruments=ref.instruments, known_portfolios=ref.portfolios)
    except DomainError:
        return None
    req = replace(req, reference=risk_references([req.instrument])[req.instrument.id])
    return check_static(req, effective_limits([req.portfolio.id], ref.limits)[req.portfolio.id], ref.restricted, ref.halts)
