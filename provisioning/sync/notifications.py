"""The one email of the sync: a run that needs a person's eye, sent to the school's nominated contacts.

A run needs it when the mass-change guard stopped it (guard.py) or when it moves more contacts into Ready
to Revoke Access than the guard allows (revoke_warning.py); a run that does both says both in one email.
Sent once the plan commits, so a rolled-back run emails no one.
"""

from django.core.mail import send_mail
from django.db import transaction
from django_scopes import scope

from provisioning.models import SyncRun
from provisioning.sync import guard
from provisioning.sync.selectors import nominated_contact_emails, run_warnings

SIGN_IN_TO_CONFIRM = "Sign in to Rollcall, open Bulk User Synchronise, check the preview and confirm it if it is right."
SIGN_IN_TO_REVIEW = "Sign in to Rollcall and open the run from Sync history to see its records and download its report."


def notify_after_commit(run: SyncRun) -> None:
    """Email the nominated contacts once the plan commits, if the run needs their eye."""
    if guard.stops(run) or run_warnings(run):
        transaction.on_commit(lambda: notify(run))


def notify(run: SyncRun) -> None:
    with scope(school=run.school):
        emails = nominated_contact_emails(school=run.school)
    if not emails:
        return
    subject, message = _email(run)
    send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)


def _email(run: SyncRun) -> tuple[str, str]:
    school, warnings = run.school.name, run_warnings(run)
    if guard.stops(run) and not warnings:
        return f"MIS sync needs confirmation at {school}", _guard_text(run) + SIGN_IN_TO_CONFIRM
    revoke = f"A synchronisation from the MIS at {school}. {' '.join(warnings)}\n\n{_done(run)} "
    if not guard.stops(run):
        return f"MIS sync: contacts moving into Ready to Revoke Access at {school}", revoke + SIGN_IN_TO_REVIEW
    subject = f"MIS sync needs confirmation at {school}: contacts moving into Ready to Revoke Access"
    return subject, _guard_text(run) + revoke + SIGN_IN_TO_CONFIRM


def _guard_text(run: SyncRun) -> str:
    return (
        f"A synchronisation from the MIS would archive or rename {run.guard_count} accounts at {run.school.name}, "
        f"more than the {run.guard_threshold} allowed without confirmation.\n\nNothing has been changed. "
    )


def _done(run: SyncRun) -> str:
    if run.state == SyncRun.State.APPLIED:
        return "The run has been applied: these contacts can still sign in, but see no student data."
    return "Nothing has been changed yet: the run waits in Bulk User Synchronise for Apply or a confirmation."
