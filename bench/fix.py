"""FIX order entry: NewOrderSingle -> ExecutionReport over loopback from QuickFIX initiators, risk and audit on.

    python bench/fix.py [--paced 500] [--rate 100] [--burst 2000]

Starts ``manage.py fix_gateway`` on a free port against its own database (``smart_oms_bench``, migrated and
seeded here; ``SMART_OMS_DB_NAME`` to choose another), then measures:

* round trip at a paced rate (``--rate`` orders/s from one session): p50 / p99 / max;
* sustained orders/s from one session and from four at once (``--burst`` orders sent as fast as they go,
  until the last ExecutionReport is in);
* the gateway's CPU while idle (its poll loop), in % of one core.

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMART_OMS_DB_NAME", "smart_oms_bench")

from benchdb import django_on_own_database  # noqa: E402

django_on_own_database(keep=True)  # the intake bench's database, as it left it (no real DATABASE_URL is filled)

import quickfix as qf  # noqa: E402
import quickfix44 as fix44  # noqa: E402
from aims import aim  # noqa: E402  (bench/ is this script's folder, first on sys.path)
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from fix.engine import field_or  # noqa: E402
from fix.models import FixSession, SessionKind  # noqa: E402
from fix.services import fix_session_add  # noqa: E402
from oms import role_names  # noqa: E402
from oms.models import Instrument, InstrumentKind, Portfolio, RiskLimit  # noqa: E402
from oms.roles import Actor  # noqa: E402
from tests.fix.client import FixClient  # noqa: E402

SESSIONS = ["BENCH1", "BENCH2", "BENCH3", "BENCH4"]


def prepare() -> list[str]:
    """Migrate; a bench client with a portfolio, limits sized for the run, and four order-entry sessions."""
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    user, _ = User.objects.get_or_create(username="bench-client")
    user.groups.set([Group.objects.get(name=role_names.API_CLIENT)])
    portfolio, _ = Portfolio.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark book"})
    portfolio.members.add(user)
    RiskLimit.objects.update_or_create(portfolio=portfolio, defaults=dict(
        max_order_quantity=5_000_000, max_order_notional=10**10, price_collar_pct=10,
        daily_notional_limit=10**15, duplicate_window_seconds=5, max_orders_per_second=1_000_000,
    ))
    for theirs in SESSIONS:
        if not FixSession.objects.filter(sender_comp_id="SMART", target_comp_id=theirs).exists():
            fix_session_add(ours="SMART", theirs=theirs, username=user.username, kind=SessionKind.ORDER_ENTRY,
                            actor=Actor.system("bench"))
    # Equities: since the option chains are listed, most symbols are options, which equity-sized orders would
    # send down the denial path (risk.max_contracts) and through the options model (the net-delta limb).
    return list(Instrument.objects.filter(restrictions__isnull=True, kind=InstrumentKind.EQUITY).values_list("symbol", flat=True))


def order(cl_ord_id: str, symbol: str, qty: int) -> fix44.NewOrderSingle:
    m = fix44.NewOrderSingle()
    for f in (qf.ClOrdID(cl_ord_id), qf.Account("BENCH"), qf.Symbol(symbol), qf.Side("1"), qf.OrderQty(qty),
              qf.OrdType("1"), qf.TransactTime()):
        m.setField(f)
    return m


def collect(client: FixClient, n: int, arrived: dict[str, float], outcomes: dict[str, int]) -> None:
    for _ in range(n):
        try:
            er = client.received.get(timeout=60)
        except queue.Empty:
            return
        arrived[field_or(er, 11)] = time.perf_counter()
        outcomes[field_or(er, 150)] = outcomes.get(field_or(er, 150), 0) + 1


def run(client: FixClient, tag: str, symbols: list[str], n: int, rate: float | None, offset: int = 0) -> tuple[dict, dict, dict, float]:
    """Send n orders (paced at ``rate``/s, or as fast as they go); (sent at, arrived at, outcomes, seconds)."""
    sent, arrived, outcomes = {}, {}, {}
    reader = threading.Thread(target=collect, args=(client, n, arrived, outcomes))
    reader.start()
    start = time.perf_counter()
    for i in range(n):
        if rate:
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        cl = f"{tag}-{i}"
        sent[cl] = time.perf_counter()
        # Content varies across the run (quantity): no order is denied as a duplicate of an earlier one.
        client.send(order(cl, symbols[i % len(symbols)], 100 + offset + i))
    reader.join()
    return sent, arrived, outcomes, time.perf_counter() - start


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paced", type=int, default=500)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--burst", type=int, default=2000)
    args = ap.parse_args()
    symbols = prepare()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_tag = time.strftime("%H%M%S")
    env = {**os.environ, "FIX_STORE_DIR": tempfile.mkdtemp(prefix="fix-bench-store-")}
    connection.close()
    log = tempfile.NamedTemporaryFile(prefix="fix-bench-", suffix=".log", delete=False)
    gateway = subprocess.Popen([sys.executable, "manage.py", "fix_gateway", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "listening" not in Path(log.name).read_text():
            if gateway.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(Path(log.name).read_text()[-3000:])
            time.sleep(0.2)
        time.sleep(2)
        idle = cpu_seconds(gateway.pid)
        time.sleep(10)
        idle = (cpu_seconds(gateway.pid) - idle) / 10
        print(f"fix gateway idle CPU: {idle * 100:.1f}% of one core (poll loop, {len(SESSIONS) + 1} sessions)")

        clients = [FixClient(port, theirs, "SMART") for theirs in SESSIONS]
        for c in clients:
            c.__enter__()
            assert c.wait_logon(), "bench client did not log on"
        # Warm-up (reference-data caches, prepared statements, the first intake calls), not measured.
        run(clients[0], f"W{run_tag}", symbols, 200, None, offset=10**6)
        time.sleep(1)
        sent, arrived, outcomes, _ = run(clients[0], f"P{run_tag}", symbols, args.paced, args.rate)
        lat = [arrived[k] - sent[k] for k in sent if k in arrived]
        print(f"fix round trip at {args.rate:.0f} orders/s, one session: {len(lat)}/{args.paced} answered {outcomes}")
        print(f"  NewOrderSingle -> ExecutionReport p50 {pct(lat, 50) * 1000:.1f} ms   p99 {pct(lat, 99) * 1000:.1f} ms"
              f"   max {max(lat) * 1000:.1f} ms")
        aim("fix_round_trip", f"p99 {pct(lat, 99) * 1000:.0f} ms", "<= 20 ms", pct(lat, 99) <= 0.020)

        _, arrived, outcomes, elapsed = run(clients[0], f"B{run_tag}", symbols, args.burst, None, offset=args.paced)
        print(f"fix sustained, one session: {len(arrived)} orders in {elapsed:.2f}s -> {len(arrived) / elapsed:,.0f} orders/s {outcomes}")

        results, threads = [], []
        per = args.burst // len(clients)
        start = time.perf_counter()
        for k, c in enumerate(clients):
            t = threading.Thread(target=lambda c=c, k=k: results.append(run(c, f"F{run_tag}-{k}", symbols, per, None, offset=args.paced + args.burst + k * per)))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        answered = sum(len(r[1]) for r in results)
        print(f"fix sustained, {len(clients)} sessions: {answered} orders in {elapsed:.2f}s -> {answered / elapsed:,.0f} orders/s")
        for c in clients:
            c.close()
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gateway.kill()


if __name__ == "__main__":
    main()
