"""Each school's nightly work: its MIS sync when its night has come, its leaver timers and its purges.

The scheduler's tick (every 15 minutes) sends each active school's work as a Celery task of its own, for
every school, whether or not it syncs nightly; one school's failure is recorded on that school (its
dashboard shows it), logged, and never holds up another's.
"""

import zoneinfo
from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone
from django_scopes import scope
from structlog.contextvars import bound_contextvars

from provisioning.models import SchoolNightly, SyncRun
from provisioning.sync.feed_intake import newest_feed
from provisioning.sync.fingerprint import stale_changes_fold
from provisioning.sync.leavers import leaver_timers
from provisioning.sync.oneroster_rest import roster_pull_nightly
from provisioning.sync.policy import policy_for, policy_lock
from provisioning.sync.services import sync_start
from provisioning.sync.starter_slips import credentials_purge
from provisioning.upload.services import upload_credentials_purge
from tenancy.models import School

log = structlog.stdlib.get_logger(__name__)


def scheduled_tick(*, now: datetime | None = None) -> None:
    """Every 15 minutes: each active school's nightly work (school_nightly) is sent as a task of its own,
    whether or not the school syncs nightly: a school that uploads or syncs by hand has leavers too. One
    school's failure is recorded on that school and never holds up another's."""
    from provisioning.tasks import school_nightly_task  # cycle: the task module imports this module

    now = now or timezone.now()
    school_ids = list(School.objects.filter(is_active=True).order_by("name", "pk").values_list("pk", flat=True))
    for school_id in school_ids:
        school_nightly_task.delay(str(school_id), now.isoformat())
    stale_changes_fold()


def school_nightly_run(*, school_id, now: datetime) -> SyncRun | None:
    """One school's nightly work, in its scope. A failure is recorded on the school (its dashboard shows
    it) and logged, and goes no further: the other schools' tasks, and under an eager Celery the tick
    itself, carry on. Idempotent, so a task delivered twice does no harm."""
    school = School.objects.filter(pk=school_id, is_active=True).first()
    if school is None:
        return None
    with bound_contextvars(school=school.slug), scope(school=school):
        try:
            run = school_nightly(school=school, now=now)
        except Exception as exc:  # noqa: BLE001 - recorded on the school, whose people can act on it
            log.exception("nightly_work_failed", school=school.slug, error=str(exc))
            _nightly_failed(school=school, message=_message(exc))
            return None
        SchoolNightly.objects.filter(school=school, failed_at__isnull=False).update(failed_at=None, failure="")
        return run


def _tz(school: School):
    try:
        return zoneinfo.ZoneInfo(school.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _night_due(school: School, policy, now: datetime) -> bool:
    """The school's night has come and tonight's scheduled run has not been made yet."""
    local = timezone.localtime(now, _tz(school))
    if local.time() < policy.nightly_time:
        return False
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return not SyncRun.objects.filter(
        school=school, trigger=SyncRun.Trigger.SCHEDULED, created_at__gte=midnight
    ).exists()


def _pull_school(school: School, now: datetime) -> None:
    """A school whose feed comes from a OneRoster server has it pulled first, outside the lock (the server may
    take minutes); the plan below then starts from it like from a pushed feed."""
    if _night_due(school, policy_for(school), now):
        roster_pull_nightly(school=school, now=now)


@transaction.atomic
def _tick_school(school: School, now: datetime) -> SyncRun | None:
    policy = policy_lock(school)
    if not _night_due(school, policy, now):
        return None
    feed = newest_feed(school)
    if feed is None or feed.applied_at is not None:
        return SyncRun.objects.create(
            school=school, trigger=SyncRun.Trigger.SCHEDULED, state=SyncRun.State.NO_FEED, dry_run=False,
            message="No new feed since the last synchronisation.",
        )  # fmt: skip
    return sync_start(school=school, actor=None, trigger=SyncRun.Trigger.SCHEDULED, feed=feed)


class NightlyFailed(Exception):
    """A part of a school's nightly work failed (the others still ran)."""


def school_nightly(*, school: School, now: datetime) -> SyncRun | None:
    """The school's sync when its night has come (nightly sync on), its leaver timers and its purges.
    Each part runs, and commits, even when one before it failed; their failures are raised together."""

    def sync():
        if not policy_for(school).nightly_enabled:
            return None
        _pull_school(school, now)
        return _tick_school(school, now)

    def timers():
        leaver_timers(school=school, today=timezone.localtime(now, _tz(school)).date())

    def purges():
        credentials_purge(school=school)
        upload_credentials_purge(school=school)

    run, failures, first = None, [], None
    for name, part in (("MIS sync", sync), ("Leaver timers", timers), ("Purges", purges)):
        try:
            result = part()
        except Exception as exc:  # noqa: BLE001 - the school's other parts still run
            failures.append(f"{name}: {_message(exc)}")
            first = first or exc
        else:
            if part is sync:
                run = result
    if failures:
        raise NightlyFailed("; ".join(failures)) from first
    return run


def _message(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    return (" ".join(messages) if messages else str(exc) or type(exc).__name__)[:1000]


def _nightly_failed(*, school: School, message: str) -> None:
    SchoolNightly.objects.update_or_create(school=school, defaults={"failed_at": timezone.now(), "failure": message})
