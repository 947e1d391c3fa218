"""Each school's nightly work: its MIS sync when its night has come, its leaver timers and its purges.

The scheduler's tick (every 15 minutes) sends each active school whose night has come, and whose night was
not sent yet, one Celery task of its own (a school whose night failed is sent again at the next tick),
whether or not it syncs nightly: its leaver timers and purges ride the same task. The task runs the school's
sync job itself rather than sending a second task for it. One school's failure is recorded on that school
(its dashboard shows it, and support staff's progress of the night), logged, and never holds up another's.
"""

import time as clock
import zoneinfo
from datetime import datetime
from functools import partial

import structlog
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from structlog.contextvars import bound_contextvars

from provisioning.models import Feed, RosterSource, SchoolNightly, SyncPolicy, SyncRun
from provisioning.sync import services
from provisioning.sync.feed_intake import newest_feeds
from provisioning.sync.fingerprint import stale_changes_fold
from provisioning.sync.leavers import PERSON_TYPES, grace_cutoffs, leaver_timers, leavers_past_grace
from provisioning.sync.oneroster_rest import roster_pull_nightly
from provisioning.sync.policy import policy_for, policy_lock
from provisioning.sync.services import SUPERSEDED_BY_A_NEWER_RUN, sync_start_tonight
from provisioning.sync.starter_slips import credentials_purge, credentials_purge_candidates
from provisioning.upload.services import upload_credentials_purge, upload_credentials_purge_candidates
from tenancy.compiled_reads import CompiledRead
from tenancy.models import Job, School
from tenancy.tasks import run_claimed_job, run_school_job

log = structlog.stdlib.get_logger(__name__)
State = SchoolNightly.State
DEFAULT_NIGHTLY_TIME = SyncPolicy._meta.get_field("nightly_time").default


def scheduled_tick(*, now: datetime | None = None) -> int:
    """Every 15 minutes: each active school whose night has come and was not sent yet gets its nightly work
    (school_nightly) as a task of its own, whether or not the school syncs nightly: a school that uploads or
    syncs by hand has leavers too. Returns how many were sent."""
    from provisioning.tasks import school_nightly_task  # cycle: the task module imports this module

    now = now or timezone.now()
    due = schools_due(now=now)
    for school_id in due:
        school_nightly_task.delay(str(school_id), now.isoformat())
    stale_changes_fold()
    return len(due)


def schools_due(*, now: datetime) -> list:
    """The active schools whose night has come (their policy's nightly time, in their time zone) and was
    not sent yet, or whose night failed; marked Waiting for that night before their tasks are sent, so the
    next tick does not send them again. Three reads over every school, whatever their number."""
    with scopes_disabled():  # the tick is about every school: which of them are due
        schools = list(School.objects.filter(is_active=True).order_by("name", "pk").values_list("pk", "time_zone"))
        times = dict(SyncPolicy.objects.values_list("school_id", "nightly_time"))
        sent = {
            school_id: (night, state)
            for school_id, night, state in SchoolNightly.objects.values_list("school_id", "night", "state")
        }
        due = []
        for school_id, time_zone in schools:
            local = timezone.localtime(now, _zone(time_zone))
            if local.time() < times.get(school_id, DEFAULT_NIGHTLY_TIME):
                continue
            night, state = sent.get(school_id, (None, ""))
            if night != local.date() or state == State.FAILED:
                due.append((school_id, local.date()))
        SchoolNightly.objects.bulk_create(
            [SchoolNightly(school_id=school_id, night=night, state=State.WAITING, sent_at=now) for school_id, night
             in due],
            update_conflicts=True, unique_fields=["school"],
            update_fields=["night", "state", "sent_at", "started_at", "finished_at", "seconds"],
            batch_size=1000,
        )  # fmt: skip
    return [school_id for school_id, _ in due]


def school_nightly_run(*, school_id, now: datetime) -> SyncRun | None:
    """One school's nightly work, in its scope. A failure is recorded on the school (its dashboard shows
    it) and logged, and goes no further: the other schools' tasks, and under an eager Celery the tick
    itself, carry on. Idempotent, so a task delivered twice does no harm."""
    school, policy = _school_read(school_id)
    if school is None:
        return None
    with bound_contextvars(school=school.slug), scope(school=school):
        started = clock.perf_counter()
        SchoolNightly.objects.filter(school=school).update(state=State.RUNNING, started_at=timezone.now())
        try:
            run = school_nightly(school=school, now=now, policy=policy)
        except Exception as exc:  # noqa: BLE001 - recorded on the school, whose people can act on it
            log.exception("nightly_work_failed", school=school.slug, error=str(exc))
            _nightly_failed(school=school, message=_message(exc), seconds=clock.perf_counter() - started)
            return None
        guarded = run is not None and run.state == SyncRun.State.NEEDS_CONFIRMATION
        _night_finished(school, state=State.GUARDED if guarded else State.DONE, failed_at=None, failure="",
                        seconds=clock.perf_counter() - started)  # fmt: skip
        return run


def _night_finished(school: School, **fields) -> None:
    """One UPDATE of the row the tick made; a row only for a school's task run without a tick before it."""
    fields["finished_at"] = timezone.now()
    if not SchoolNightly.objects.filter(school=school).update(**fields):
        SchoolNightly.objects.create(school=school, **fields)


def _zone(name: str):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _tz(school: School):
    return _zone(school.time_zone)


def _night_due(school: School, policy, now: datetime) -> tuple[bool, bool, bool]:
    """(the school's night has come and tonight's scheduled run has not been made yet, the school never applied
    a run, a plan waits for Apply), in one query: every school asks all three every night."""
    return _night_and_feed(school, policy, now, feed=False)[0]


def _night_and_feed(school: School, policy, now: datetime, *, feed=True) -> tuple[tuple[bool, bool, bool], Feed | None]:
    """_night_due's three answers, and (with `feed`) the school's newest accepted feed, in one query: asked on the
    newest feed's row, or on the school's when it has none."""
    local = timezone.localtime(now, _tz(school))
    if local.time() < policy.nightly_time:
        return (False, False, False), None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if feed:
        for newest in _NEWEST_FEED_AND_NIGHT(school_id=school.pk, midnight=midnight):
            newest.school = school
            return (not newest.made, not newest.applied, newest.waiting), newest
    ((made, applied, waiting),) = _NIGHT(school_id=school.pk, midnight=midnight)
    return (not made, not applied, waiting), None


def _night_questions(outer: str, midnight: datetime) -> dict:
    runs = SyncRun.objects.filter(school=OuterRef(outer))
    return {
        "made": Exists(runs.filter(trigger=SyncRun.Trigger.SCHEDULED, created_at__gte=midnight)),
        "applied": Exists(runs.filter(state=SyncRun.State.APPLIED)),
        "waiting": Exists(runs.filter(state__in=SUPERSEDED_BY_A_NEWER_RUN)),
    }


# Every school asks these every night: compiled once (tenancy.compiled_reads).
_NEWEST_FEED_AND_NIGHT = CompiledRead(
    "the newest feed and tonight's questions",
    lambda school_id, midnight: newest_feeds(school_id).annotate(**_night_questions("school", midnight))[:1],
    school_id="uuid",
    midnight="datetime",
)
_NIGHT = CompiledRead(
    "tonight's questions",
    lambda school_id, midnight: (
        School.objects.filter(pk=school_id)
        .annotate(**_night_questions("pk", midnight))
        .values_list("made", "applied", "waiting")
    ),
    school_id="uuid",
    midnight="datetime",
)


def _pull_school(school: School, policy, now: datetime) -> None:
    """A school whose feed comes from a OneRoster server has it pulled first, outside the lock (the server may
    take minutes); the plan below then starts from it like from a pushed feed."""
    if policy.pulls and _night_due(school, policy, now)[0]:
        roster_pull_nightly(school=school, now=now)


def _school_read(school_id) -> tuple[School | None, SyncPolicy | None]:
    """The active school and its policy (as _policy_read reads it), in one query; the policy None when the school
    has none yet (made on first use by _policy_read)."""
    with scopes_disabled():  # the school is not known until read: its policy row is read with it, by its key
        for policy in _SCHOOL_AND_POLICY(school_id=school_id):
            return policy.school, policy
        return School.objects.filter(pk=school_id, is_active=True).first(), None


_SCHOOL_AND_POLICY = CompiledRead(
    "the school and its policy",
    lambda school_id: (
        SyncPolicy.objects.filter(school_id=school_id, school__is_active=True)
        .select_related("school")
        .annotate(pulls=Exists(RosterSource.objects.filter(school=OuterRef("school"), enabled=True)))[:1]
    ),
    school_id="uuid",
)


def _policy_read(school: School) -> SyncPolicy:
    """The school's policy, and whether its feed is pulled from a OneRoster server (`pulls`), in one query."""
    pulling = RosterSource.objects.filter(school=OuterRef("school"), enabled=True)
    policy = SyncPolicy.objects.filter(school=school).annotate(pulls=Exists(pulling)).first()
    if policy is None:  # made with its defaults on first use
        policy = policy_for(school)
        policy.pulls = pulling.filter(school=school).exists()
    return policy


@transaction.atomic
def _tick_school(school: School, now: datetime) -> SyncRun | None:
    policy = policy_lock(school)
    (due, first, waiting), feed = _night_and_feed(school, policy, now)
    if not due:
        return None
    if feed is None or feed.applied_at is not None:
        return SyncRun.objects.create(
            school=school, trigger=SyncRun.Trigger.SCHEDULED, state=SyncRun.State.NO_FEED, dry_run=False,
            message="No new feed since the last synchronisation.",
        )  # fmt: skip
    # Its job is run by this task (_sync_tonight), not sent as a task of its own: one dispatch per school.
    return sync_start_tonight(school=school, feed=feed, first=first, supersede=waiting)


def _sync_tonight(school: School, now: datetime) -> SyncRun | None:
    """Tonight's sync: started if due, and its job, claimed as it was started, run here. A task delivered again
    (its worker lost) finds tonight's run started but its job unfinished, and runs the job again: the job's
    claim decides whether it may (tenancy.services.job_claim). A run that failed fails the school's night."""
    run = _tick_school(school, now)
    if run is not None and run.job_id is not None:
        run.job.school = school  # the same rows, held here: the job's work reads neither again
        run_claimed_job(run.job, partial(services.sync_run_job, run=run))
    else:
        run = run or _unfinished_run(school, now)
        if run is None or run.job_id is None:
            return run
        run_school_job(str(school.pk), str(run.job_id), services.sync_run_job)
        run.refresh_from_db()
    if run.state in (SyncRun.State.FAILED, SyncRun.State.SUPERSEDED):
        raise NightlyFailed(run.message or "the synchronisation failed.")
    return run


def _unfinished_run(school: School, now: datetime) -> SyncRun | None:
    midnight = timezone.localtime(now, _tz(school)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        SyncRun.objects.filter(school=school, trigger=SyncRun.Trigger.SCHEDULED, created_at__gte=midnight)
        .filter(job__state__in=[Job.State.QUEUED, Job.State.RUNNING])
        .first()
    )


class NightlyFailed(Exception):
    """A part of a school's nightly work failed (the others still ran)."""


def school_nightly(*, school: School, now: datetime, policy: SyncPolicy | None = None) -> SyncRun | None:
    """The school's sync when its night has come (nightly sync on), its leaver timers and its purges.
    Each part runs, and commits, even when one before it failed; their failures are raised together.
    `policy` as _school_read gives it, when the caller read it with the school."""

    policy = policy or _policy_read(school)  # read once for the parts below; the sync locks it again
    today = timezone.localtime(now, _tz(school)).date()
    asked: dict[str, bool] = {}

    def due() -> dict[str, bool]:  # asked once, after the sync, by the first part that needs it
        if not asked:
            asked.update(_due_after_sync(school, policy, today))
        return asked

    def sync():
        if not policy.nightly_enabled:
            return None
        _pull_school(school, policy, now)
        return _sync_tonight(school, now)

    def timers():
        leaver_timers(school=school, today=today, policy=policy, due=due()["leavers"])

    def purges():
        if due()["purges"]:  # most nights of most schools: nothing, known with the leavers in one query
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


def _due_after_sync(school: School, policy: SyncPolicy, today) -> dict[str, bool]:
    """Whether any leaver is past their grace period (leaver_timers), and whether any of the school's purges has
    something to look at (each purge's own candidates), in one query: most nights of most schools, neither.
    Asked after the sync, which may have made leavers."""
    cutoffs = {f"{pt}_left_by": day for pt, day in grace_cutoffs(policy, today).items()}
    ((leavers, *purges),) = _LEAVERS_AND_PURGES(school_id=school.pk, now=timezone.now(), **cutoffs)
    return {"leavers": leavers, "purges": any(purges)}


def _leavers_and_purges(school_id, now, student_left_by, staff_left_by, contact_left_by):
    cutoffs = {"student": student_left_by, "staff": staff_left_by, "contact": contact_left_by}
    candidates = [
        *credentials_purge_candidates(school_id, now=now),
        upload_credentials_purge_candidates(school_id, now=now),
    ]
    questions = {"leavers": Exists(leavers_past_grace(school_id, cutoffs))}
    questions |= {f"purge_{n}": Exists(qs) for n, qs in enumerate(candidates)}
    return School.objects.filter(pk=school_id).annotate(**questions).values_list(*questions)


_LEAVERS_AND_PURGES = CompiledRead(
    "leavers past their grace, and purges due",
    _leavers_and_purges,
    school_id="uuid",
    now="datetime",
    **{f"{pt}_left_by": "date" for pt in PERSON_TYPES},
)


def _message(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    return (" ".join(messages) if messages else str(exc) or type(exc).__name__)[:1000]


def _nightly_failed(*, school: School, message: str, seconds: float) -> None:
    _night_finished(school, failed_at=timezone.now(), failure=message, state=State.FAILED, seconds=seconds)
