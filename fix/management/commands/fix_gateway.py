import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from fix.engine import GatewayError
from fix.gateway import DEFAULT_PORT, gateway_build, session_configs
from fix.order_entry import OrderEntry


class Command(BaseCommand):
    help = (
        "Run the FIX 4.4 gateway (QuickFIX engine): accepts the sessions of `fix_session list` on --host "
        f"(default 127.0.0.1) and --port (default {DEFAULT_PORT}). SIGTERM or Ctrl-C logs the sessions out and stops the engine."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--host", default=None,
                            help="the address to listen on (default FIX_GATEWAY_HOST, 127.0.0.1: this machine only; 0.0.0.0: every interface)")

    def handle(self, *args, port, host, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port {port}: not a TCP port")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not session_configs():
            # Not an error: `make run` keeps running without FIX sessions (it stops everything when one process exits).
            self.stdout.write("No FIX sessions: add one with `manage.py fix_session add`, then restart the gateway")
            stop.wait()
            return
        gateway = gateway_build(port=port, handler=OrderEntry(), host=host)
        try:
            gateway.start()
        except GatewayError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"FIX gateway listening on {gateway.host}:{port} ({len(gateway.sessions)} sessions)")
        try:
            while not stop.wait(1.0) and gateway.is_running():
                pass
        finally:
            # Returns once the engine's thread and the worker are gone: the process never exits with them running.
            gateway.stop()
        if not stop.is_set():
            raise CommandError("The FIX engine's thread ended on its own (see the log above); gateway stopped")
        self.stdout.write("FIX gateway stopped")
