"""The runs: a sync run started, its plan made (and, for a scheduled run, applied), a stored plan applied.

The pipeline a feed line goes through, in order: the feed as received (feed_intake.py; parsed by feeds.py,
oneroster.py), the school state (state.py, with its fingerprint: fingerprint.py), the plan (sync_plan.py,
from the changed lines alone on a quiet night: incremental.py), the mass-change guard (guard.py) and the
revoke forecast (revoke_warning.py), the apply (apply.py), the nominated contacts' email
(notifications.py) and the starter-code slips (starter_slips.py). Screens, the API, the Celery tasks and
the scheduler (nightly.py) start runs only through this module.
"""

import io
import time
import uuid
from contextlib import nullcontext
from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from accounts.audit import audit_record
from accounts.models import Account
from provisioning.models import Feed, SyncPolicy, SyncRecord, SyncRun
from provisioning.sync import guard, incremental, notifications, state
from provisioning.sync.apply import APPLY_STEPS, apply_plan
from provisioning.sync.bulk import checks_aside, collector_paused, prefer_index_lookups
from provisioning.sync.feed_intake import newest_feed
from provisioning.sync.feeds import parse_feed
from provisioning.sync.fingerprint import sync_writes
from provisioning.sync.plan_item import Outcome
from provisioning.sync.plan_newcomers import NEEDS_DECISION
from provisioning.sync.plan_records import records_stored
from provisioning.sync.policy import policy_lock
from provisioning.sync.revoke_warning import contacts_to_revoke, contacts_to_revoke_record
from provisioning.sync.sync_plan import SyncPlan, SyncReach, make_plan
from provisioning.sync.username_policy import planned_names_taken
from tenancy.models import Job, School
from tenancy.services import job_give_up, job_progress, job_start, job_succeed
from tenancy.spreadsheets import internal_csv_writer

CREDENTIALS_HOURS = 24
USERNAME_UNIQUE = "account_username_ci_unique"  # accounts.Account's constraint
OPEN_STATES = (SyncRun.State.QUEUED, SyncRun.State.PLANNING, SyncRun.State.PLANNED, SyncRun.State.NEEDS_CONFIRMATION)


class SyncRefused(ValidationError):
    """A run that may not go ahead, said in words a person can act on."""


class _JobReplaced(SyncRefused):
    """A stalled apply job that came back after the run was started again (_apply_stalled)."""


def _first_sync(school: School) -> bool:
    return not SyncRun.objects.filter(school=school, state=SyncRun.State.APPLIED).exists()


@transaction.atomic
def sync_start(
    *,
    school: School,
    actor: Account | None,
    trigger: str,
    feed: Feed | None = None,
    dry_run: bool | None = None,
) -> SyncRun:
    """Start a run on the newest accepted feed. The first sync of a school and any run started by hand
    are dry runs: they store the plan and wait for Apply. Its job's task is sent once this commits."""
    from provisioning.tasks import sync_run_job  # cycle: the task module imports these services

    return _sync_start(school=school, actor=actor, trigger=trigger, feed=feed, dry_run=dry_run, task=sync_run_job)


def sync_start_tonight(*, school: School, feed: Feed, first: bool, supersede: bool) -> SyncRun:
    """Tonight's scheduled run, inside the school's nightly task's transaction (which holds the policy lock and
    knows whether the school ever applied a run, `first`, and whether a plan waits for Apply, `supersede`). Its
    job is recorded as claimed, its task not sent: the nightly task runs it at once (nightly.py). The run is
    recorded as planning, which it is from now on."""
    return _sync_start(school=school, actor=None, trigger=SyncRun.Trigger.SCHEDULED, feed=feed, dry_run=first,
                       first=first, claimed=True, supersede=supersede)  # fmt: skip


# A plan waiting for Apply (or for a person to confirm it) is superseded by a newer run.
SUPERSEDED_BY_A_NEWER_RUN = [SyncRun.State.PLANNED, SyncRun.State.NEEDS_CONFIRMATION]


def _sync_start(
    *, school, actor, trigger, feed, dry_run, task=None, first: bool | None = None, claimed=False, supersede=True
):
    feed = feed or newest_feed(school)
    if feed is None or feed.state != Feed.State.VALID:
        raise SyncRefused("There is no accepted feed to synchronise from; upload one first.")

    def first_sync() -> bool:  # asked only when it decides
        return _first_sync(school) if first is None else first

    if dry_run is None:
        dry_run = trigger != SyncRun.Trigger.SCHEDULED or first_sync()
    elif not dry_run and first_sync():
        dry_run = True
    if supersede:
        SyncRun.objects.filter(school=school, state__in=SUPERSEDED_BY_A_NEWER_RUN).update(
            state=SyncRun.State.SUPERSEDED, message="A newer run was started."
        )
    # The job first, naming the run's id made here: the run is then written once, with its job.
    run_id = uuid.uuid4()
    job = job_start(school=school, kind=Job.Kind.SYNC, actor=actor, params={"run_id": str(run_id), "action": "plan"},
                    task=task, claimed=claimed)  # fmt: skip
    state = SyncRun.State.PLANNING if claimed else SyncRun.State.QUEUED
    return SyncRun.objects.create(id=run_id, school=school, feed=feed, trigger=trigger, dry_run=dry_run,
                                  created_by=_person(actor), job=job, state=state)  # fmt: skip


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


@transaction.atomic
def sync_apply_start(*, school: School, actor: Account, run: SyncRun, confirm: bool = False) -> SyncRun:
    """Apply a stored plan. A run the mass-change guard stopped needs a person to confirm it."""
    from provisioning.tasks import sync_run_job  # cycle: the task module imports these services

    run = SyncRun.objects.select_for_update().get(school=school, pk=run.pk)
    if _apply_stalled(run, actor):
        # Its worker was lost before anything was committed: the run goes back to what it was, and is
        # confirmed again if the guard had stopped it.
        run.state = SyncRun.State.NEEDS_CONFIRMATION if guard.stops(run) else SyncRun.State.PLANNED
    if run.state == SyncRun.State.NEEDS_CONFIRMATION:
        if not confirm:
            raise SyncRefused(guard.confirmation_needed(run))
        run.confirmed_by, run.confirmed_at = actor, timezone.now()
    elif run.state != SyncRun.State.PLANNED:
        raise SyncRefused(f"This run cannot be applied: it is {run.get_state_display().lower()}.")
    run.state = SyncRun.State.QUEUED
    run.job = job_start(school=school, kind=Job.Kind.SYNC, actor=actor, params={"run_id": str(run.pk), "action":
                        "apply"}, task=sync_run_job)  # fmt: skip
    run.save(update_fields=["state", "job", "confirmed_by", "confirmed_at"])
    audit_record(
        action="provisioning.sync_run.confirmed" if confirm else "provisioning.sync_run.apply_requested",
        actor=actor,
        school=school,
        target_type="sync_run",
        target_id=str(run.pk),
        target_label=f"Sync {run.created_at:%Y-%m-%d %H:%M}",
        job=run.job,
    )
    return run


def _apply_stalled(run: SyncRun, actor: Account) -> bool:
    """A queued run whose apply job stalled may be applied again: its old job is given up (failed), so a
    message the broker hands back later finds nothing to do."""
    job = run.job
    if run.state != SyncRun.State.QUEUED or job is None or job.params.get("action") != "apply":
        return False
    return job.is_stalled and job_give_up(
        job, message=f"Its worker stopped before anything was changed; {actor} started the apply again."
    )


def sync_run_job(job: Job, run: SyncRun | None = None) -> None:
    """The job's work: make the plan (and, for a scheduled run, apply it) or apply a stored plan. `run` is
    the job's run when its caller holds it already (the nightly task that started it)."""
    if run is None:
        run = SyncRun.objects.select_related("feed").get(school=job.school, pk=job.params["run_id"])
    run.school = job.school  # the same row, already loaded by the task
    try:
        if job.params.get("action") == "apply":
            sync_apply(run=run, job=job)
        else:
            sync_plan(run=run, job=job)
    except _JobReplaced:
        raise  # the run belongs to the job that replaced this one: left as it is
    except SyncRefused as exc:
        _run_failed(run, " ".join(exc.messages), state=SyncRun.State.SUPERSEDED)
        raise
    except IntegrityError as exc:
        if USERNAME_UNIQUE not in str(exc):
            _run_failed(run, f"Nothing was changed: {exc}")
            raise
        # Another school took a username of the plan after the check, while this run wrote: stale, like a plan
        # whose usernames were taken before it (sync_apply).
        message = (
            "A username this run gives was taken by another account while it was being applied, so nothing was "
            "changed. Press Synchronise Users for a fresh plan."
        )
        _run_failed(run, message, state=SyncRun.State.SUPERSEDED)
        raise SyncRefused(message) from exc
    except Exception as exc:
        _run_failed(run, f"Nothing was changed: {exc}")
        raise


def _run_failed(run: SyncRun, message: str, *, state=SyncRun.State.FAILED) -> None:
    SyncRun.objects.filter(school=run.school, pk=run.pk).update(state=state, message=message)
    run.state, run.message = state, message


# The sync job's progress is counted in steps: the planning's (feed read, planned, plan stored), then the
# apply's (a stored plan read back, apply_plan's phases, the outcome recorded).
PLAN_STEPS = 3


# A scheduled run writes its progress at most this often. Nobody waits on a nightly run's bar, and each write
# is a transaction of its own on the second connection: a small school's twelve writes were a quarter of its
# nightly task (bench.fleet). A big school's steps each take longer than this, so its bar still moves, and
# the heartbeat stays far more frequent than JOB_STALLED_AFTER.
SCHEDULED_PROGRESS_EVERY = 2.0


class _Steps:
    """Each call is one step done, written as the job's progress (shown while the run's transaction is
    still open: tenancy.services.job_progress); no job, nothing written. With every=N seconds a step is
    written only N seconds after the last write (the job's claim being the first); the count is kept on
    the job, so it finishes at 100%."""

    def __init__(self, job: Job | None, total: int, every: float = 0.0):
        self.job, self.done, self.total, self.every = job, 0, total, every
        self.written = time.monotonic()
        if every and job is not None:
            job.progress_total = total  # counted here; written with the next step or the job's finish
        else:
            self._write()

    def __call__(self) -> None:
        self.done += 1
        if self.job is not None:
            self.job.progress_done = self.done
        if time.monotonic() - self.written >= self.every:
            self._write()

    def _write(self) -> None:
        if self.job is not None:
            job_progress(self.job, done=self.done, total=self.total)
            self.written = time.monotonic()


def sync_plan(*, run: SyncRun, job: Job | None = None) -> SyncRun:
    with collector_paused():  # parsing and planning make a few hundred thousand objects that live to the end
        return _sync_plan(run=run, job=job)


def _sync_plan(*, run: SyncRun, job: Job | None = None) -> SyncRun:
    school = run.school
    started = time.perf_counter()
    every = SCHEDULED_PROGRESS_EVERY if run.trigger == SyncRun.Trigger.SCHEDULED else 0.0
    step = _Steps(job, PLAN_STEPS + (0 if run.dry_run else APPLY_STEPS + 1), every=every)
    run_committed = not transaction.get_connection().in_atomic_block  # plan_records.py: whether others see it
    with transaction.atomic():
        policy = policy_lock(school)
        prefer_index_lookups()
        if run.state != SyncRun.State.PLANNING:  # a nightly run is started as planning (sync_start_tonight)
            SyncRun.objects.filter(school=school, pk=run.pk).update(state=SyncRun.State.PLANNING)
        with run.feed.file.open("rb") as handle:
            content = handle.read()
        step()  # the feed read
        plan = _make_plan(run, policy, content)
        run.renames_asked = policy.rename_existing
        step()  # planned
        # The records, a big plan's on a connection of their own (plan_records.py), committed as the block ends,
        # and there too the revoke forecast, read while this transaction applies; the foreign-key checks of
        # what the apply writes run while Python goes on (bulk.py), settled first.
        run.counts = dict(plan.counts)

        def forecast_counted() -> None:  # the forecast in the counts: before the run's audit and email
            contacts_to_revoke_record(run, revoke.result())
            notifications.notify_after_commit(run)

        forecast = partial(contacts_to_revoke, run, plan.items)
        with records_stored(run, plan.items, run_committed=run_committed, before=forecast) as revoke:
            with checks_aside():
                run.fingerprint = plan.fingerprint
                run.guard_count, run.guard_threshold = plan.guard_count, plan.guard_threshold
                run.planned_at = timezone.now()
                run.plan_seconds = time.perf_counter() - started
                step()  # the plan stored
                if guard.stops(run):
                    run.state = SyncRun.State.NEEDS_CONFIRMATION
                    forecast_counted()
                elif run.dry_run:
                    run.state = SyncRun.State.PLANNED
                    forecast_counted()
                else:
                    _apply_items(run=run, policy=policy, items=plan.items, job=job, step=step,
                                 applied=forecast_counted)  # fmt: skip
            run.save()
            _job_succeeded(job, run)
    return run


def _job_succeeded(job: Job | None, run: SyncRun) -> None:
    """The job finished with its run's counts, in the run's transaction: both or neither are recorded (and one
    commit the less a night). The last write to the job's row of the run: progress written aside stops here."""
    if job is not None:
        job_succeed(job, counts=run.counts)


def _make_plan(run: SyncRun, policy: SyncPolicy, content: bytes) -> SyncPlan:
    """From the lines that changed since the last applied run when the school is as that run left it
    (the nightly case), else by comparing the whole feed with everyone the school holds."""
    school = run.school
    plan = incremental.plan_changes(school=school, policy=policy, run=run, content=content)
    if plan is not None:
        return plan
    parsed = parse_feed(content, name=run.feed.file_name, org_identifier=school.urn, date_order=policy.date_order)
    if not parsed.ok:
        raise SyncRefused("The feed cannot be read as a whole (see its problems); nothing was changed.")
    return make_plan(school=school, policy=policy, feed=parsed)


def sync_apply(*, run: SyncRun, job: Job | None = None) -> SyncRun:
    """Execute exactly the stored plan, refusing when the school's accounts changed since it was made."""
    school = run.school
    step = _Steps(job, 1 + APPLY_STEPS + 1)
    with transaction.atomic():
        policy = policy_lock(school)
        prefer_index_lookups()
        run = SyncRun.objects.get(school=school, pk=run.pk)
        if job is not None and run.job_id != job.pk:
            raise _JobReplaced("This apply was started again by another job; this one changed nothing.")
        if run.state not in (SyncRun.State.QUEUED, SyncRun.State.PLANNED):
            raise SyncRefused(f"This run cannot be applied: it is {run.get_state_display().lower()}.")
        if state.current_fingerprint(school) != run.fingerprint:
            raise SyncRefused(
                "The school's accounts changed since this plan was made, so it was not applied. "
                "Press Synchronise Users for a fresh plan."
            )
        items = list(
            SyncRecord.objects.filter(school=school, run=run)
            .order_by("id")
            .values(
                "entity",
                "outcome",
                "person_type",
                "mis_code",
                "membership_id",
                "account_id",
                "username",
                "before",
                "after",
                "reason",
            )  # fmt: skip
        )
        taken = planned_names_taken(items)
        if taken:
            shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
            raise SyncRefused(
                f"Usernames this plan gives were taken by other accounts since it was made ({shown}), so it was "
                "not applied. Press Synchronise Users for a fresh plan."
            )
        _refuse_if_now_out_of_reach(school, policy, items)
        step()  # the plan read back
        with checks_aside():
            _apply_items(run=run, policy=policy, items=items, job=job, step=step)
        run.save()
        _job_succeeded(job, run)
    return run


_CHANGES_ACCOUNTS = {Outcome.UPDATE, Outcome.REACTIVATE, Outcome.ARCHIVE, Outcome.TRANSFER}


def _refuse_if_now_out_of_reach(school, policy, items) -> None:
    """Someone the plan changes was given an administrator's role since it was made (at another school, which
    the fingerprint does not see): the plan is stale. Found by an outside test, who planned an email change
    for an invigilator, had them made Centre Admin at another school, then applied the old plan."""
    changes = [item for item in items if item["outcome"] in _CHANGES_ACCOUNTS and item["account_id"]]
    if not changes:
        return
    reach = SyncReach(school, policy)
    reach.include({item["account_id"] for item in changes})
    if any(reach.refusal(item["account_id"], identity=_identity(item)) for item in changes):
        raise SyncRefused(
            "Someone this plan changes was given an administrator's role since it was made, so it was not "
            "applied. Press Synchronise Users for a fresh plan."
        )


def _identity(item) -> bool:
    """Whether the item changes the account itself (as sync_plan decides), not only the membership here."""
    if item["outcome"] in (Outcome.REACTIVATE, Outcome.TRANSFER):
        return True
    return item["outcome"] == Outcome.UPDATE and bool(set(item["after"]) & _ACCOUNT_FIELDS)


_ACCOUNT_FIELDS = {"given_name", "family_name", "email", "upn", "username"}


def _apply_items(
    *, run: SyncRun, policy: SyncPolicy, items: list[dict], job, step: _Steps, applied=lambda: None
) -> None:
    """`applied`: called once the plan's rows are written, before the run's audit record (which holds its
    counts)."""
    started = time.perf_counter()
    # A plan with nothing to change writes nothing: no need to name the writes to the change triggers.
    with sync_writes(run.school) if items else nullcontext():
        result = apply_plan(school=run.school, policy=policy, items=items, job=job, step=step)
        if result["codes"]:
            # Written now, while the last foreign-key checks run (the next query waits for them).
            _store_credentials(run, result["codes"], items)
    applied()
    # Nothing written (a no-change run): the school is as the plan found it, under the same lock.
    run.applied_fingerprint = state.applied_fingerprint(run.school, run.fingerprint, wrote=bool(items))
    if run.feed_id:
        Feed.objects.filter(school=run.school, pk=run.feed_id).update(applied_at=timezone.now())
    if run.renames_asked:  # the school's one-off "Rename existing accounts to the new pattern" is done
        SyncPolicy.objects.filter(school=run.school, pk=policy.pk).update(rename_existing=False)
    step()  # the applied state recorded
    run.state, run.applied_at = SyncRun.State.APPLIED, timezone.now()
    run.apply_seconds = time.perf_counter() - started
    audit_record(
        action="provisioning.sync_run.applied",
        actor=run.confirmed_by or run.created_by,
        school=run.school,
        target_type="sync_run",
        target_id=str(run.pk),
        target_label=f"Sync {run.created_at:%Y-%m-%d %H:%M}",
        changes={"counts": [None, dict(run.counts)], "feed": [None, run.feed.file_name if run.feed else ""]},
        job=job,
    )


def _store_credentials(run: SyncRun, codes: list, items: list[dict]) -> None:
    """Codes reach the disk only once the apply has committed: a rolled-back run leaves none behind."""
    by_account = {str(i["account_id"]): i for i in items if i["outcome"] == Outcome.CREATE}
    out = io.StringIO()
    writer = internal_csv_writer(out)  # read back by starter_slips.py, never handed out
    for account_id, code in codes:
        item = by_account.get(str(account_id), {})
        a = item.get("after", {})
        writer.writerow(
            [item.get("person_type", ""), a.get("year_group", ""), a.get("form", "")]
            + [a.get("family_name", ""), a.get("given_name", ""), item.get("username", ""), code]
        )
    content = out.getvalue().encode()
    school, run_id = run.school, run.pk

    def write():
        with scope(school=school):
            stored = SyncRun.objects.get(school=school, pk=run_id)
            stored.credentials.save(f"{run_id}.csv", ContentFile(content), save=False)
            stored.credentials_expire_at = timezone.now() + timedelta(hours=CREDENTIALS_HOURS)
            stored.save(update_fields=["credentials", "credentials_expire_at"])

    transaction.on_commit(write)


def sync_records_erase_for(*, account) -> None:
    """An erased account's sync records keep their outcome but lose the personal values, in every school."""
    with scopes_disabled():
        SyncRecord.objects.filter(account_id=account.pk).update(before={}, after={}, username="")
        # A newcomer held as a possible match of this account names it in the reason (another school's record).
        held = SyncRecord.objects.filter(account_id=account.pk, reason__startswith=NEEDS_DECISION)
        held.update(reason=f"{NEEDS_DECISION}an account since deleted.")
