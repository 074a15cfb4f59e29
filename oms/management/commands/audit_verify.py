from django.core.management.base import BaseCommand, CommandError

from oms.services import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail: the hash chain written before the sealer against every signed checkpoint (table "
        "and file), the Merkle tree against its signed heads, the seal bound and every order's creation event; "
        "print OK or what broke (exit 1 if broken). An intact chain whose head moved gets a new checkpoint."
    )

    def handle(self, *args, **options):
        result = audit_verify()
        good = result.last_good_checkpoint
        anchor = (
            f"last good checkpoint #{good.id}: event #{good.seq} at {good.created_at:%Y-%m-%d %H:%M:%S} UTC"
            if good else "no checkpoint reached"
        )
        if result.ok:
            written = result.checkpoint_written
            self.stdout.write(self.style.SUCCESS(
                f"OK: {result.events} audit events intact: {result.tree_size} sealed in the Merkle tree under "
                f"{result.tree_heads} signed head(s), {result.unsealed} awaiting the sealer; the hash chain written before the "
                f"tree: {result.checked} events, {result.checkpoints} checkpoint(s) reached, {anchor}"
            ))
            if written:
                self.stdout.write(f"checkpoint #{written.id} written: event #{written.seq} at {written.created_at:%Y-%m-%d %H:%M:%S} UTC")
            return
        for p in result.problems[1:]:
            self.stderr.write(f"  also {p.code}{f' at #{p.seq}' if p.seq else ''}: {p.detail}")
        if result.problem_count > len(result.problems):
            self.stderr.write(f"  ... {result.problem_count - len(result.problems)} more problem(s)")
        self.stderr.write(f"  {result.not_signed}")
        where = f" at event #{result.broken_seq}" if result.broken_seq else ""
        raise CommandError(
            f"BROKEN ({result.code}){where}: {result.problem} ({result.checked} events verified before it; {anchor})"
        )
