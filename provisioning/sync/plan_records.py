"""A run's plan stored as its SyncRecord rows: in the run's own transaction, or, for a big plan, on a
connection of its own while the run's transaction writes the school's rows.

Why a second connection: a first import of a big school is bound by PostgreSQL's single backend (about 11 s
of its 14 for 100,000 people: the COPYs into indexed tables and their foreign-key checks), while the worker's
second core waits. The records (188,000 rows for 100,000 people: about 2 s of that backend's time with their
checks) are the run's, not the school's: nothing the apply writes refers to them, and they refer only to the
run, committed before the run starts. So they can go through another backend at the same time (bulk.rows_stored,
which an upload's audit events use too).

What stays as before: the records and the school's changes are both kept or both dropped. The records'
transaction stays open until the run's transaction has done all its work (its foreign-key checks included);
it commits just before the run's does, and rolls back if anything in the run's fails first. The one window
left is the run's own COMMIT failing after the records' (a lost connection, or a deferred check of the
last few rows the run wrote through the ORM): the run is then marked failed ("Nothing was changed") and
keeps the records of what it had planned; the school's rows are as they were. The records' own checks run
before that decision (SET CONSTRAINTS ALL IMMEDIATE), so a bad record fails the run before anything commits.

Used only when the run's row is committed (the caller was not inside a transaction when the run started:
the other connection could not see the row otherwise), on PostgreSQL, and for plans of at least
RECORDS_ASIDE_MIN records: below that, a connection's setup costs more than it saves.

The same connection then also answers the plan's one read of the school as it is before the apply (`before`:
the revoke forecast, revoke_warning.py), while the run's transaction applies: it cannot see the run's
uncommitted writes, so it reads what the run's own connection would have read before them. A 5% night of a
100,000-person school (8,800 records) took 1.69 s with its records in the run's transaction and 1.44 s with
them aside (medians of eight nights each, interleaved in one process), and 1.29 s against 1.55 with the
forecast aside too (six each): docs/scale.md, issue 23's sixth pass.
"""

from collections.abc import Callable
from contextlib import contextmanager

from provisioning.models import SyncRecord
from provisioning.sync.bulk import rows_stored

RECORD_FIELDS = [
    "school_id", "run_id", "entity", "outcome", "person_type", "mis_code", "membership_id", "account_id",
    "username", "before", "after", "reason",
]  # fmt: skip
RECORDS_ASIDE_MIN = 5_000


def record_rows(run, items: list[dict]) -> list[tuple]:
    school_id = run.school_id
    return [
        (school_id, run.pk, i["entity"], i["outcome"], i["person_type"], i["mis_code"], i["membership_id"] or None,
         i["account_id"] or None, i["username"], i["before"], i["after"], i["reason"][:300])
        for i in items
    ]  # fmt: skip


@contextmanager
def records_stored(run, items: list[dict], *, run_committed: bool, before: Callable[[], object] = lambda: None):
    """The run's records, stored for the block: written before it (in the caller's transaction), or, for a
    big plan whose run is committed, written aside while the block runs and committed as it ends without
    an error (bulk.rows_stored). End the block just before the caller's transaction commits.

    `before` reads the school as it is before the block writes to it (no writes of its own); the block gets
    a handle whose result() is its value: read at once, or aside after the records (result() then waits)."""
    rows = record_rows(run, items)
    with rows_stored(SyncRecord, RECORD_FIELDS, rows, committed=run_committed, before=before,
                     aside_from=RECORDS_ASIDE_MIN) as handle:  # fmt: skip
        yield handle
