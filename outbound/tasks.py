"""Celery tasks of the SCIM push: each loads a run's id and calls one service. An outage (network, 5xx, 429)
leaves the run waiting and the task is retried with back-off (30 s, 1 min, 2 min, ...); the run's own attempt
count decides when to give up, so a redelivered message never pushes twice (the run is claimed first)."""

from celery import shared_task

from outbound import services


def _run(task, run_id: str) -> None:
    try:
        services.run_work(run_id)
    except services.RetryLater as wait:
        raise task.retry(countdown=wait.countdown, max_retries=None) from None


@shared_task(name="outbound.push", bind=True)
def push_task(self, run_id: str) -> None:
    _run(self, run_id)


@shared_task(name="outbound.reconcile_plan", bind=True)
def reconcile_plan_task(self, run_id: str) -> None:
    _run(self, run_id)


@shared_task(name="outbound.reconcile_apply", bind=True)
def reconcile_apply_task(self, run_id: str) -> None:
    _run(self, run_id)


@shared_task(name="outbound.sweep")
def sweep_task() -> None:
    """Every few minutes: a push for each service whose SCIM push is on (only what changed is sent)."""
    services.sweep()


@shared_task(name="outbound.push_for_accounts")
def push_for_accounts_task(account_ids: list) -> None:
    """Soon after a person was locked out, un-approved, revoked or erased: the services concerned are pushed."""
    services.push_for_accounts(account_ids=account_ids)
