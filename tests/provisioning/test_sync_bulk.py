"""The sync's set-based writes (bulk.py) and the parts of apply.py that reach past the school in scope."""

import time
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from accounts.models import Account, Membership
from provisioning.models import SyncRecord, SyncRun
from provisioning.sync import bulk
from provisioning.sync.apply import apply_plan
from provisioning.sync.policy import policy_for
from tests.factories import MembershipFactory, member
from tests.provisioning.sync_helpers import feed_zip, run_sync, student

pytestmark = pytest.mark.django_db

AWKWARD = ["tab\there", "line\nbreak", "back\\slash", "carriage\rreturn", 'quote "q"', "Zoë Ødegård", ""]


def _records(run, reasons, **extra):
    fields = ["entity", "outcome", "person_type", "mis_code", "membership_id", "username", "after", "reason"]
    rows = [
        ("person", "create", "student", f"S{i}", str(uuid.uuid4()), text, {"given_name": text, "n": i}, text)
        for i, text in enumerate(reasons)
    ]
    same = {"school_id": run.school_id, "run_id": run.pk, "before": {}, **extra}
    bulk.insert_rows(SyncRecord, fields, rows, same=same)
    return rows


def test_insert_rows_writes_every_value_as_given_whatever_it_holds(school_a):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    rows = _records(run, AWKWARD, before={"same": "for\tall"}, account_id=None)

    stored = list(
        SyncRecord.objects.filter(run=run)
        .order_by("id")
        .values_list("mis_code", "membership_id", "username", "after", "reason", "before", "account_id", "school_id")
    )

    assert stored == [
        (code, uuid.UUID(mid), text, after, text, {"same": "for\tall"}, None, school_a.pk)
        for _e, _o, _p, code, mid, text, after, _r in rows
    ]


def test_insert_rows_writes_a_single_row_and_columns_that_are_the_same_in_every_row(school_a):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    _records(run, ["only"])
    _records(run, ["same", "same", "same"])
    assert list(SyncRecord.objects.filter(run=run).order_by("id").values_list("reason", "after")) == [
        ("only", {"given_name": "only", "n": 0}),
        *[("same", {"given_name": "same", "n": i}) for i in range(3)],
    ]


def test_copy_layout_puts_columns_that_never_change_once_at_the_end_of_each_line():
    now = timezone.now()
    school = uuid.uuid4()
    columns = [("a", "b\tc"), (school, school), (True, False), (None, None), ({}, {"k": "v\\"})]
    order, batches = bulk.copy_layout(columns, [now], [False, False, False, False, True, False], 2)
    assert order == [0, 2, 4, 1, 3, 5]
    assert "".join(batches) == (
        f'a\tt\t{{}}\t{school}\t\\N\t{now}\n'
        f'b\\tc\tf\t{{"k": "v\\\\\\\\"}}\t{school}\t\\N\t{now}\n'
    )  # fmt: skip


def test_update_rows_changes_each_row_in_only_its_own_fields_in_one_statement(school_a):
    from django.test.utils import CaptureQueriesContext

    with scope(school=school_a):
        people = [member(school_a, person_type="student", given_name=f"G{i}", family_name=f"F{i}") for i in range(4)]
    accounts = [m.account for m in people]
    changes = [
        (accounts[0].pk, {"given_name": "Zoë"}),
        (accounts[1].pk, {"family_name": "O'Brien", "email": "", "is_active": False}),
        (accounts[2].pk, {"given_name": "tab\there", "family_name": "Ødegård"}),
        (accounts[3].pk, {}),  # nothing to change
    ]
    with CaptureQueriesContext(connection) as queries:
        bulk.update_rows(Account, changes)
    if connection.vendor == "postgresql":
        assert len(queries) == 1  # whichever fields each row changes
    stored = {a.pk: a for a in Account.objects.filter(pk__in=[a.pk for a in accounts])}
    expected = [
        ("Zoë", "F0", accounts[0].email, True),
        ("G1", "O'Brien", "", False),
        ("tab\there", "Ødegård", accounts[2].email, True),
        ("G3", "F3", accounts[3].email, True),
    ]
    got = [
        (stored[a.pk].given_name, stored[a.pk].family_name, stored[a.pk].email, stored[a.pk].is_active)
        for a in accounts
    ]
    assert got == expected


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000])
def test_new_ids_are_distinct_time_ordered_uuids_as_text(n):
    before = time.time_ns() // 1_000_000
    ids = bulk.new_ids(n)
    after = time.time_ns() // 1_000_000
    assert len(ids) == len(set(ids)) == n
    assert ids == sorted(ids)
    for text in ids:
        value = uuid.UUID(text)
        assert str(value) == text and value.version == 7 and value.variant == uuid.RFC_4122
        assert before <= value.int >> 80 <= after  # the first 48 bits: Unix time in milliseconds


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an array parameter in PostgreSQL's syntax")
def test_pg_array_round_trips_awkward_text():
    values = [*AWKWARD, "{braces}", "com,ma", "NULL", "  spaced  "]
    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::text[])", [bulk.pg_array(values)])
        assert [row[0] for row in cursor.fetchall()] == values


def test_new_ids_made_later_sort_after():
    first = bulk.new_ids(3)
    time.sleep(0.002)
    assert max(first) < min(bulk.new_ids(3))


def test_deleting_a_run_deletes_its_records_and_only_them(school_a):
    """A record's run is a foreign key without a database constraint: Django does the cascade."""
    run, other = (SyncRun.objects.create(school=school_a, trigger="manual") for _ in range(2))
    _records(run, ["a", "b"])
    _records(other, ["c"])

    run.delete()

    assert list(SyncRecord.objects.values_list("reason", flat=True)) == ["c"]


def test_deleting_a_school_deletes_its_sync_records(school_a, school_b):
    _records(SyncRun.objects.create(school=school_a, trigger="manual"), ["a"])
    _records(SyncRun.objects.create(school=school_b, trigger="manual"), ["b"])

    school_a.delete()

    assert list(SyncRecord.objects.values_list("reason", flat=True)) == ["b"]


@pytest.mark.scoped
def test_an_archived_leaver_still_signs_in_while_a_member_of_another_school(school_a, school_b):
    """As a job runs it: inside the syncing school's scope, which must not hide the other school."""
    with scopes_disabled():
        both = member(school_b, username="both").account
        MembershipFactory(school=school_a, account=both, person_type="student", mis_code="S1")
        alone = member(school_a, person_type="student", username="alone").account
        Membership.objects.filter(account=alone).update(mis_code="S3")
    with scope(school=school_a):
        run = run_sync(school_a, feed_zip(students=[student("S2")]), student_grace_days=0, confirm=True)

    assert run.state == "applied" and run.counts["archive"] == 2
    both.refresh_from_db()
    alone.refresh_from_db()
    assert both.is_active
    assert not alone.is_active


@pytest.mark.scoped
def test_a_transfer_closes_the_other_schools_membership_from_inside_this_schools_scope(school_a, school_b):
    with scope(school=school_b):
        old = member(school_b, username="mover", person_type="student")
    with scope(school=school_a):
        item = {
            "entity": "person", "outcome": "transfer", "person_type": "student", "mis_code": "S1",
            "membership_id": str(uuid.uuid4()), "account_id": str(old.account_id), "username": "mover",
            "before": {}, "after": {"from_membership_id": str(old.pk), "from_school_id": str(school_b.pk),
                                    "given_name": "Mo", "roles": []},
            "reason": "",
        }  # fmt: skip
        apply_plan(school=school_a, policy=policy_for(school_a), items=[item])
        assert Membership.objects.get(school=school_a, mis_code="S1").account_id == old.account_id

    with scope(school=school_b):
        old.refresh_from_db()
    assert old.status == "archived"
    assert Account.objects.get(pk=old.account_id).home_school_id == school_a.pk


ON_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite checks every key at the commit")


@ON_POSTGRESQL
def test_checks_aside_refuses_a_row_whose_parent_is_not_there_before_the_next_query(school_a, school_b):
    """The keys are checked while Python goes on, and a broken one stops the next query, as the commit would."""
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    with pytest.raises(IntegrityError, match="sync_record_run_fk"), transaction.atomic():
        with bulk.checks_aside():
            _records(run, ["another school's run"], school_id=school_b.pk)
            SyncRun.objects.count()  # never runs against a transaction the failed check aborted
    assert not SyncRecord.objects.exists()


@ON_POSTGRESQL
def test_checks_aside_raises_a_failed_check_when_the_block_ends(school_a, school_b):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    with pytest.raises(IntegrityError, match="sync_record_run_fk"), transaction.atomic():
        with bulk.checks_aside():
            _records(run, ["another school's run"], school_id=school_b.pk)
    assert not SyncRecord.objects.exists()


def test_checks_aside_keeps_rows_whose_parents_are_there_and_leaves_nothing_running(school_a):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    with bulk.checks_aside():
        _records(run, ["one", "two"])
        assert SyncRecord.objects.filter(run=run).count() == 2
        _records(run, ["three"])
    assert getattr(bulk._aside, "pending", None) is None
    assert SyncRecord.objects.filter(run=run).count() == 3
    connection.check_constraints()


def test_outside_checks_aside_the_checks_wait_for_the_commit(school_a, school_b):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        _records(run, ["another school's run"], school_id=school_b.pk)
        assert SyncRecord.objects.count() == 1  # written: nothing checked it yet
        connection.check_constraints()  # what the commit does


def _membership_rows_read(cursor) -> int:
    """Rows this transaction has read from accounts_membership so far, by scans and through indexes."""
    cursor.execute(
        "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_all_tables"
        " WHERE relname = 'accounts_membership'"
    )
    return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's cached plans of its foreign-key checks")
def test_a_big_write_has_its_foreign_key_checks_planned_for_the_table_as_it_now_is(school_a):
    """PostgreSQL keeps the plan of each foreign-key check for the connection's life. One made while the school
    had a handful of memberships read every membership of the school for each role checked after (seen: an upload
    of 10,000 people whose commit took 4.5 s, then 11.5 s, then 18.5 s as the school grew, and a first import at
    a quarter of its speed). A big write has the checks planned afresh. Here the stale plan is made sure of by
    planning the first checks with index scans switched off (the planner's choice on tiny tables is not ours)."""
    from accounts.models import Role
    from provisioning.sync.apply import insert_accounts, insert_memberships, insert_roles

    role = Role.objects.first().pk
    n = 3000
    with connection.cursor() as cursor:
        cursor.execute("DISCARD PLANS")  # as a new connection: no check planned yet
        cursor.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        for i in range(8):  # enough checks of a school's first few people for PostgreSQL to keep a generic plan
            m = MembershipFactory(school=school_a, mis_code=f"E{i}")
            insert_roles(school_a, [(m.pk, role)], timezone.now())
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("RESET enable_indexscan; RESET enable_bitmapscan")
        accounts = [(pk, f"big{i}", "A", "B", "", "") for i, pk in enumerate(bulk.new_ids(n))]
        insert_accounts(school_a, accounts, timezone.now(), password="!", must_change=False)
        memberships = [(m, a[0], "student", f"B{i}", "7", "7A", False)
                       for i, (m, a) in enumerate(zip(bulk.new_ids(n), accounts, strict=True))]  # fmt: skip
        insert_memberships(school_a, memberships, timezone.now())
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        before = _membership_rows_read(cursor)
        insert_roles(school_a, [(m[0], role) for m in memberships], timezone.now())
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        read = _membership_rows_read(cursor) - before
    assert read <= 2 * n  # about one membership read a role; the stale plan read the school's 3,000 for each


@ON_POSTGRESQL
def test_a_read_aside_runs_while_python_goes_on_and_queries_meanwhile_wait_for_it(school_a):
    """Sent at once; a query of Django's meanwhile waits for it on the same connection, in the same
    transaction (it sees a row written there and not committed)."""
    with transaction.atomic():
        MembershipFactory(school=school_a, mis_code="S77")
        started = time.perf_counter()
        read = bulk.ReadAside(
            "SELECT pg_sleep(0.3), count(*) FROM accounts_membership WHERE school_id = %s", [school_a.pk]
        )
        sent = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")
            assert cursor.fetchone() == (2,)
        waited = time.perf_counter() - started
        assert read.rows() == [("", 1)] and read.rows() == [("", 1)]
    assert sent < 0.2 <= waited  # the read did not hold up its sender, the next query waited for it


@ON_POSTGRESQL
def test_a_read_aside_that_fails_raises_djangos_error_when_its_rows_are_asked_for(school_a):
    from django.db import ProgrammingError

    with pytest.raises(ProgrammingError), transaction.atomic():
        bulk.ReadAside("SELECT * FROM no_such_table", []).rows()
    assert bulk.ReadAside.of([(1,)]).rows() == [(1,)]
