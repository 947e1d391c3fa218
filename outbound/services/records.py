"""What every stage writes on its run: its end, its progress (the heartbeat too) and the exchanges it made."""

from collections import Counter

from django.utils import timezone

from outbound import scim
from outbound.models import ScimExchange, ScimRun


class RetryLater(Exception):
    """The run stopped on an outage and waits to be retried after `countdown` seconds."""

    def __init__(self, countdown: int):
        super().__init__(countdown)
        self.countdown = countdown


def run_finish(run: ScimRun, *, state: str, error: str = "", counts: dict | None = None) -> None:
    run.state, run.error, run.finished_at = state, error, timezone.now()
    if counts is not None:
        run.counts = counts
    run.save(update_fields=["state", "error", "finished_at", "counts", "plan", "progress_done", "progress_total"])


def run_progress(run: ScimRun, *, done: int, total: int, counts: Counter) -> None:
    run.progress_done, run.progress_total, run.counts = done, total, dict(counts)
    ScimRun.objects.filter(pk=run.pk).update(
        progress_done=done, progress_total=total, counts=run.counts, heartbeat_at=timezone.now()
    )


def exchanges_record(run: ScimRun, connection: scim.ScimConnection, account_id=None) -> None:
    if connection.recorded:
        ScimExchange.objects.bulk_create(
            ScimExchange(
                target_id=run.target_id, run=run, account_id=account_id, method=x.method[:10], path=x.path,
                status=x.status, sent=x.sent, answered=x.answered,
            )
            for x in connection.recorded
        )  # fmt: skip
        connection.recorded.clear()
