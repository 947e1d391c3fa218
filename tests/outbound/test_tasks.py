"""The Celery tasks: named <app>.<task>, each only loads the run and calls the service; an outage is retried by
Celery until the run's attempts are used up."""

import pytest
from celery.exceptions import Retry

from outbound import tasks
from outbound.models import ScimRun
from tests.factories import member


def test_the_tasks_are_named_by_their_app():
    names = {t.name for t in (tasks.push_task, tasks.reconcile_plan_task, tasks.reconcile_apply_task, tasks.sweep_task)}
    assert names == {"outbound.push", "outbound.reconcile_plan", "outbound.reconcile_apply", "outbound.sweep"}


class _Task:
    """Stands in for the bound task: records the back-off Celery was asked for (no broker in the tests)."""

    def __init__(self):
        self.countdowns = []

    def retry(self, *, countdown, max_retries):
        self.countdowns.append(countdown)
        return Retry()


def test_an_outage_is_retried_with_back_off_until_the_run_gives_up(
    school_a, service_of, target_for, downstream, settings
):
    settings.SCIM_PUSH_RETRIES = 3
    target = target_for(service_of(school_a.organisation), downstream)
    target.endpoint = "http://127.0.0.1:9/v2"
    target.save()
    member(school_a, "eo", username="eo.kim")
    run = ScimRun.objects.create(target=target)
    task = _Task()

    for _ in range(2):
        with pytest.raises(Retry):
            tasks._run(task, str(run.pk))
    tasks._run(task, str(run.pk))  # the third attempt: given up, recorded, not raised

    assert task.countdowns == [30, 60]
    run.refresh_from_db()
    assert run.state == ScimRun.State.FAILED and run.attempts == 3


def test_the_push_task_pushes(school_a, service_of, target_for, downstream):
    target = target_for(service_of(school_a.organisation), downstream)
    member(school_a, "eo", username="eo.kim")
    run = ScimRun.objects.create(target=target)
    tasks.push_task.delay(str(run.pk))
    assert set(downstream.users()) == {"eo.kim"}
