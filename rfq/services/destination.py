"""The RFQ platform as an EMS destination (``ems.destinations``): registered from ``RfqConfig.ready``, it
works the parents the strategy selection matrix sends to RFQ (large illiquid blocks).

**Rounds.** When the parent's tick hands it a parent (working, running, nothing held, something left),
it starts round N: an RFQ for the whole workable quantity, two-way (our side stays hidden), auto-executed
at the window's end on the best quote within ``RFQ_AUTO_THRESHOLD_BPS`` of the mid (source "ems"). The
close of each round enqueues the parent's tick, which hands it back for the next round. It declines, and
the EMS works the rest with Implementation Shortfall (the reason recorded on the parent), when
``RFQ_MAX_ROUNDS`` rounds are done, when the previous round executed nothing, or when nobody can be
asked.

**Stopping.** ``parents_stop`` (the EMS calls it after commit when a parent is paused, halted, cancelled,
switched away from RFQ or at its end) cancels every open RFQ of those parents, trader-started ones
included, and releases what they held.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction

from ems.models import ParentOrder
from oms.errors import DomainError
from oms.roles import Actor
from rfq.models import RFQ, RfqDirection, RfqExecuteAt, RfqLeg, RfqMode
from rfq.selectors import market_snapshot, quantity_available
from rfq.services.closing import rfqs_cancel_for_parents
from rfq.services.common import rfq_venue, whole_lots
from rfq.services.requests import providers_choose, rfq_open, rfq_spec
from rfq.states import RfqStatus

STOP_ACTOR = Actor.system("rfq.parents_stop")

__all__ = ["RfqDestination", "rfq_venue"]


class RfqDestination:
    """The RFQ platform behind the EMS's ``rfq`` strategy."""

    strategy = "rfq"

    def parent_work(self, parent: ParentOrder, *, actor: Actor) -> str | None:
        """Start the parent's next RFQ round (None), or say why not (the EMS then works the rest with IS).
        Runs inside the parent's tick, the parent locked: it only inserts RFQ rows."""
        if RfqLeg.objects.filter(parent_id=parent.pk).exists():
            return None  # a package's leg trades only with its package (whose close cancels it), never in a round of its own
        # A round cancelled by a control (pause, kill switch) says nothing about the dealers: it does not count.
        rounds = list(RFQ.objects.filter(parent_id=parent.pk, source="ems").exclude(status=RfqStatus.CANCELLED).order_by("-round")
                      .values_list("round", "status", "executed_quantity", "close_reason"))
        if len(rounds) >= settings.RFQ_MAX_ROUNDS:
            return f"{len(rounds)} RFQ rounds done (RFQ_MAX_ROUNDS)"
        if rounds and rounds[0][2] == 0:
            n, status, _, why = rounds[0]
            return f"RFQ round {n} executed nothing ({status}: {why})" if why else f"RFQ round {n} executed nothing ({status})"
        quantity = whole_lots(min(parent.workable_quantity, quantity_available(parent)), parent.instrument.lot_size)
        if quantity <= 0:
            return "nothing left to ask dealers for in whole lots"
        spec = rfq_spec(quantity=quantity, direction=RfqDirection.TWO_WAY, mode=RfqMode.AUTO, execute_at=RfqExecuteAt.WINDOW_END,
                        threshold_bps=Decimal(str(settings.RFQ_AUTO_THRESHOLD_BPS)), source="ems")
        choice = providers_choose(parent.instrument, spec.providers)
        if not choice.selected:
            return choice.reason
        try:
            with transaction.atomic():  # a refusal undoes only this round, never the tick around it
                rfq = rfq_open(parent, spec, choice=choice, market=market_snapshot(parent.instrument), actor=actor,
                               round_no=RFQ.objects.filter(parent_id=parent.pk, source="ems").count() + 1)
        except DomainError as exc:
            return f"RFQ refused: {exc.detail}"
        if rfq.status == RfqStatus.REJECTED:
            return rfq.close_reason
        return None

    def parents_stop(self, parent_ids: list[int], *, reason: str) -> None:
        """Cancel the open RFQs of ``parent_ids`` and release what they held (idempotent)."""
        rfqs_cancel_for_parents(parent_ids=list(parent_ids), reason=reason, actor=STOP_ACTOR)
