from django.core.management.base import BaseCommand

from oms.demo import seed_demo


class Command(BaseCommand):
    help = "Create or refresh the demo instruments, venues, portfolios, users and API token (idempotent)."

    def handle(self, *args, **options):
        info = seed_demo()
        self.stdout.write("Demo logins (username / password / role):")
        for username, role, password in info["accounts"]:
            self.stdout.write(f"  {username:<11} {password:<22} {role}")
        self.stdout.write(f"API client '{info['api_client']}' token: {info['api_token']}")
