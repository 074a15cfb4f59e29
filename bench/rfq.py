"""The RFQ platform's latencies a trader feels: a quote arriving -> on the ladder page, a click -> the fill booked,
and a click on a four-leg package's net quote -> every leg booked.

    python bench/rfq.py [--runs 3] [--quotes 240] [--accepts 100] [--packages 60] [--only push|accept|package]

Runs on its own database (``smart_oms_bench_rfq``, dropped and migrated at the start), the real Redis
(channel layer) and a real ASGI server (uvicorn) (``tests.servers.run_server``: HTTP and websockets, ``config.asgi``) on that
database, with a market clock of its own (10:00 of market day 2) shared with the server. No Celery worker
runs: the providers' simulated answers (``rfq.tasks.provider_respond``) and the windows' close tasks go to a
queue of the bench's own that nobody reads (deleted at the end), so the only quotes are the ones the bench
submits, and nothing closes a request behind its back (windows of 60 s).

* **Quote arrival -> pushed to the browser** (aim: p99 <= 100 ms). For each run, requests for quote are
  created with ``rfq.services.rfq_create`` (four providers each) on working parents built as
  ``bench/ems_live.py`` builds them; a websocket client (a minimal RFC 6455 client on asyncio streams, in
  a thread of its own) connects to ``/ws/rfq/<id>/`` with a trader's session cookie, exactly as the ladder
  page does, and reads its hello; then the bench calls ``rfq.services.quote_submit`` for each provider of
  the request, one quote at a time. Latency = the client receiving the ``rfq.changed`` message that
  carries the quote - the moment just before ``quote_submit`` was called (validation, the transaction,
  the audit row, the commit, the channel layer, the server's consumer and the socket). Also printed: the
  ``quote_submit`` call alone, and commit -> received (the push path alone).
* **Accept -> fill booked** (aim: p99 <= 100 ms). Requests with one live quote each (submitted in-process);
  ``POST /api/rfqs/<id>/accept/ {quote_id}`` over real HTTP (one keep-alive connection, token auth) to the
  server; latency = request start -> response (the fill is committed before the response: the answer is the
  RFQ's detail, status executed, read after commit). Also timed: ``rfq.services.quote_accept`` called
  in-process alone on as many other requests (locks, last look, child order, ``fill_book``, audit, commit).

* **Package accept -> all legs booked** (aim: p99 <= 100 ms). Four-leg packages (``rfq.services.package_create``:
  buy a call spread and a put on ``BRFQP``, sell 40 shares per package; one intake order and one parent per leg)
  with one live net quote each; ``POST /api/rfqs/<id>/accept/`` over HTTP as above; latency = request start ->
  response, the four legs' fills, allocations and positions committed in one transaction before it. Also timed:
  ``quote_accept`` in-process alone on as many other packages.

Figures are per run and the median over runs; the first run warms up (imports, connection pools, plans)
and is shown apart. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import queue
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SMART_OMS_DB_NAME"] = os.environ.get("BENCH_RFQ_DB", "smart_oms_bench_rfq")

from ems.sim.clock import SESSION_US, US  # noqa: E402  (pure Python, no Django)

DAY = 2
# One market clock for this process and the server (both read SIM_ANCHOR / SIM_SPEED from settings).
os.environ["SIM_SPEED"] = os.environ.get("SIM_SPEED", "60")
os.environ["SIM_ANCHOR"] = repr(time.time() - (DAY * SESSION_US + 30 * 60 * US) / (float(os.environ["SIM_SPEED"]) * US))
# Pushes on a channel-layer prefix of its own, shared with the server; tasks to a queue nobody reads.
os.environ["CHANNELS_PREFIX"] = f"bench-rfq-{os.getpid()}"
os.environ["EMS_QUEUE"] = QUEUE = f"bench-rfq-{os.getpid()}"
os.environ.setdefault("API_THROTTLE_USER", "100000/s")

from benchdb import django_on_own_database  # noqa: E402

OWN_DATABASE = django_on_own_database()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from ems.models import Constituent, ParentOrder  # noqa: E402
from ems.selectors import live_clock  # noqa: E402
from ems.services import venues_sync_from_sim  # noqa: E402
from oms.broadcast import publisher  # noqa: E402
from oms.demo import seed_option_chains  # noqa: E402
from oms.models import Instrument, Order, Portfolio  # noqa: E402
from oms.roles import Actor  # noqa: E402
from oms.states import OrderStatus  # noqa: E402
from rfq.models import RFQ, Dissemination, LiquidityProvider  # noqa: E402
from rfq.services import package_create, quote_accept, quote_submit, rfq_create  # noqa: E402
from tests.servers import run_server  # noqa: E402

PROVIDER_ACTOR = Actor.system("rfq.bench_provider")
AIM_MS = 100
RFQ_QUANTITY = 1000
PACKAGE_UNDERLYING = "BRFQP"


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def ms(values: list[float]) -> str:
    return (f"p50 {pct(values, 50) * 1e3:6.1f} ms  p99 {pct(values, 99) * 1e3:6.1f} ms  "
            f"max {max(values) * 1e3:6.1f} ms  (n={len(values)})")


# --- setup ----------------------------------------------------------------------------------------


def prepare(n_instruments: int = 4):
    call_command("migrate", verbosity=0)
    venues_sync_from_sim()
    trader, _ = User.objects.get_or_create(username="bench-rfq-trader")
    trader.groups.add(Group.objects.get_or_create(name="trader")[0])
    pm, _ = User.objects.get_or_create(username="bench-rfq-pm")
    portfolio = Portfolio.objects.get_or_create(code="BRFQ-1", defaults={"name": "RFQ bench"})[0]
    instruments = [Instrument.objects.update_or_create(symbol=f"BRFQ{i}", defaults=dict(
        name=f"RFQ bench {i}", reference_price=Decimal(40 + 20 * i), adv=2_000_000, daily_volatility=Decimal("0.02"),
        spread_bps=Decimal("5"), tick_size=Decimal("0.01"), lot_size=1))[0] for i in range(n_instruments)]
    # Providers that always answer and never reject on last look: every accept executes.
    for k in range(6):
        LiquidityProvider.objects.update_or_create(code=f"BLP{k}", defaults=dict(
            name=f"Bench maker {k}", response_probability=Decimal("1"), last_look_reject_probability=Decimal("0"),
            last_look_tolerance_bps=Decimal("10000"), max_size=10_000_000, partial_probability=Decimal("0"), seed=k))
    # A listed chain for the package bench (buy a call spread and a put, sell the delta hedge in shares).
    Instrument.objects.update_or_create(symbol=PACKAGE_UNDERLYING, defaults=dict(
        name="RFQ bench package underlying", reference_price=Decimal(100), adv=5_000_000, daily_volatility=Decimal("0.02"),
        spread_bps=Decimal("5"), tick_size=Decimal("0.01"), lot_size=1))
    seed_option_chains(datetime.now(UTC).date(), (PACKAGE_UNDERLYING,))
    token = Token.objects.get_or_create(user=trader)[0].key
    client = Client()
    client.force_login(trader)
    return trader, pm, portfolio, instruments, token, f"sessionid={client.cookies['sessionid'].value}"


def make_parent(tag: str, *, user, instrument, portfolio, quantity: int) -> ParentOrder:
    """A working buy parent over one order (as aggregation leaves it), window from now to +3 h."""
    now = live_clock().market_time()
    assert now.day == DAY, "the bench's market clock left its day"
    order = Order.objects.create(client_order_id=f"{tag}-O", source="api:bench-rfq", portfolio=portfolio, instrument=instrument,
                                 side="buy", quantity=quantity, order_type="market", status=OrderStatus.ACCEPTED, created_by=user)
    end = min(SESSION_US, now.t_us + 3 * 3600 * US)
    parent = ParentOrder.objects.create(
        instrument=instrument, side="buy", quantity=quantity, group_key=f"bench-rfq|{tag}", strategy="twap",
        params={"side": "buy", "qty": quantity, "start": now.t_us, "end": end, "lot_size": 1}, selection_reason="bench",
        arrival_price=instrument.reference_price, market_day=DAY, start_us=now.t_us, end_us=end, last_tick_us=now.t_us,
    )
    Constituent.objects.create(parent=parent, order=order, quantity=quantity)
    return parent


def make_rfqs(tag: str, n: int, setup) -> list[RFQ]:
    """``n`` requests of 1,000 shares, spread over a few parents (one per instrument), each sent to four providers."""
    trader, pm, portfolio, instruments, _, _ = setup
    parents = [make_parent(f"{tag}-{i}", user=pm, instrument=ins, portfolio=portfolio, quantity=RFQ_QUANTITY * (n + 1))
               for i, ins in enumerate(instruments)]
    actor = Actor.for_user(trader, "api")
    rfqs = [rfq_create(parent_id=parents[k % len(parents)].pk, actor=actor, quantity=RFQ_QUANTITY, window_s=Decimal("60"),
                       providers=4, source="api", user=trader) for k in range(n)]
    with connection.cursor() as cur:
        cur.execute("ANALYZE rfq_rfq; ANALYZE rfq_quote; ANALYZE rfq_dissemination; ANALYZE ems_parentorder; ANALYZE oms_auditevent")
    return rfqs


def submit(d: Dissemination, rfq: RFQ, k: int):
    """Provider ``d`` answers two-way around the mid at request, ``k`` cents apart from the others."""
    ask = (rfq.mid_at_request * Decimal("1.001")).quantize(Decimal("0.01")) + Decimal(k) / 100
    return quote_submit(reference=d.reference, bid_price=ask - Decimal("0.10"), bid_size=RFQ_QUANTITY, ask_price=ask,
                        ask_size=RFQ_QUANTITY, life_ms=30_000, mid_at_quote=rfq.mid_at_request, actor=PROVIDER_ACTOR)


# --- a websocket client -----------------------------------------------------------------------------


class Socket:
    """A minimal websocket client (RFC 6455: handshake, text frames, close, ping) on asyncio streams, run in
    a thread of its own; every message is stamped (wall time) on arrival and put on ``messages``."""

    def __init__(self, base_url: str, path: str, cookie: str):
        self.messages: queue.Queue = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(base_url, path, cookie), daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise SystemExit(f"websocket did not open: {self._error!r}")

    def _run(self, base_url: str, path: str, cookie: str) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main(base_url, path, cookie))
        except BaseException as exc:  # noqa: BLE001  (reported to the bench's thread)
            self._error = exc
            self._ready.set()

    async def _main(self, base_url: str, path: str, cookie: str) -> None:
        u = urlsplit(base_url)
        reader, self._writer = await asyncio.open_connection(u.hostname, u.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self._writer.write(("\r\n".join([
            f"GET {path} HTTP/1.1", f"Host: {u.netloc}", "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13", f"Origin: {base_url}", f"Cookie: {cookie}"]) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if head.split(b"\r\n")[0].split(b" ")[1] != b"101":
            raise ConnectionError(head[:200])
        self._ready.set()
        while True:
            b0, b1 = await reader.readexactly(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(await reader.readexactly(2 if n == 126 else 8), "big")
            payload = await reader.readexactly(n)
            if opcode == 0x1:
                self.messages.put((time.time(), json.loads(payload)))
            elif opcode == 0x8:
                self.messages.put((time.time(), {"type": "closed", "code": int.from_bytes(payload[:2], "big") if payload else None}))
                return
            elif opcode == 0x9:
                self._send(0xA, payload)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        self._writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self, timeout: float = 10) -> tuple[float, dict]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        def shut():
            self._send(0x8, (1000).to_bytes(2, "big"))
            self._writer.close()
        self._loop.call_soon_threadsafe(shut)
        self._thread.join(5)


# --- 1. quote arrival -> pushed --------------------------------------------------------------------------


def push_run(run: int, args, setup, url: str) -> dict:
    cookie = setup[5]
    n_rfqs = -(-args.quotes // 4)
    rfqs = make_rfqs(f"P{run}-{uuid.uuid4().hex[:6]}", n_rfqs, setup)
    total, submit_call, after_commit, published = [], [], [], []
    missing = 0
    for rfq in rfqs:
        socket = Socket(url, f"/ws/rfq/{rfq.pk}/", cookie)
        _, hello = socket.receive()
        assert hello["type"] == "hello" and hello["rfq"]["id"] == rfq.pk, hello
        for k, d in enumerate(Dissemination.objects.filter(rfq=rfq).order_by("rank")):
            t0 = time.time()
            q = submit(d, rfq, k)
            committed = time.time()
            while True:
                try:
                    t, msg = socket.receive()
                except queue.Empty:
                    missing += 1
                    break
                if msg.get("type") == "rfq.changed" and (msg.get("quote") or {}).get("id") == q.pk:
                    total.append(t - t0)
                    submit_call.append(committed - t0)
                    after_commit.append(t - committed)
                    published.append(t - msg["published_at"])
                    break
        socket.close()
    return {"total": total, "submit": submit_call, "after_commit": after_commit, "published": published, "missing": missing}


def bench_push(args, setup, url: str) -> None:
    print(f"quote arrival -> pushed to the browser: {args.quotes} quotes per run (4 per request), one websocket per request "
          f"(/ws/rfq/<id>/ on the server, session cookie), quote_submit in-process; {args.runs} runs after a warm-up run", flush=True)
    warm = push_run(0, argparse.Namespace(**{**vars(args), "quotes": 40}), setup, url)
    runs = [push_run(r, args, setup, url) for r in range(1, args.runs + 1)]
    print(f"  warm-up run: {ms(warm['total'])}")
    for r, x in enumerate(runs, 1):
        print(f"  run {r}: quote_submit -> received: {ms(x['total'])}" + (f"  !! {x['missing']} never arrived" if x["missing"] else ""))
    p50s = [pct(x["total"], 50) for x in runs]
    p99s = [pct(x["total"], 99) for x in runs]
    print(f"  median over runs: p50 {statistics.median(p50s) * 1e3:.1f} ms, p99 {statistics.median(p99s) * 1e3:.1f} ms "
          f"(aim: p99 <= {AIM_MS} ms)")
    print(f"    of which quote_submit (validate, transaction, audit, commit): {ms([v for x in runs for v in x['submit']])}")
    print(f"    of which commit -> received (channel layer, server, socket):  {ms([v for x in runs for v in x['after_commit']])}")
    print(f"    of which published -> received (Redis, consumer, socket):     {ms([v for x in runs for v in x['published']])}")


# --- 2. accept -> fill booked ------------------------------------------------------------------------------


def quoted_rfqs(tag: str, n: int, setup) -> list[tuple[int, int]]:
    """``n`` requests with one live quote each: (rfq id, quote id)."""
    out = []
    for rfq in make_rfqs(tag, n, setup):
        d = Dissemination.objects.filter(rfq=rfq).order_by("rank").first()
        out.append((rfq.pk, submit(d, rfq, 0).pk))
    return out


def accepts_timed(setup, url: str, over_http: list[tuple[int, int]], in_process: list[tuple[int, int]]) -> dict:
    """Accept each (rfq id, quote id) of ``over_http`` with POST /api/rfqs/<id>/accept/ (one keep-alive connection) and
    each of ``in_process`` with ``quote_accept``; return the latencies of the executed ones and what was not."""
    trader, token = setup[0], setup[4]
    publisher.drain(10)
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}
    http_ms, refused = [], []
    for rfq_id, quote_id in over_http:
        t0 = time.time()
        conn.request("POST", f"/api/rfqs/{rfq_id}/accept/", body=json.dumps({"quote_id": quote_id}), headers=headers)
        response = conn.getresponse()
        body = response.read()
        t1 = time.time()
        # The answer is the RFQ's detail read after commit: executed, and a package's every leg with its price.
        detail = json.loads(body) if response.status == 200 else {}
        if detail.get("status") != "executed" or any(leg["executed_price"] is None for leg in detail["legs"]):
            refused.append((response.status, body[:200]))
            continue
        http_ms.append(t1 - t0)
    conn.close()
    actor = Actor.for_user(trader, "api")
    service = []
    for rfq_id, quote_id in in_process:
        t0 = time.time()
        result = quote_accept(rfq_id=rfq_id, quote_id=quote_id, actor=actor)
        t1 = time.time()
        if result.executed:
            service.append(t1 - t0)
        else:
            refused.append((result.code, result.detail))
    publisher.drain(10)
    return {"http": http_ms, "service": service, "refused": refused}


def accept_run(run: int, args, setup, url: str) -> dict:
    return accepts_timed(setup, url, quoted_rfqs(f"A{run}-{uuid.uuid4().hex[:6]}", args.accepts, setup),
                         quoted_rfqs(f"S{run}-{uuid.uuid4().hex[:6]}", args.accepts, setup))


def quoted_packages(n: int, setup) -> list[tuple[int, int]]:
    """``n`` four-leg packages with one live net quote each (its offer 0.10 over the package's value): (rfq id, quote id)."""
    trader, _, portfolio, _, _, _ = setup
    underlying = Instrument.objects.get(symbol=PACKAGE_UNDERLYING)
    expiry = sorted(set(Instrument.objects.filter(underlying=underlying, is_active=True).values_list("expiry", flat=True)))[1]
    options = {(o.option_type, o.strike): o.symbol for o in Instrument.objects.filter(underlying=underlying, expiry=expiry)}
    legs = [{"instrument": options[("call", Decimal(100))], "side": "buy", "ratio": 1},
            {"instrument": options[("call", Decimal(105))], "side": "sell", "ratio": 1},
            {"instrument": options[("put", Decimal(95))], "side": "buy", "ratio": 1},
            {"instrument": PACKAGE_UNDERLYING, "side": "sell", "ratio": 40}]
    actor = Actor.for_user(trader, "api")
    out = []
    for _ in range(n):
        rfq = package_create(portfolio=portfolio.code, legs=legs, quantity=5, actor=actor, user=trader, window_s=Decimal("60"),
                             providers=4, source="api")
        d = Dissemination.objects.filter(rfq=rfq).order_by("rank").first()
        values = [leg.model_value for leg in rfq.legs.order_by("leg_no")]
        ask = rfq.mid_at_request.quantize(Decimal("0.01")) + Decimal("0.10")
        q = quote_submit(reference=d.reference, bid_price=ask - Decimal("0.20"), bid_size=5, ask_price=ask, ask_size=5, life_ms=30_000,
                         mid_at_quote=rfq.mid_at_request, leg_values=values, actor=PROVIDER_ACTOR)
        out.append((rfq.pk, q.pk))
    return out


def package_run(run: int, args, setup, url: str) -> dict:
    over_http, in_process = quoted_packages(args.packages, setup), quoted_packages(args.packages, setup)
    with connection.cursor() as cur:
        cur.execute("ANALYZE rfq_rfqleg; ANALYZE rfq_rfq; ANALYZE ems_parentorder; ANALYZE oms_order; ANALYZE oms_position")
    return accepts_timed(setup, url, over_http, in_process)


def bench_package(args, setup, url: str) -> None:
    print(f"package accept -> all 4 legs booked: {args.packages} four-leg packages per run accepted over HTTP and {args.packages} "
          f"with quote_accept in-process; {args.runs} runs after a warm-up run", flush=True)
    warm = package_run(0, argparse.Namespace(**{**vars(args), "packages": 10}), setup, url)
    report(warm, [package_run(r, args, setup, url) for r in range(1, args.runs + 1)],
           ("HTTP accept -> every leg booked", "HTTP package accept -> response (4 legs committed)", "quote_accept of a package in-process"))


def bench_accept(args, setup, url: str) -> None:
    print(f"accept -> fill booked: {args.accepts} requests per run accepted over HTTP (POST /api/rfqs/<id>/accept/, token, "
          f"keep-alive) and {args.accepts} with quote_accept in-process; {args.runs} runs after a warm-up run", flush=True)
    warm = accept_run(0, argparse.Namespace(**{**vars(args), "accepts": 20}), setup, url)
    report(warm, [accept_run(r, args, setup, url) for r in range(1, args.runs + 1)],
           ("HTTP request -> response", "HTTP accept -> response (fill committed)", "quote_accept in-process"))


def report(warm: dict, runs: list[dict], names: tuple[str, str, str]) -> None:
    per_run, http_name, service_name = names
    print(f"  warm-up run: HTTP {ms(warm['http'])}")
    for r, x in enumerate(runs, 1):
        print(f"  run {r}: {per_run} {ms(x['http'])};  quote_accept alone {ms(x['service'])}"
              + (f"  !! {len(x['refused'])} not executed: {x['refused'][:2]}" if x["refused"] else ""))
    for name, key in ((http_name, "http"), (service_name, "service")):
        p50s = [pct(x[key], 50) for x in runs]
        p99s = [pct(x[key], 99) for x in runs]
        print(f"  median over runs, {name}: p50 {statistics.median(p50s) * 1e3:.1f} ms, p99 {statistics.median(p99s) * 1e3:.1f} ms"
              f" (aim: p99 <= {AIM_MS} ms)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quotes", type=int, default=240, help="quotes per run (4 per request)")
    ap.add_argument("--accepts", type=int, default=100, help="requests accepted per run (over HTTP, and as many in-process)")
    ap.add_argument("--packages", type=int, default=60, help="four-leg packages accepted per run (over HTTP, and as many in-process)")
    ap.add_argument("--only", choices=["push", "accept", "package"])
    args = ap.parse_args()
    setup = prepare()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          f"(figures scale with it: PostgreSQL, Redis, the server and the bench share the machine)", flush=True)
    connection.close()
    env = {"DB_POOL_MIN_SIZE": "0"}
    try:
        with run_server(env) as (url, log):
            if args.only in (None, "push"):
                bench_push(args, setup, url)
            if args.only in (None, "accept"):
                bench_accept(args, setup, url)
            if args.only in (None, "package"):
                bench_package(args, setup, url)
            errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "Exception inside" in line]
            if errors:
                print(f"  !! the server logged {len(errors)} errors: see {log}")
    finally:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(QUEUE)  # the provider and tick tasks nobody ran
    return 0


if __name__ == "__main__":
    sys.exit(main())
