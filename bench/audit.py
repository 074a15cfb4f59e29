"""The audit trail under concurrent writers (issue 18): appends per second and the sealer's delay.

    python bench/audit.py [--writers 1,2,4] [--seconds 4] [--runs 3] [--every-s 1]

Runs on its own database (``smart_oms_bench_audit``, dropped and migrated at the start). For each count of
``--writers``, that many forked processes append one event per transaction through ``audit_append`` (no lock
since issue 18's writer-side step: one INSERT in the caller's transaction) for ``--seconds``, while one more
process runs the sealer as beat would, ``audit_seal_pending`` every ``--every-s`` seconds. Printed, medians
of ``--runs`` runs:

* appends/s summed over the writers, and the ratio of 4 writers to 1 (under the chain lock it was flat, about
  1.0; without it the figure rises with the writers until the shared cores run out);
* the seal delay of each event, from its ``ts`` (written) to the ``created_at`` of the first head that covers
  it: p50 and p99 (aim: p99 <= 1 s, AUDIT_SEAL_BOUND_S 5 s is what verification tolerates);
* seals/s (heads signed per second) and events per seal.

The box is shared (PostgreSQL on the same cores): figures are medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SMART_OMS_DB_NAME"] = os.environ.get("BENCH_AUDIT_DB", "smart_oms_bench_audit")

from benchdb import close_db_for_fork, django_on_own_database  # noqa: E402


def writer_main(k: int, go, stop_at, out) -> None:
    from django.db import transaction

    from oms.roles import Actor
    from oms.services.audit import PendingEvent, audit_append

    actor = Actor.system(f"bench-writer-{k}")
    go.wait()
    n = 0
    while time.time() < stop_at.value:
        with transaction.atomic():
            audit_append([PendingEvent(actor, "probe.noted", "probe", n, after={"writer": k, "n": n}, reason="bench")])
        n += 1
    out.put(n)


def sealer_main(every_s: float, go, stop_at) -> None:
    from oms.services.audit_seal import audit_seal_pending

    go.wait()
    # Until every event is sealed after the writers stop: each pass as beat runs the task.
    while True:
        started = time.monotonic()
        results = audit_seal_pending(budget_s=every_s)
        if time.time() > stop_at.value + 0.5 and results[-1].status == "idle":
            return
        time.sleep(max(0.0, every_s - (time.monotonic() - started)))


def _delays(since_id: int) -> tuple[list[float], int, float]:
    from django.db import connection

    with connection.cursor() as cur:
        # Each leaf's first head: the smallest tree_size above its index.
        cur.execute("""
            SELECT EXTRACT(EPOCH FROM h.created_at - e.ts)
            FROM oms_auditleaf l JOIN oms_auditevent e ON e.id = l.event_id
            JOIN LATERAL (SELECT created_at FROM oms_audittreehead WHERE tree_size > l.leaf_index ORDER BY tree_size LIMIT 1) h ON true
            WHERE e.id > %s""", [since_id])
        delays = [float(r[0]) for r in cur.fetchall()]
        cur.execute("""SELECT count(*), EXTRACT(EPOCH FROM max(created_at) - min(created_at)) FROM oms_audittreehead
                       WHERE tree_size > (SELECT coalesce(min(leaf_index), 0) FROM oms_auditleaf WHERE event_id > %s)""", [since_id])
        seals, span = cur.fetchone()
    return delays, seals, float(span or 0)


def one_run(writers: int, seconds: float, every_s: float) -> dict:
    from oms.models import AuditEvent

    since = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ctx = mp.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    stop_at = ctx.Value("d", 0.0)
    close_db_for_fork()
    procs = [ctx.Process(target=writer_main, args=(k, go, stop_at, out)) for k in range(writers)]
    sealer = ctx.Process(target=sealer_main, args=(every_s, go, stop_at))
    for p in [*procs, sealer]:
        p.start()
    time.sleep(0.5)
    stop_at.value = time.time() + seconds
    go.set()
    appended = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    sealer.join()
    delays, seals, span = _delays(since)
    delays.sort()
    q = statistics.quantiles(delays, n=100) if len(delays) > 1 else [0.0] * 99
    return {"appends_s": appended / seconds, "p50": q[49], "p99": q[98], "seals_s": (seals - 1) / span if span else 0.0,
            "per_seal": len(delays) / seals if seals else 0.0, "sealed": len(delays), "appended": appended}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--every-s", type=float, default=None, help="sealer period (default AUDIT_SEAL_EVERY_S)")
    args = ap.parse_args()
    django_on_own_database()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    every_s = args.every_s or settings.AUDIT_SEAL_EVERY_S
    counts = [int(x) for x in args.writers.split(",")]
    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for _ in range(args.runs):
        for w in counts:
            r = one_run(w, args.seconds, every_s)
            assert r["sealed"] == r["appended"], r  # every event sealed, once
            runs[w].append(r)
    print(f"audit trail: {args.seconds:g} s per run, sealer every {every_s:g} s, median of {args.runs} runs, {os.cpu_count()} cores shared")
    print(f"  {'writers':>7} | {'appends/s (audit_append, no lock)':>36} | {'seal delay p50 ms':>17} | {'p99 ms':>7} | {'seals/s':>7} | {'events/seal':>11}")
    for w in counts:
        m = {k: statistics.median(r[k] for r in runs[w]) for k in ("appends_s", "p50", "p99", "seals_s", "per_seal")}
        print(f"  {w:>7} | {m['appends_s']:>36,.0f} | {m['p50'] * 1000:>17,.0f} | {m['p99'] * 1000:>7,.0f} | {m['seals_s']:>7.2f} | {m['per_seal']:>11,.0f}")
    rate = {w: statistics.median(r["appends_s"] for r in runs[w]) for w in counts}
    if 1 in rate and max(counts) > 1:
        top = max(counts)
        print(f"  appends/s, {top} writers / 1: {rate[top] / rate[1]:.2f} (must rise with writers: > 1)")


if __name__ == "__main__":
    main()
