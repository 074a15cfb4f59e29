from django.core.management.base import BaseCommand

from ems.demo import seed_demo_orders


class Command(BaseCommand):
    help = "Submit the demo orders of the current market day through the OMS intake (idempotent per day)."

    def handle(self, *args, **options):
        n = seed_demo_orders()
        self.stdout.write(f"Demo orders submitted: {n} (the EMS aggregates and works them; see /desk/execution/)")
