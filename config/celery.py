import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("rollcall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Sub-packages with their own tasks module (Account Manager jobs).
app.autodiscover_tasks(["provisioning.contacts"], related_name="tasks")
# Task modules that are not an app's own tasks.py.
app.autodiscover_tasks(["provisioning.upload"])
