"""The audit trail under concurrent writers (issue 18): appends per second, against plain INSERTs, and the seal delay.

    python bench/audit.py [--writers 1,2,4] [--seconds 3] [--runs 3]

Runs on its own database (``smart_oms_bench_audit``, or ``BENCH_AUDIT_DB``; dropped and migrated at the start).
Each run, for each count of ``--writers``, two phases of ``--seconds`` each, back to back:

* **audit**: that many forked processes append one event per transaction through ``audit_append`` (one INSERT, no
  lock: what every service does), while one more process is the sealer exactly as ``manage.py audit_sealer`` is
  (``audit_sealer_serve``: polls every ``AUDIT_SEAL_POLL_S``);
* **plain**: the same processes INSERT a similar row (the same columns and values, JSON included) into a table
  with only a primary key and no trigger, one per transaction: the ceiling of a transactional insert on this box,
  measured under the same conditions as the baseline.

Printed, medians of ``--runs`` runs:

* appends/s and plain INSERTs/s summed over the writers, their ratio, and the ratios 2/1 and 4/1 of each
  (they must rise with writers);
* where an append's time goes, per append, from Linux's /proc of each process: CPU of the writer processes,
  of their PostgreSQL backends and of the sealer (process + backend); the time the writers and their backends
  waited for a CPU (``schedstat``); the rest of the writers' wall time is spent blocked (the commit's WAL
  flush, the round trips). The box's CPU busy share (all its processes, the other users' included) says
  whether two cores were simply full;
* the seal delay of each event, from its ``ts`` (written) to the ``created_at`` of the first head that covers
  it: p50 and p99, with the aim (p99 <= 1 s; AUDIT_SEAL_BOUND_S is what verification tolerates).

The box is shared (PostgreSQL on the same cores): figures are medians; asserts only that every event was
sealed, once.
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

from aims import aim  # noqa: E402
from benchdb import close_db_for_fork, django_on_own_database  # noqa: E402

PLAIN_TABLE = "bench_plain_event"
SEAL_AIM_S = 1.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def writer_main(k: int, plain: bool, ready, go, stop_at, out) -> None:
    from django.db import connection, transaction

    from oms.roles import Actor
    from oms.services.audit import PendingEvent, audit_append, audit_prepare

    actor = Actor.system(f"bench-writer-{k}")
    ready.put(("writer", os.getpid(), _backend_pid()))
    go.wait()
    n = 0
    if plain:
        cols = "ts, actor, actor_type, source, event_type, object_type, object_id, after, reason"
        sql = f"INSERT INTO {PLAIN_TABLE} ({cols}) VALUES (now(), %s, %s, %s, %s, %s, %s, %s, %s)"
        while time.time() < stop_at.value:
            # The same encoding work as an append (audit_prepare), then one INSERT in its own transaction.
            (head, _, after, reason), = audit_prepare([PendingEvent(actor, "probe.noted", "probe", n, after={"writer": k, "n": n}, reason="bench")])
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [*head, after, reason])
            n += 1
    else:
        while time.time() < stop_at.value:
            with transaction.atomic():
                audit_append([PendingEvent(actor, "probe.noted", "probe", n, after={"writer": k, "n": n}, reason="bench")])
            n += 1
    out.put(n)


def sealer_main(ready, go, stop_at) -> None:
    from oms.services.audit_seal import audit_seal_run, audit_sealer_serve

    ready.put(("sealer", os.getpid(), _backend_pid()))
    go.wait()
    # The product's sealer process; it stops a little after the writers, once what they wrote had its chance.
    audit_sealer_serve(stop=lambda: time.time() > stop_at.value + 1.5)
    audit_seal_run(poll_s=0)  # anything left (it would show in the delays)


def _cpu(pid: int) -> tuple[float, float]:
    """(CPU seconds, seconds waited on a run queue) of a process so far; (0, 0) once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        sched = Path(f"/proc/{pid}/schedstat").read_text().split()
    except FileNotFoundError:
        return 0.0, 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, int(sched[1]) / 1e9


def _box_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole box so far (/proc/stat: every process, other users' too)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / CLK_TCK, sum(v) / CLK_TCK


def _sum_cpu(pids: list[int]) -> tuple[float, float]:
    parts = [_cpu(p) for p in pids]
    return sum(c for c, _ in parts), sum(w for _, w in parts)


def _delays(since_id: int) -> list[float]:
    from django.db import connection

    with connection.cursor() as cur:
        # Each leaf's first head: the smallest tree_size above its index.
        cur.execute("""
            SELECT EXTRACT(EPOCH FROM h.created_at - e.ts)
            FROM oms_auditleaf l JOIN oms_auditevent e ON e.id = l.event_id
            JOIN LATERAL (SELECT created_at FROM oms_audittreehead WHERE tree_size > l.leaf_index ORDER BY tree_size LIMIT 1) h ON true
            WHERE e.id > %s""", [since_id])
        return sorted(float(r[0]) for r in cur.fetchall())


def one_phase(writers: int, seconds: float, plain: bool) -> dict:
    from oms.models import AuditEvent

    since = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    stop_at = ctx.Value("d", 0.0)
    close_db_for_fork()
    procs = [ctx.Process(target=writer_main, args=(k, plain, ready, go, stop_at, out)) for k in range(writers)]
    if not plain:
        procs.append(ctx.Process(target=sealer_main, args=(ready, go, stop_at)))
    for p in procs:
        p.start()
    started = [ready.get(timeout=60) for _ in procs]  # (role, process id, its backend's process id)
    writer_pids = [pid for role, pid, _ in started if role == "writer"]
    backend_pids = [backend for role, _, backend in started if role == "writer"]
    sealer_pids = [pid for role, *pair in started if role == "sealer" for pid in pair]
    stop_at.value = time.time() + seconds
    before = (_sum_cpu(writer_pids), _sum_cpu(backend_pids), _sum_cpu(sealer_pids), _box_busy())
    go.set()
    time.sleep(max(0.0, stop_at.value - time.time()))
    after = (_sum_cpu(writer_pids), _sum_cpu(backend_pids), _sum_cpu(sealer_pids), _box_busy())
    appended = sum(out.get() for _ in range(writers))
    for p in procs:
        p.join()
    (w0, ww0), (b0, bw0), (s0, _), (busy0, total0) = before
    (w1, ww1), (b1, bw1), (s1, _), (busy1, total1) = after
    n = max(appended, 1)
    r = {"rate": appended / seconds, "appended": appended,
         "writer_ms": (w1 - w0) * 1000 / n, "backend_ms": (b1 - b0) * 1000 / n, "sealer_ms": (s1 - s0) * 1000 / n,
         "runq_ms": (ww1 - ww0 + bw1 - bw0) * 1000 / n, "wall_ms": writers * seconds * 1000 / n,
         "box_busy": (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0}
    if not plain:
        delays = _delays(since)
        if len(delays) != appended:
            raise SystemExit(f"{appended} events appended but {len(delays)} sealed")
        q = statistics.quantiles(delays, n=100) if len(delays) > 1 else delays * 99
        r |= {"p50": q[49], "p99": q[98]}
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    django_on_own_database()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        # A similar row: the audit table's columns, a primary key and nothing else (no other index, no trigger).
        cur.execute(f"""CREATE TABLE IF NOT EXISTS {PLAIN_TABLE} (id bigserial PRIMARY KEY, ts timestamptz NOT NULL,
            actor varchar(150) NOT NULL, actor_type varchar(16) NOT NULL, source varchar(160) NOT NULL,
            event_type varchar(48) NOT NULL, object_type varchar(48) NOT NULL, object_id varchar(64) NOT NULL,
            before jsonb, after jsonb, reason varchar(255) NOT NULL)""")
        cur.execute("SHOW synchronous_commit")
        sync = cur.fetchone()[0]
    counts = [int(x) for x in args.writers.split(",")]
    runs: dict[tuple[int, bool], list[dict]] = {(w, p): [] for w in counts for p in (False, True)}
    for _ in range(args.runs):
        for w in counts:
            for plain in (False, True):
                runs[w, plain].append(one_phase(w, args.seconds, plain))

    def med(w: int, plain: bool, key: str) -> float:
        return statistics.median(r[key] for r in runs[w, plain])

    print(f"audit trail: {args.seconds:g} s per phase, median of {args.runs} runs, {os.cpu_count()} cores shared, "
          f"synchronous_commit={sync}; sealer polls every {settings.AUDIT_SEAL_POLL_S * 1000:.0f} ms")
    print(f"  {'writers':>7} | {'appends/s':>9} | {'plain INSERTs/s':>15} | {'append/plain':>12} | {'seal p50 ms':>11} | {'p99 ms':>6}"
          f" | {'CPU ms/append: writer':>21} {'backend':>7} {'sealer':>6} | {'run-queue wait':>14} | {'wall/append':>11} | {'box busy':>8}")
    for w in counts:
        print(f"  {w:>7} | {med(w, False, 'rate'):>9,.0f} | {med(w, True, 'rate'):>15,.0f} | "
              f"{med(w, False, 'rate') / med(w, True, 'rate'):>12.2f} | {med(w, False, 'p50') * 1000:>11,.0f} | {med(w, False, 'p99') * 1000:>6,.0f}"
              f" | {med(w, False, 'writer_ms'):>21.3f} {med(w, False, 'backend_ms'):>7.3f} {med(w, False, 'sealer_ms'):>6.3f}"
              f" | {med(w, False, 'runq_ms'):>11.3f} ms | {med(w, False, 'wall_ms'):>8.3f} ms | {med(w, False, 'box_busy'):>8.0%}")
    for w in counts:
        print(f"  plain INSERT, {w} writer(s), CPU ms per insert: writer {med(w, True, 'writer_ms'):.3f}, backend "
              f"{med(w, True, 'backend_ms'):.3f}; run-queue wait {med(w, True, 'runq_ms'):.3f} ms; box busy {med(w, True, 'box_busy'):.0%}")
    if 1 in counts:
        for top in (c for c in counts if c > 1):
            print(f"  appends/s {top}/1: {med(top, False, 'rate') / med(1, False, 'rate'):.2f}; "
                  f"plain INSERTs/s {top}/1: {med(top, True, 'rate') / med(1, True, 'rate'):.2f} (must rise with writers: > 1)")
        top = max(counts)
        if top > 1:
            ratio = med(top, False, "rate") / med(1, False, "rate")
            aim("audit_writers", f"{ratio:.2f} ({med(1, False, 'rate'):,.0f} -> {med(top, False, 'rate'):,.0f} appends/s)", "> 1 (rise with writers)",
                ratio > 1, note=f"plain INSERTs {top}/1: {med(top, True, 'rate') / med(1, True, 'rate'):.2f} in the same runs")
    worst = max(med(w, False, "p99") for w in counts)
    aim("seal_delay", f"p99 {worst * 1000:,.0f} ms at worst over {args.writers} writers", "p99 <= 1 s", worst <= SEAL_AIM_S)


if __name__ == "__main__":
    main()
