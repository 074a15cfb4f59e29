from django.core.management.base import BaseCommand, CommandError

from oms.services import audit_verify


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; print OK or the first broken link (exit 1 if broken)."

    def handle(self, *args, **options):
        result = audit_verify()
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"OK: {result.checked} audit events, chain intact"))
            return
        raise CommandError(f"BROKEN at event #{result.broken_seq}: {result.problem} ({result.checked} events verified before it)")
