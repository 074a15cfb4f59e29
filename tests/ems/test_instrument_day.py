"""The instrument-day as the unit of live work (ems.services.working.instrument, ems.services.ticks): several
parents advanced by one tick against one shared market kept in memory, the lease that names its one owner,
the chain token, takeovers and the rebalance that hands instrument-days to a worker just added."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ems.models import ChildOrder, Fill, InstrumentDay
from ems.services import ticks
from ems.services.ticks import Worker, instrument_days_rebalance
from ems.services.working.instrument import instrument_day_tick
from ems.services.working.live import live_market_discard
from ems.states import ExecStatus
from tests.ems import factories as f
from tests.ems.live_helpers import DAY, check_invariants, working_parent

pytestmark = pytest.mark.django_db

A = Worker("a@host", "ems.worker.a@host")
B = Worker("b@host", "ems.worker.b@host")


@pytest.fixture
def sent(monkeypatch):
    out = []
    monkeypatch.setattr(ticks, "current_app", type("App", (), {
        "send_task": lambda self, name, args, queue=None, **kw: out.append((name, args, queue))})())
    return out


def _parents(instrument, portfolio, pm, n=3, **kw):
    return [working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm,
                                                                  side=side, quantity=8_000)], **kw)
            for side in ["buy", "sell", "buy"][:n]]


def test_one_tick_advances_every_parent_of_the_instrument_day_and_keeps_the_market_in_memory(clock, instrument, portfolio, pm):
    parents = _parents(instrument, portfolio, pm)
    first = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    assert first.rebuilt and set(first.parents) == {p.pk for p in parents}
    assert all(r.sent > 0 for r in first.parents.values())  # every parent sent its first slices in the one tick
    clock.advance(60)
    second = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    assert not second.rebuilt  # the same process at the row's version: nothing re-read from the database
    row = InstrumentDay.objects.get(instrument=instrument, market_day=DAY)
    assert row.owner == A.name and row.version == 2 and row.takeovers == 0
    # One simulator: venue order ids are one sequence across the parents.
    ids = ChildOrder.objects.filter(parent__in=parents).values_list("venue_order_id", flat=True)
    assert len(ids) == len(set(ids)) and all(i.startswith(("XSM", "DRK")) for i in ids)
    for p in parents:
        check_invariants(p)


def test_a_market_rebuilt_from_the_database_at_every_tick_gives_the_fills_of_the_one_kept_in_memory(
        instrument, portfolio, pm, monkeypatch, venues):
    # The market is a pure function of the seed and our executions: a takeover at any tick goes on exactly.
    from django.db import transaction

    from ems.services.working import instrument as mod

    parents = _parents(instrument, portfolio, pm)
    times = [3_600_000_000 + k * 40_000_000 for k in range(12)]

    def run(*, rebuild_every_tick: bool):
        for t in times:
            monkeypatch.setattr(mod, "tick_until_us", lambda day, last, t=t: t)
            if rebuild_every_tick:
                live_market_discard(instrument.pk, DAY)
            r = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
            assert r.rebuilt == (rebuild_every_tick or t == times[0])
        return sorted(Fill.objects.filter(parent__in=parents).values_list("exec_id", "quantity", "price", "liquidity"))

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            kept = run(rebuild_every_tick=False)
            raise Undo
    except Undo:
        pass
    live_market_discard(instrument.pk, DAY)
    rebuilt = run(rebuild_every_tick=True)
    assert len(kept) > 20 and rebuilt == kept


def test_a_tick_of_a_superseded_chain_does_nothing(clock, instrument, portfolio, pm, sent, django_capture_on_commit_callbacks):
    _parents(instrument, portfolio, pm, n=1)
    with django_capture_on_commit_callbacks(execute=True):
        r = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    chain = InstrumentDay.objects.get(instrument=instrument).chain
    assert r.active and sent[-1] == (ticks.TICK_TASK, [instrument.pk, DAY, chain], A.queue)  # the chain goes on, on A's queue
    assert instrument_day_tick(instrument_id=instrument.pk, day=DAY, token=chain - 1, worker=A) is None
    assert InstrumentDay.objects.get(instrument=instrument).version == 1
    assert instrument_day_tick(instrument_id=instrument.pk, day=DAY, token=chain, worker=A) is not None


def test_a_request_to_another_worker_goes_to_the_owner_while_its_lease_lasts(clock, instrument, portfolio, pm, sent,
                                                                              django_capture_on_commit_callbacks):
    _parents(instrument, portfolio, pm, n=1)
    instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    with django_capture_on_commit_callbacks(execute=True):
        assert instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=B) is None
    assert sent == [(ticks.TICK_TASK, [instrument.pk, DAY, None], A.queue)]
    assert InstrumentDay.objects.get(instrument=instrument).owner == A.name


def test_a_worker_takes_over_an_instrument_day_whose_lease_ran_out_and_rebuilds_it(clock, instrument, portfolio, pm):
    parents = _parents(instrument, portfolio, pm, n=2)
    instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    clock.advance(60)
    InstrumentDay.objects.filter(instrument=instrument).update(lease_until=timezone.now() - timedelta(seconds=1))
    r = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=B)
    row = InstrumentDay.objects.get(instrument=instrument)
    assert r.rebuilt and row.owner == B.name and row.owner_queue == B.queue and row.takeovers == 1
    for _ in range(40):
        clock.advance(60)
        r = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=B)
        if not r.active:
            break
    for p in parents:
        check_invariants(p)
        p.refresh_from_db()
        assert p.status in (ExecStatus.FILLED, ExecStatus.EXPIRED)


def test_a_tick_that_fails_drops_the_copy_in_memory_and_the_next_rebuilds(clock, instrument, portfolio, pm, monkeypatch):
    _parents(instrument, portfolio, pm, n=1)
    instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    clock.advance(60)
    from ems.services.working import instrument as mod

    def boom(*a, **k):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(mod.InstrumentDay, "save", boom)
    with pytest.raises(RuntimeError):
        instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    monkeypatch.undo()
    r = instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    assert r.rebuilt and InstrumentDay.objects.get(instrument=instrument).version == 2


def test_the_rebalance_hands_instrument_days_to_a_worker_just_added(clock, instrument, other_instrument, portfolio, pm, sent,
                                                                    django_capture_on_commit_callbacks):
    from tests.factories import InstrumentFactory

    insts = [instrument, other_instrument, InstrumentFactory(symbol="GAMA"), InstrumentFactory(symbol="DELT")]
    for inst in insts:
        _parents(inst, portfolio, pm, n=1)
        instrument_day_tick(instrument_id=inst.pk, day=DAY, worker=A)
        live_market_discard(inst.pk, DAY)
    sent.clear()
    assert instrument_days_rebalance([A.name]) == []  # alone: nothing to even out
    with django_capture_on_commit_callbacks(execute=True):
        moves = instrument_days_rebalance([A.name, B.name])
    assert len(moves) == 2 and {m[2] for m in moves} == {B.name}
    rows = {r.instrument_id: r for r in InstrumentDay.objects.all()}
    assert sorted(r.owner for r in rows.values()) == [A.name, A.name, B.name, B.name]
    # The new owner is sent a tick of the new chain; the old owner's pending tick is stale.
    assert sorted(sent) == sorted((ticks.TICK_TASK, [iid, DAY, rows[iid].chain], B.queue) for iid, _, _ in moves)
    moved = moves[0][0]
    assert instrument_day_tick(instrument_id=moved, day=DAY, token=rows[moved].chain - 1, worker=A) is None
    r = instrument_day_tick(instrument_id=moved, day=DAY, token=rows[moved].chain, worker=Worker(B.name, B.queue))
    assert r is not None and r.rebuilt


def test_the_admin_lists_who_owns_each_instrument_day(clock, instrument, portfolio, pm, admin_client):
    _parents(instrument, portfolio, pm, n=1)
    instrument_day_tick(instrument_id=instrument.pk, day=DAY, worker=A)
    row = InstrumentDay.objects.get()
    listing = admin_client.get("/admin/ems/instrumentday/")
    assert listing.status_code == 200 and A.name in listing.content.decode()
    detail = admin_client.get(f"/admin/ems/instrumentday/{row.pk}/change/")
    assert detail.status_code == 200 and "sim_state" not in detail.content.decode()
    assert admin_client.post(f"/admin/ems/instrumentday/{row.pk}/delete/", {"post": "yes"}).status_code == 403
