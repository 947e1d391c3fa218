import os

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

from config.logs import bind_task_context, unbind_task_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The embedded broker (filesystem://) writes each message whole before a worker can see it (config/broker.py).
TRANSPORT_ALIASES["filesystem"] = "config.broker:Transport"

app = Celery("rollcall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Sub-packages with their own tasks module (Account Manager jobs).
app.autodiscover_tasks(["provisioning.contacts"], related_name="tasks")
# Task modules that are not an app's own tasks.py.
app.autodiscover_tasks(["provisioning.upload"])


@signals.setup_logging.connect
def _log_like_the_web_server(**_kwargs):
    """Worker and beat log through settings.LOGGING (structlog's formatter) instead of Celery's own
    handlers, so their lines are JSON in production too. LOG_LEVEL sets the level, not --loglevel."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# Tokens of the tasks running now, by task id: a thread pool runs several at once.
_task_log_tokens: dict[str, dict] = {}


@signals.task_prerun.connect
def _bind_task(task_id=None, task=None, **_kwargs):
    _task_log_tokens[task_id] = bind_task_context(task_id=task_id, task_name=task.name)


@signals.task_postrun.connect
def _unbind_task(task_id=None, **_kwargs):
    tokens = _task_log_tokens.pop(task_id, None)
    if tokens is not None:
        unbind_task_context(tokens)


@signals.task_postrun.connect
def _drop_broken_or_old_connections(task=None, **_kwargs):
    """With CELERY_DB_REUSE_MAX (settings) Celery keeps connections between tasks without looking at them:
    drop, as Django does after a request, one that outlived CONN_MAX_AGE or is left unusable by an error."""
    if task is not None and not getattr(task.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()
