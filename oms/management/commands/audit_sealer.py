import logging
import signal

from django.core.management.base import BaseCommand

from oms.services.audit_seal import audit_sealer_serve

log = logging.getLogger("oms.audit")


class Command(BaseCommand):
    help = (
        "Run the audit sealer: link committed audit events into the Merkle tree and sign a tree head, looking every "
        "AUDIT_SEAL_POLL_S. A second sealer started meanwhile stands by and takes over if the first stops. "
        "SIGTERM or Ctrl-C: finish the seal under way and exit."
    )

    def handle(self, *args, **options):
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("audit sealer started")
        audit_sealer_serve(stop=lambda: bool(stopping))
        log.info("audit sealer stopped")
