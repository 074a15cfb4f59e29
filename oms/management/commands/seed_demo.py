"""``manage.py seed_demo``: each installed app seeds its own demo data, in INSTALLED_APPS order.

An app takes part by defining ``seed_demo()`` in its ``demo`` module. INSTALLED_APPS lists the apps in
their dependency order (oms, ems, rfq), so each part finds what it builds on (the EMS's market prices need
the OMS's instruments). The OMS never imports a higher app: the parts are found through ``django.apps``.
"""

from collections.abc import Callable, Iterator
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule


def demo_seeders() -> Iterator[tuple[str, Callable[[], object]]]:
    """(app label, its ``demo.seed_demo``) for every installed app that has one, in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "demo"):
            seed = getattr(import_module(f"{config.name}.demo"), "seed_demo", None)
            if seed is not None:
                yield config.label, seed


class Command(BaseCommand):
    help = "Create or refresh the demo instruments, venues, portfolios, users and API token (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            seeded = {label: seed() for label, seed in demo_seeders()}
        info = seeded["oms"]  # the OMS's part returns the logins and the API token to print
        self.stdout.write("Demo logins (username / password / role):")
        for username, role, password in info["accounts"]:
            self.stdout.write(f"  {username:<11} {password:<22} {role}")
        self.stdout.write(f"API client '{info['api_client']}' token: {info['api_token']}")
