"""The Celery app. Workers and beat: ``celery -A config worker`` / ``celery -A config beat``."""

import os

from celery import Celery
from celery.signals import celeryd_after_setup, setup_logging

from config import runtime

runtime.configure()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smart_oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    # Celery would replace the root handlers with its own (everything on the console, -l sets the level):
    # workers and beat log as every process does instead (config/logs.py: a quiet console, the full file).
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@celeryd_after_setup.connect
def _consume_own_queue(sender: str, instance, **kwargs) -> None:
    # Every worker also takes the ticks of the instrument-days it owns from a queue of its own (ems.services.ticks).
    from ems.services.ticks import worker_queue

    instance.app.amqp.queues.select_add(worker_queue(sender))
