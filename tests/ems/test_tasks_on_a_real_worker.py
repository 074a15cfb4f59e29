"""The periodic tasks this issue added, run the way beat runs them: sent through Redis to a real Celery
worker process on the test database (not called in-process)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)



def test_a_worker_runs_the_market_price_refresh_the_audit_sealer_and_the_checkpoint(instrument, pm, portfolio, order_payload, tmp_path):
    """As beat runs them: the market prices, the sealer (the order's events sealed into the Merkle tree under a
    signed head) and the checkpoint of the hash chain written before the tree."""
    from django.db import transaction

    from ems.services import venues_sync_from_sim
    from ems.tasks import market_prices_refresh
    from oms.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditTreeHead, MarketPrice
    from oms.roles import Actor
    from oms.services import order_submit
    from oms.services.audit import PendingEvent
    from oms.tasks import audit_checkpoint_task, audit_seal_task
    from tests.oms.audit_helpers import chain_append

    system = Actor.system("test")

    venues_sync_from_sim()
    with transaction.atomic():  # the chain written before the switch: what the checkpoint anchors
        chain_append([PendingEvent(system, "probe.noted", "probe", i, after={"i": i}) for i in range(3)])
    order_submit(user=pm, actor=Actor.for_user(pm, "api"), data=order_payload())  # events written since: unsealed
    assert AuditEvent.objects.filter(seq__isnull=True).exists()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url(connection.settings_dict), "AUDIT_CHECKPOINT_FILE": str(checkpoint_file)}

    with celery_worker(env, queue) as log:
        market_prices_refresh.apply_async(queue=queue)
        sealed = audit_seal_task.apply_async(queue=queue).get(timeout=60)
        checkpoint = audit_checkpoint_task.apply_async(queue=queue)
        assert wait_for(lambda: MarketPrice.objects.filter(instrument=instrument).exists()), log.read_text()[-3000:]
        result = checkpoint.get(timeout=60)
        assert wait_for(lambda: log.read_text().count("succeeded") >= 3), log.read_text()[-3000:]
        worker_log = log.read_text()

    price = MarketPrice.objects.get(instrument=instrument)
    assert 0 < price.bid < price.mid < price.ask
    events = AuditEvent.objects.count()
    assert sealed["ok"] is True and sealed["sealed"] == events == AuditLeaf.objects.count()
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert AuditTreeHead.objects.order_by("-tree_size").first().tree_size == events == sealed["head"]["tree_size"]
    assert result["ok"] is True and result["written"] is not None and result["written"]["seq"] == 3
    row = AuditCheckpoint.objects.get()
    line = json.loads(checkpoint_file.read_text().splitlines()[-1])
    assert line["seq"] == row.seq and line["signature"] == row.signature
    assert "succeeded" in worker_log and "Traceback" not in worker_log, worker_log[-3000:]
