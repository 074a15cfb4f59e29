"""The Celery app. Workers and beat: ``celery -A config worker`` / ``celery -A config beat``."""

import gc
import os

from celery import Celery
from celery.signals import celeryd_after_setup, setup_logging, worker_process_init, worker_ready

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


@worker_ready.connect  # a solo worker runs its tasks in this process
@worker_process_init.connect  # each child of a prefork worker
def _freeze_startup_heap(**kwargs) -> None:
    # As config/wsgi.py does: what is loaded at start-up lives as long as the process; out of the cyclic
    # collector's full scans, which a task allocating many objects (an aggregation cycle of 10,000 orders)
    # otherwise triggers again and again over the whole heap (measured: 140-300 ms of a 1 s cycle, 20-50 ms frozen).
    gc.freeze()
