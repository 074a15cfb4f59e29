"""The Celery app. Workers and beat: ``celery -A config worker`` / ``celery -A config beat``."""

import os

from celery import Celery

from config import runtime

runtime.configure()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smart_oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
