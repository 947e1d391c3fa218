"""The school state's fingerprint on PostgreSQL: a count of writes kept by triggers, read, folded and named.

Apply compares the fingerprint of the school now with the plan's (nothing changed since?), and the nightly run
compares it with the last applied run's (may it plan from the changed feed lines alone?). On PostgreSQL the
fingerprint comes from the change rows the triggers of provisioning migrations 0007 and 0008 write; state.py
reads it (or, on SQLite, digests the state it reads) and is what the rest of the sync calls.
"""

from contextlib import contextmanager

from django.db import connection

# The state fingerprint on PostgreSQL, kept by the triggers of provisioning migration 0007 instead of hashing
# every member's row (86 ms for 100,000): a transaction that writes a school's memberships, role assignments
# or contact links, or a compared column of its members' accounts, has a row of its own in SchoolDataChange
# counting its statements. A sign-in (last_login) writes no compared column, so the nightly run still plans
# from the changed lines (incremental.py) and a plan made before it can still be applied.
#
# The fingerprint is "version:SEEN+OWN": SEEN, the school's folded version (SchoolDataVersion) plus the
# statements of the change rows committed by other transactions, as this statement sees them; OWN, the
# statements of this transaction's own row (always 0 when a sync reads it: a sync writes nothing of the
# school before planning or Apply's check; tests that build data in the same transaction are why it is kept
# apart). SEEN+OWN only grows: each statement that writes adds 1 to its transaction's row (to OWN at once for
# the writer, to SEEN for the others once it commits), and folding moves statements from the change rows
# into the version without changing the sum. So two readings by transactions that wrote nothing are equal
# exactly when no write was committed between them. Both parts are small reads (0.2 ms; 0.5 ms with 2,000
# change rows): a school keeps only the change rows of the transactions since its last sync. The active
# count (the guard's 10%) comes in the same query, an index-only scan (4 ms for 100,000 people).
#
# A sync, as it finishes (applied_fingerprint, still holding the SyncPolicy lock, the only writer of the
# version row), deletes the change rows it sees and adds their statements to the version, so no edit waits
# on it. The applied fingerprint is not read afresh but made from the plan's: SEEN as the plan read it plus
# the statements the sync wrote. How each case comes out:
# - a write committed between the plan and Apply: Apply's reading counts its row, and refuses the plan;
# - a write committed while the sync runs (after the plan's reading, before the fold): the fold folds it and
#   a later reading counts it, while the applied fingerprint does not, so the next run plans in full. Read
#   afresh, the applied fingerprint would count it, and the next run would take the school as the sync
#   left it, missing what that edit did;
# - a transaction still open at the fold: the fold cannot see its row and leaves it; it counts once it
#   commits, so the next reading differs from the applied fingerprint and that run plans in full;
# - a rollback: its row goes with it, as do its writes, and no reading ever counted it;
# - TRUNCATE: the truncating transaction adds a statement to its own row of every school, waiting for no one;
# - a deleted school: its version and change rows stay behind (no cascade, no constraint), never read again.
PG_SEEN_AND_OWN = """
WITH own AS (SELECT pg_current_xact_id_if_assigned()::text::bigint AS xact),
changes AS (SELECT c.statements, c.xact IS NOT DISTINCT FROM own.xact AS mine
              FROM provisioning_schooldatachange c, own WHERE c.school_id = %(school)s)
SELECT coalesce((SELECT version FROM provisioning_schooldataversion WHERE school_id = %(school)s), 0)
       + coalesce((SELECT sum(statements) FROM changes WHERE NOT mine), 0),
       coalesce((SELECT sum(statements) FROM changes WHERE mine), 0)
"""
PG_FINGERPRINT = f"""
SELECT seen_and_own.*,
       (SELECT count(*) FROM accounts_membership WHERE school_id = %(school)s AND status = 'active')
  FROM ({PG_SEEN_AND_OWN}) AS seen_and_own
"""
# The statements of this transaction's own row are returned for applied_fingerprint.
PG_FOLD = """
WITH gone AS (DELETE FROM provisioning_schooldatachange WHERE school_id = %(school)s RETURNING xact, statements),
folded AS (INSERT INTO provisioning_schooldataversion AS v (school_id, version)
           SELECT %(school)s, sum(statements) FROM gone HAVING count(*) > 0
           ON CONFLICT (school_id) DO UPDATE SET version = v.version + excluded.version)
SELECT coalesce(sum(statements) FILTER (WHERE xact = pg_current_xact_id_if_assigned()::text::bigint), 0)
  FROM gone
"""


def fingerprint_pg(cursor, school) -> str:
    cursor.execute(PG_SEEN_AND_OWN, {"school": school.pk})
    return _version_fingerprint(*cursor.fetchone())


def _version_fingerprint(seen: int, own: int) -> str:
    # Not a sha256 like SQLite's or like runs planned before the triggers existed: those never match.
    return f"version:{seen}+{own}"


def fingerprint_and_active_pg(cursor, school) -> tuple[str, int]:
    cursor.execute(PG_FINGERPRINT, {"school": school.pk})
    seen, own, active_count = cursor.fetchone()
    return _version_fingerprint(seen, own), active_count


def fold_into_version(school, planned: str) -> str | None:
    """Fold the school's change rows into its version and return the fingerprint the school will have once
    this sync commits (see state.applied_fingerprint); None when `planned` is not a reading of the version
    (made before it existed, never equal to one)."""
    with connection.cursor() as cursor:
        cursor.execute(PG_FOLD, {"school": school.pk})
        own = cursor.fetchone()[0]
    seen = _seen(planned)
    if seen is None:
        return None
    return _version_fingerprint(seen + own, 0)


STALE_CHANGES_DAYS = 7
PG_FOLD_STALE = """
WITH gone AS (DELETE FROM provisioning_schooldatachange WHERE created_at < now() - make_interval(days => %(days)s)
              RETURNING school_id, statements),
folded AS (INSERT INTO provisioning_schooldataversion AS v (school_id, version)
           SELECT school_id, sum(statements) FROM gone GROUP BY school_id
           ON CONFLICT (school_id) DO UPDATE SET version = v.version + excluded.version)
SELECT count(*) FROM gone
"""


def stale_changes_fold(days: int = STALE_CHANGES_DAYS) -> int:
    """Fold change rows older than `days` into their schools' versions (PostgreSQL), for the scheduler's
    housekeeping: a school whose runs fold them (every applied sync does) never has rows that old, and one
    that does not sync would otherwise keep a row for every editing transaction. The fingerprint is unchanged
    (the sum is kept); only whom those edits touched is forgotten, so that school's next sync compares the
    whole feed (changes_by_hand sees its version moved)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(PG_FOLD_STALE, {"days": days})
        return cursor.fetchone()[0]


@contextmanager
def sync_writes(school):
    """Tell the change triggers (provisioning migration 0008) that the writes inside are the school's sync: its
    change row names no members (the run folds it before committing), where an edit's names whom it changed.
    Cleared after, so anything else the transaction writes is named as usual."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('rollcall.sync_school', %s, true)", [str(school.pk)])
    try:
        yield
    except BaseException:
        # The setting is local to the transaction, and goes with its rollback. A statement run here after a
        # failed one would fail too ("current transaction is aborted") and hide the error that names the cause.
        if not _transaction_failed():
            _sync_school_clear()
        raise
    _sync_school_clear()


def _sync_school_clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('rollcall.sync_school', '', true)")


def _transaction_failed() -> bool:
    """True when a failed statement aborted PostgreSQL's transaction: it refuses every statement until rollback."""
    from psycopg.pq import TransactionStatus

    return connection.connection is None or connection.connection.info.transaction_status == TransactionStatus.INERROR


PG_CHANGES_BY_HAND = """
SELECT coalesce((SELECT version FROM provisioning_schooldataversion WHERE school_id = %(school)s), 0),
       coalesce(bool_and(c.complete), true),
       coalesce((SELECT array_agg(DISTINCT m::text) FROM provisioning_schooldatachange d, unnest(d.members) AS m
                  WHERE d.school_id = %(school)s), '{}')
  FROM provisioning_schooldatachange c WHERE c.school_id = %(school)s
"""


def changes_by_hand(school, applied: str) -> set[str] | None:
    """The memberships others have written to since the run that left `applied` folded the school's changes:
    every change since, when each names whom it changed (PostgreSQL). None when that cannot be known: another
    database, a change folded into that run after its plan was read, a deleted membership, an emptied table."""
    seen = _seen(applied)
    if connection.vendor != "postgresql" or seen is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(PG_CHANGES_BY_HAND, {"school": school.pk})
        folded, complete, members = cursor.fetchone()
    if folded != seen or not complete:
        return None
    return set(members)


def _seen(fingerprint: str) -> int | None:
    prefix, _, counts = fingerprint.partition(":")
    seen, _, own = counts.partition("+")
    if prefix != "version" or not (seen.isdigit() and own.isdigit()):
        return None
    return int(seen)
