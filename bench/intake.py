"""Order intake throughput against a real server, with every risk limb and the audit trail on.

    python bench/intake.py [--server uvicorn|gunicorn] [--workers 2] [--single 1500] [--rounds 3] [--bulk 40000]

Starts the server itself on a free port against its own database (``smart_oms_bench``, migrated and
seeded here), then measures:

* single-order POSTs to /api/orders/ from 16 concurrent connections: orders/s, p50 and p99 latency, CPU
  per order; in alternating rounds with the same POSTs to a bare DRF endpoint on the same server
  (``bench/bare_drf.py``: token auth, a small serializer, 201), and prints intake's median over the bare
  endpoint's median: the issue-18 aim is >= 0.6;
* bulk POSTs to /api/orders/bulk/ (1,000 orders each, 2 concurrent): orders/s.

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMART_OMS_DB_NAME", "smart_oms_bench")
if "DATABASE_URL" in os.environ and os.environ.get("BENCH_USE_DATABASE_URL") != "1":
    del os.environ["DATABASE_URL"]  # never fill a real database with benchmark orders

from aims import aim  # noqa: E402

from config import runtime, server  # noqa: E402


def _fresh_bench_database() -> None:
    """Start every run on an empty database of its own, so runs compare (``--keep-db`` to skip)."""
    if "--keep-db" in sys.argv or os.environ.get("DATABASE_URL") or not runtime._answers("127.0.0.1", 5432):
        return
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{os.environ["SMART_OMS_DB_NAME"]}" WITH (FORCE)')


_fresh_bench_database()
runtime.configure()
runtime.ensure_secret_key()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

import httpx  # noqa: E402

logging.getLogger("httpx").setLevel(logging.WARNING)
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.bare_drf import BARE_URL, GROUPS_URL  # noqa: E402
from oms import role_names  # noqa: E402
from oms.models import Instrument, InstrumentKind, Portfolio, RiskLimit  # noqa: E402

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
ORDERS_PATH = "/api/orders/"
BARE_PATH = BARE_URL  # served only by this bench's server
BULK_CONCURRENCY = int(os.environ.get("BENCH_BULK_CONCURRENCY", "2"))


def prepare(*, greek_limbs: bool = True) -> tuple[str, str, list[str]]:
    """Migrate the bench DB; create a bench client, portfolio and limits (all limbs on, sized for the run)."""
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    user, _ = User.objects.get_or_create(username="bench-client")
    user.groups.set([Group.objects.get(name=role_names.API_CLIENT)])
    portfolio, _ = Portfolio.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark book"})
    portfolio.members.add(user)
    RiskLimit.objects.update_or_create(
        portfolio=portfolio,
        defaults=dict(
            max_order_quantity=5_000_000, max_order_notional=10**10, price_collar_pct=10,
            daily_notional_limit=10**15, duplicate_window_seconds=5, max_orders_per_second=1_000_000,
        ),
    )
    token, _ = Token.objects.get_or_create(user=user)
    # Planner statistics as autovacuum keeps them on a running system (this database fills up in seconds).
    _analyze()
    # Orders in restricted instruments would only measure the denial path; so would options at these sizes
    # (thousands of contracts: risk.max_contracts).
    symbols = list(Instrument.objects.filter(restrictions__isnull=True, kind=InstrumentKind.EQUITY).values_list("symbol", flat=True))
    if not greek_limbs:  # the option limbs off everywhere: what a portfolio without them costs
        RiskLimit.objects.filter(portfolio=None).update(max_option_contracts=None, max_net_delta_shares=None, max_net_vega=None)
    return token.key, portfolio.code, symbols


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE oms_order; ANALYZE oms_auditevent; ANALYZE oms_orderhistory")


def group_stats(base: str, token: str, processes: int) -> dict[int, dict]:
    """Each server process's group-commit figures (GET /bench/groups/ on new connections until every process
    has answered): pid -> figures."""
    seen: dict[int, dict] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}) as client:
        for _ in range(200):
            client.cookies.clear()
            answer = client.get(GROUPS_URL, headers={"Connection": "close"}).json()
            seen[answer.pop("pid")] = answer
            if len(seen) >= processes:
                break
    return seen


def groups_between(before: dict[int, dict], after: dict[int, dict]) -> str:
    groups = sum(after[p]["groups"] - before.get(p, {}).get("groups", 0) for p in after)
    orders = sum(after[p]["orders"] - before.get(p, {}).get("orders", 0) for p in after)
    if not groups:
        return "no order went through the group commit (INTAKE_GROUP_COMMIT=0?)"
    return f"{orders:,} orders in {groups:,} transactions, {orders / groups:.1f} per group (largest so far {max(a['largest'] for a in after.values())})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, workers: int, port: int) -> subprocess.Popen:
    # The orders are priced off the market mids seed_demo wrote; no beat runs here to keep them fresh, so the
    # server is told to keep using them (risk still reads them in intake's first round trip, as in production).
    # Its settings add the bare DRF endpoint of the baseline to the product's URLs (bench/bare_drf.py).
    env = dict(os.environ, RISK_PRICE_MAX_AGE_S="86400", DJANGO_SETTINGS_MODULE="bench.bare_settings")
    bindir = Path(sys.executable).parent
    if kind == "gunicorn":
        cmd = [str(bindir / "gunicorn"), "config.wsgi:application", "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--worker-class", os.environ.get("BENCH_WORKER_CLASS", "sync"), "--threads", os.environ.get("BENCH_THREADS", "1"), "--log-level", "warning"]
    else:
        cmd = [*server.command("127.0.0.1", port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def order(portfolio: str, symbols: list[str], prices: dict[str, float], rng: random.Random, run: str, i: int) -> dict:
    sym = rng.choice(symbols)
    return {
        "client_order_id": f"{run}-{i}", "portfolio": portfolio, "instrument": sym,
        "side": rng.choice(["buy", "sell"]), "quantity": rng.randrange(100, 50_000, 100),
        "order_type": "limit", "limit_price": f"{prices[sym] * rng.uniform(0.97, 1.03):.2f}",
        "time_in_force": "day", "urgency": "medium", "strategy": "auto",
    }


class LeanConnection:
    """A minimal keep-alive HTTP/1.1 client connection (the load generator shares the server's 2 cores,
    so it must cost as little CPU per request as possible: httpx costs several times more)."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Token {token}\r\nContent-Type: application/json\r\n"
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1]), payload


async def bench_single(base: str, token: str, payloads: list[dict], path: str = ORDERS_PATH) -> tuple[float, list[float], dict]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    host, port = base.removeprefix("http://").split(":")
    bodies = [json.dumps(p).encode() for p in reversed(payloads)]

    async def worker():
        conn = LeanConnection(host, int(port), token)
        while bodies:
            body = bodies.pop()
            t0 = time.perf_counter()
            status, payload = await conn.post(path, body)
            latencies.append(time.perf_counter() - t0)
            key = status if status < 300 else f"{status} {json.loads(payload).get('code')}"
            statuses[key] = statuses.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - t0, latencies, statuses


@dataclass
class Round:
    """One timed run of single POSTs to one path: rate, latencies, CPU per request by process, answers."""

    rate: float
    latencies: list[float]
    cpu_ms: tuple[float, float, float]  # server, PostgreSQL, load generator
    statuses: dict


def measure_single(base: str, token: str, payloads: list[dict], path: str, servers: list[int]) -> Round:
    # CPU per request, by process: steadier than requests/s on a shared VM, and it says where time goes.
    databases = database_pids()
    cpu0 = (cpu_seconds(servers), cpu_seconds(databases), time.process_time())
    elapsed, lat, statuses = asyncio.run(bench_single(base, token, payloads, path))
    cpu1 = (cpu_seconds(servers), cpu_seconds(databases), time.process_time())
    cpu = tuple((b - a) * 1000 / len(payloads) for a, b in zip(cpu0, cpu1, strict=True))
    return Round(len(payloads) / elapsed, lat, cpu, statuses)


def describe(label: str, rounds: list[Round], unit: str) -> float:
    """Print the median figures of ``rounds``; return the median rate."""
    rate = statistics.median(r.rate for r in rounds)
    lat = [x for r in rounds for x in r.latencies]
    server_ms, db_ms, client_ms = (statistics.median(r.cpu_ms[k] for r in rounds) for k in range(3))
    statuses: dict = {}
    for r in rounds:
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    print(f"  {label}: median {rate:,.0f} {unit}/s ({', '.join(f'{r.rate:,.0f}' for r in rounds)}), "
          f"latency p50 {pct(lat, 50) * 1000:.1f} ms, p99 {pct(lat, 99) * 1000:.1f} ms")
    print(f"    CPU per request: server {server_ms:.2f} ms, PostgreSQL {db_ms:.2f} ms, load generator {client_ms:.2f} ms"
          f" -> at most {os.cpu_count() * 1000 / (server_ms + db_ms + client_ms):,.0f}/s on {os.cpu_count()} cores;"
          f" responses {dict(sorted(statuses.items(), key=str))}")
    return rate


async def bench_bulk(base: str, token: str, batches: list[list[dict]], concurrency: int = 2) -> tuple[float, dict]:
    statuses: dict[int, int] = {}
    queue = list(reversed(batches))
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=120) as client:
        async def worker():
            while queue:
                r = await client.post("/api/orders/bulk/", json=queue.pop())
                for item in r.json()["results"]:
                    key = item["status"] if item["status"] < 300 else f"{item['status']} {item.get('code')}"
                    statuses[key] = statuses.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, statuses


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the process has exited
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def database_pids() -> list[int]:
    """The PostgreSQL processes doing this bench's work: the backends connected to its database (the server's
    pools hold theirs open after the warm-up) and the shared WAL writer, checkpointer and background writer;
    not the backends of other databases on the same server."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')")
        return [pid for (pid,) in cur.fetchall()]


def _pids(*pgrep_args: str) -> list[int]:
    out = subprocess.run(["pgrep", *pgrep_args], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


INTAKE_AIM = 0.6  # issue 18: single-order intake at >= 0.6 of a bare DRF token-auth POST


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["uvicorn", "gunicorn"], default="uvicorn",
                    help="uvicorn (config.server, what `make run` serves) or gunicorn sync workers (config.wsgi)")
    ap.add_argument("--workers", type=int, default=2, help="server processes")
    ap.add_argument("--single", type=int, default=1500, help="single-order POSTs per round (and as many bare ones)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of bare DRF and intake POSTs")
    ap.add_argument("--bulk", type=int, default=40_000, help="orders sent in bulk")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--keep-db", action="store_true", help="reuse the bench database of the last run")
    ap.add_argument("--greek-limbs", choices=["on", "off"], default="on",
                    help="the option limbs (net delta, vega, contracts) seed_demo sets globally: on (every equity order of the "
                         "bench portfolio pays the net-delta check) or off (what a portfolio without them costs)")
    args = ap.parse_args()

    token, portfolio, symbols = prepare(greek_limbs=args.greek_limbs == "on")
    # What a client does: price off the live market mid (GET /api/instruments/ market_price), else the reference.
    prices = {s: float(mid if mid is not None else ref) for s, ref, mid in Instrument.objects.values_list("symbol", "reference_price", "market_price__mid")}
    run = f"B{int(time.time())}"
    rng = random.Random(7)
    port = free_port()
    proc = start_server(args.server, args.workers, port)
    base = f"http://127.0.0.1:{port}"
    try:
        warm = [order(portfolio, symbols, prices, rng, run + "w", i) for i in range(200)]
        asyncio.run(bench_single(base, token, warm, BARE_PATH))
        asyncio.run(bench_single(base, token, warm))
        servers = _pids("-P", str(proc.pid)) or [proc.pid]

        # Alternating (bare first in odd rounds, intake first in even ones), so a slow spell of the shared
        # machine falls on both; each is the same JSON body from the same client at the same concurrency.
        bare: list[Round] = []
        intake: list[Round] = []
        groups_before = group_stats(base, token, args.workers)
        for k in range(args.rounds):
            payloads = [order(portfolio, symbols, prices, rng, f"{run}s{k}-", i) for i in range(args.single)]
            steps = [(BARE_PATH, bare), (ORDERS_PATH, intake)]
            for path, into in steps if k % 2 == 0 else reversed(steps):
                into.append(measure_single(base, token, payloads, path, servers))
        print(f"intake single  server={args.server} workers={args.workers} concurrency={CONCURRENCY}, "
              f"{args.rounds} alternating rounds of {args.single} POSTs each")
        bare_rate = describe(f"bare DRF POST {BARE_PATH}", bare, "requests")
        intake_rate = describe(f"order intake {ORDERS_PATH}", intake, "orders")
        print(f"    group commit: {groups_between(groups_before, group_stats(base, token, args.workers))}")
        ratio = intake_rate / bare_rate
        aim("intake", f"{ratio:.2f} ({intake_rate:,.0f} orders/s against {bare_rate:,.0f} bare POSTs/s; {args.server}, "
            f"{args.workers} processes, {CONCURRENCY} clients)", f">= {INTAKE_AIM}", ratio >= INTAKE_AIM)

        orders = [order(portfolio, symbols, prices, rng, run + "b", i) for i in range(args.bulk)]
        batches = [orders[i:i + args.batch] for i in range(0, len(orders), args.batch)]
        elapsed, statuses = asyncio.run(bench_bulk(base, token, batches, BULK_CONCURRENCY))
        print(f"intake bulk    batches of {args.batch}, {BULK_CONCURRENCY} concurrent")
        print(f"  {len(orders)} orders in {elapsed:.2f}s -> {len(orders) / elapsed:,.0f} orders/s")
        print(f"  item statuses {dict(sorted(statuses.items(), key=str))}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
