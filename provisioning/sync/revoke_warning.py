"""A run's warning that it moves many contacts into Ready to Revoke Access.

Many parents losing access in one run usually means students were archived by mistake or a Parent portal
access flag changed in the MIS. The run keeps only the number (run.counts["contacts_to_revoke"]); the words
come from it and the run's guard threshold (selectors.run_warnings), so the page, the report and the email
(notifications.py) say the same; the count comes from the forecast of the plan's effect (revoke_forecast.py).
The revoke itself keeps its own >1,000 warning in Account Manager.
"""

from provisioning.models import SyncRun
from provisioning.sync.revoke_forecast import contacts_moving_to_revoke
from provisioning.sync.selectors import CONTACTS_TO_REVOKE


def contacts_to_revoke(run: SyncRun, items: list[dict]) -> int:
    """How many contacts the plan moves into Ready to Revoke Access. Read before anything is applied (the
    school as the plan found it); kept in the run's counts by contacts_to_revoke_record."""
    return len(contacts_moving_to_revoke(school=run.school, items=items))


def contacts_to_revoke_record(run: SyncRun, count: int) -> None:
    """The count in run.counts (the caller saves the run). Over the guard's threshold the run warns
    (selectors.run_warnings) and its nominated contacts are emailed (notifications.py). A count of 0 is not
    stored: a run whose counts hold only unchanged and skipped records stays repeatable as it is."""
    if count:
        run.counts[CONTACTS_TO_REVOKE] = count
