"""A run's warning that it moves many contacts into Ready to Revoke Access.

Many parents losing access in one run usually means students were archived by mistake or a Parent portal
access flag changed in the MIS. The run keeps only the number (run.counts["contacts_to_revoke"]); the words
come from it and the run's guard threshold (selectors.run_warnings), so the page, the report and the email
say the same. The revoke itself keeps its own >1,000 warning in Account Manager.
"""

from django.core.mail import send_mail
from django.db import transaction
from django_scopes import scope

from provisioning.contacts.selectors import contacts_moving_to_revoke
from provisioning.models import SyncRun
from provisioning.sync import selectors
from provisioning.sync.selectors import CONTACTS_TO_REVOKE, run_warnings


def contacts_to_revoke_check(run: SyncRun, items: list[dict]) -> int:
    """Count the contacts the plan moves into Ready to Revoke Access (into run.counts; the caller saves
    the run) and, over the guard's threshold, email the nominated contacts once the plan commits.

    Called while the plan is made, before anything is applied. A count of 0 is not stored: a run whose
    counts hold only unchanged and skipped records stays repeatable as it is."""
    count = len(contacts_moving_to_revoke(school=run.school, items=items))
    if not count:
        return 0
    run.counts[CONTACTS_TO_REVOKE] = count
    if count > run.guard_threshold:
        transaction.on_commit(lambda: _notify(run))
    return count


def _notify(run: SyncRun) -> None:
    """Tell the school's nominated contacts, as the mass-change guard does."""
    with scope(school=run.school):
        emails = selectors.nominated_contact_emails(school=run.school)
    if not emails:
        return
    if run.state == SyncRun.State.APPLIED:
        done = "The run has been applied: these contacts can still sign in, but see no student data."
    else:
        done = "Nothing has been changed yet: the run waits in Bulk User Synchronise for Apply or a confirmation."
    send_mail(
        subject=f"MIS sync: contacts moving into Ready to Revoke Access at {run.school.name}",
        message=(
            f"A synchronisation from the MIS at {run.school.name}. {' '.join(run_warnings(run))}\n\n{done} "
            "Sign in to Rollcall and open the run from Bulk User Synchronise's run history to see its records "
            "and download its report."
        ),
        from_email=None,
        recipient_list=emails,
    )
