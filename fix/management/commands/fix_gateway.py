import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from fix.engine import GatewayError
from fix.gateway import DEFAULT_PORT, gateway_build, session_configs, session_keys_parse
from fix.order_entry import OrderEntry


class Command(BaseCommand):
    help = (
        "Run the FIX 4.4 gateway (QuickFIX engine): accepts the sessions of `fix_session list` (or those of --sessions) "
        f"on --host (default 127.0.0.1) and --port (default {DEFAULT_PORT}). A session is served by one gateway at a "
        "time: a gateway asked for a session another serves does not start. SIGTERM or Ctrl-C logs the sessions out "
        "and stops the engine."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--host", default=None,
                            help="the address to listen on (default FIX_GATEWAY_HOST, 127.0.0.1: this machine only; 0.0.0.0: every interface)")
        parser.add_argument("--sessions", default=None, metavar="OURS:THEIRS[,OURS:THEIRS...]",
                            help="serve only these sessions (default: every session in the database)")

    def handle(self, *args, port, host, sessions, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port {port}: not a TCP port")
        try:
            only = session_keys_parse(sessions) if sessions is not None else None
            configs = session_configs(only=only)
        except GatewayError as exc:
            raise CommandError(str(exc))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not configs:
            # Not an error: `make run` keeps running without FIX sessions (it stops everything when one process exits).
            self.stdout.write("No FIX sessions: add one with `manage.py fix_session add`, then restart the gateway")
            stop.wait()
            return
        try:
            gateway = gateway_build(port=port, handler=OrderEntry(), host=host, sessions=only)
            gateway.start()
        except GatewayError as exc:
            raise CommandError(str(exc))
        served = ", ".join(f"{c.ours}->{c.theirs}" for c in gateway.sessions)
        self.stdout.write(f"FIX gateway listening on {gateway.host}:{port} ({len(gateway.sessions)} sessions: {served})")
        try:
            while not stop.wait(1.0) and gateway.is_running():
                pass
        finally:
            # Returns once the engine's thread and the worker are gone: the process never exits with them running.
            gateway.stop()
        if gateway.lease_lost:
            raise CommandError("The FIX gateway lost its lease on its sessions (its database connection) and stopped: "
                               "another gateway may serve them now")
        if not stop.is_set():
            raise CommandError("The FIX engine's thread ended on its own (see the log above); gateway stopped")
        self.stdout.write("FIX gateway stopped")
