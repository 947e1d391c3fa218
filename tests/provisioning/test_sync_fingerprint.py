"""The school's state fingerprint moves with every change the planner could see, and with nothing else: on
PostgreSQL a count that triggers keep (provisioning migration 0007) without making a writer wait on another,
elsewhere a digest of the state itself."""

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.models import ContactLink, Membership, RoleAssignment
from provisioning.models import SchoolDataChange, SchoolDataVersion
from provisioning.sync import bulk, services
from provisioning.sync import state as planning
from provisioning.sync.apply import MEMBERSHIP_INSERT
from provisioning.sync.fingerprint import changes_by_hand, stale_changes_fold
from tests.factories import ContactLinkFactory, MembershipFactory, RoleAssignmentFactory
from tests.provisioning.sync_helpers import feed_zip, run_sync, student

pytestmark = pytest.mark.django_db
pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the version and its triggers exist on PostgreSQL only"
)


def moves(school, change) -> bool:
    before = planning.current_fingerprint(school)
    change()
    return planning.current_fingerprint(school) != before


def version(school) -> int:
    """The folded version plus every change row's statements, this transaction's own included."""
    folded = SchoolDataVersion.objects.filter(school=school).values_list("version", flat=True).first() or 0
    return folded + sum(SchoolDataChange.objects.filter(school=school).values_list("statements", flat=True))


def test_it_moves_when_a_membership_is_added_changed_or_removed(school_a):
    assert moves(school_a, lambda: MembershipFactory(school=school_a, mis_code="S1"))
    assert moves(school_a, lambda: Membership.objects.filter(school=school_a).update(year_group="9"))
    assert moves(school_a, lambda: Membership.objects.filter(school=school_a, mis_code="S1").delete())


def test_it_moves_when_a_role_is_granted_or_taken_away(school_a):
    membership = MembershipFactory(school=school_a)
    assert moves(school_a, lambda: RoleAssignmentFactory(membership=membership, role_id="eo"))
    assert moves(school_a, lambda: RoleAssignment.objects.filter(membership=membership).delete())


def test_it_moves_when_a_contact_link_is_made_changed_or_removed(school_a):
    contact = MembershipFactory(school=school_a, person_type="contact")
    child = MembershipFactory(school=school_a, person_type="student")
    assert moves(school_a, lambda: ContactLinkFactory(school=school_a, contact=contact, student=child))
    assert moves(school_a, lambda: ContactLink.objects.filter(school=school_a).update(relationship="Carer"))
    assert moves(school_a, lambda: ContactLink.objects.filter(school=school_a).delete())


def test_it_moves_when_a_members_account_is_renamed_or_its_email_changes(school_a):
    account = MembershipFactory(school=school_a).account

    def rename():
        account.family_name = "Renamed"
        account.save()

    def new_email():
        account.email = "new@example.org"
        account.save(update_fields=["email"])

    assert moves(school_a, rename)
    assert moves(school_a, new_email)


def test_it_stays_when_a_member_signs_in(school_a):
    account = MembershipFactory(school=school_a).account
    account.last_login = timezone.now()
    assert not moves(school_a, lambda: account.save(update_fields=["last_login"]))


def test_it_stays_when_another_schools_people_change(school_a, school_b):
    MembershipFactory(school=school_a)
    theirs = MembershipFactory(school=school_b)

    def elsewhere():
        RoleAssignmentFactory(membership=theirs, role_id="eo")
        Membership.objects.filter(pk=theirs.pk).update(form="changed")
        theirs.account.given_name = "Other"
        theirs.account.save()

    assert not moves(school_a, elsewhere)
    assert moves(school_b, lambda: Membership.objects.filter(pk=theirs.pk).delete())


def test_it_moves_for_each_school_of_a_renamed_account(school_a, school_b):
    ours = MembershipFactory(school=school_a)
    MembershipFactory(school=school_b, account=ours.account)
    before = planning.current_fingerprint(school_a), planning.current_fingerprint(school_b)
    ours.account.username = "renamed"
    ours.account.save()
    assert planning.current_fingerprint(school_a) != before[0]
    assert planning.current_fingerprint(school_b) != before[1]


def test_it_moves_when_the_sync_writes_in_bulk(school_a):
    """bulk.insert_rows writes with COPY on PostgreSQL: the statement-level triggers fire for COPY too."""
    account = MembershipFactory(school=school_a).account
    now = timezone.now()

    def copy_membership():
        row = (bulk.new_ids(1)[0], str(account.pk), "student", "S9", "7", "7A", False)
        same = {"school_id": school_a.pk, "status": "active", "created_at": now, "updated_at": now}
        bulk.insert_rows(Membership, MEMBERSHIP_INSERT, [row], same=same)

    def copy_role():
        row = (bulk.new_ids(1)[0], str(Membership.objects.get(school=school_a, mis_code="S9").pk), "eo")
        bulk.insert_rows(RoleAssignment, ["id", "membership_id", "role_id"], [row],
                         same={"school_id": school_a.pk, "granted_at": now})  # fmt: skip

    assert moves(school_a, copy_membership)
    assert moves(school_a, copy_role)


def test_a_sync_applied_after_a_sign_in_is_still_the_plan_it_checked(school_a):
    run_sync(school_a, feed_zip(students=[student("S1")]))
    run = run_sync(school_a, feed_zip(students=[student("S1", "Anne")]), apply=False)
    signed_in = Membership.objects.get(school=school_a, mis_code="S1").account
    signed_in.last_login = timezone.now()
    signed_in.save(update_fields=["last_login"])
    assert services.sync_apply(run=run).state == "applied"


@pg_only
def test_one_statement_moves_the_version_once_however_many_rows_it_writes(school_a):
    for _ in range(3):
        MembershipFactory(school=school_a)
    before = version(school_a)
    Membership.objects.filter(school=school_a).update(form="8B")
    assert version(school_a) == before + 1


@pg_only
def test_a_statement_that_writes_nothing_leaves_the_version(school_a):
    MembershipFactory(school=school_a)
    before = version(school_a)
    Membership.objects.filter(school=school_a, mis_code="nobody").update(form="8B")
    assert version(school_a) == before


@pg_only
def test_emptying_a_table_moves_every_schools_version(school_a, school_b):
    ContactLinkFactory(school=school_a)
    ContactLinkFactory(school=school_b)
    before = version(school_a), version(school_b)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the links' foreign key checks, due at commit
        cursor.execute("TRUNCATE accounts_contactlink")
    assert (version(school_a), version(school_b)) == (before[0] + 1, before[1] + 1)


@pg_only
def test_the_active_count_comes_with_the_version(school_a):
    MembershipFactory(school=school_a)
    MembershipFactory(school=school_a, status="left")
    fingerprint, active = planning.fingerprint_and_active(school_a)
    assert (fingerprint, active) == (planning.current_fingerprint(school_a), 1)
    assert fingerprint == f"version:0+{version(school_a)}"  # all written by this (the test's) transaction


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_committed_while_the_plan_reads_the_state_makes_apply_refuse(school_a, monkeypatch):
    """Another session's change lands after the memberships were read: whatever the plan holds, its
    version must be one from before the change, or Apply would carry out a plan made on a stale state."""
    run_sync(school_a, feed_zip(students=[student("S1")]))
    keep, changed = planning._keep, []

    def keep_after_a_change(state, row):
        if not changed:
            changed.append(True)
            other = connections.create_connection("default")  # its own session, committing at once
            try:
                with other.cursor() as cursor:
                    cursor.execute("UPDATE accounts_membership SET form = 'by hand' WHERE school_id = %s",
                                   [school_a.pk])  # fmt: skip
            finally:
                other.close()
        keep(state, row)

    monkeypatch.setattr(planning, "_keep", keep_after_a_change)
    run = run_sync(school_a, feed_zip(students=[student("S1", "Anne")]), apply=False)
    monkeypatch.undo()
    assert changed and run.state == "planned"
    with pytest.raises(services.SyncRefused, match="fresh plan"):
        services.sync_apply(run=run)


@pg_only
def test_a_rolled_back_write_leaves_the_version(school_a):
    MembershipFactory(school=school_a)
    before = version(school_a)
    with pytest.raises(RuntimeError), transaction.atomic():
        Membership.objects.filter(school=school_a).update(form="8B")
        raise RuntimeError("undone")
    assert version(school_a) == before


@pg_only
def test_folding_moves_the_changes_into_the_version_and_keeps_the_sum(school_a):
    MembershipFactory(school=school_a)
    Membership.objects.filter(school=school_a).update(form="8B")
    before = version(school_a)
    planned = planning.current_fingerprint(school_a)
    assert planning.applied_fingerprint(school_a, planned) == f"version:{before}+0"
    assert not SchoolDataChange.objects.filter(school=school_a).exists()
    assert version(school_a) == before
    assert planning.current_fingerprint(school_a) == f"version:{before}+0"


@pg_only
def test_a_night_that_changes_nothing_folds_the_edits_of_the_day(school_a):
    """Else a school whose runs never write would keep a change row for every editing transaction."""
    content = feed_zip([student("S1"), student("S2", "Bob")])
    run_sync(school_a, content)
    Membership.objects.filter(school=school_a, mis_code="S1").update(updated_at=timezone.now())  # nothing to undo
    assert SchoolDataChange.objects.filter(school=school_a).exists()
    run = run_sync(school_a, content)
    assert run.state == "applied" and run.counts == {"unchanged": 2}
    assert not SchoolDataChange.objects.filter(school=school_a).exists()
    assert planning.current_fingerprint(school_a) == run.applied_fingerprint


def other_session():
    """A connection of its own, committing each statement at once, that gives up on any lock it waits for
    rather than hang the test (an edit must never wait on a sync's version)."""
    other = connections.create_connection("default")
    other.ensure_connection()
    other.connection.execute("SET lock_timeout = '3s'")
    return other


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_edit_committed_while_a_sync_is_open_neither_waits_nor_deadlocks(school_a):
    """The deadlock the per-school version row caused: the sync's first write held the version row until it
    committed, the edit held its membership and waited for the version row, the sync then wanted that
    membership. With a change row per transaction the edit waits for nothing the sync holds."""
    ours, theirs = MembershipFactory(school=school_a), MembershipFactory(school=school_a)
    other = other_session()
    try:
        with transaction.atomic():
            planned = planning.fingerprint_and_active(school_a)[0]
            Membership.objects.filter(pk=ours.pk).update(form="sync")  # the sync's first write
            with other.cursor() as cursor:  # by hand, committed while the sync is open
                cursor.execute("UPDATE accounts_membership SET form = 'by hand' WHERE id = %s", [theirs.pk])
            Membership.objects.filter(pk=theirs.pk).update(form="sync")  # the sync's later write
            applied = planning.applied_fingerprint(school_a, planned)
    finally:
        other.close()
    assert Membership.objects.get(pk=theirs.pk).form == "sync"
    assert planning.current_fingerprint(school_a) != applied  # the edit came after the plan's reading


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_edit_committed_during_a_sync_makes_the_next_run_plan_in_full(school_a, monkeypatch):
    """Committed after the plan's reading and before the fold: the fold takes its row in, but the applied
    fingerprint must not count it, or the next run would take the school as the sync left it."""
    feed = feed_zip(students=[student("S1"), student("S2")])
    run = run_sync(school_a, feed)
    assert planning.current_fingerprint(school_a) == run.applied_fingerprint  # the sync's own writes alone
    theirs = Membership.objects.get(school=school_a, mis_code="S2")
    fold = planning.applied_fingerprint

    def edit_then_fold(school, planned, **kwargs):
        other = other_session()
        try:
            with other.cursor() as cursor:
                cursor.execute("UPDATE accounts_membership SET form = 'by hand' WHERE id = %s", [theirs.pk])
        finally:
            other.close()
        return fold(school, planned, **kwargs)

    monkeypatch.setattr(planning, "applied_fingerprint", edit_then_fold)
    run = run_sync(school_a, feed_zip(students=[student("S1", "Anne"), student("S2")]))
    monkeypatch.undo()
    assert run.state == "applied"
    assert planning.current_fingerprint(school_a) != run.applied_fingerprint


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_edit_still_open_when_the_sync_folds_counts_once_it_commits(school_a):
    ours, theirs = MembershipFactory(school=school_a), MembershipFactory(school=school_a)
    other = other_session()
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("UPDATE accounts_membership SET form = 'by hand' WHERE id = %s", [theirs.pk])
        with transaction.atomic():
            planned = planning.current_fingerprint(school_a)
            Membership.objects.filter(pk=ours.pk).update(form="sync")
            applied = planning.applied_fingerprint(school_a, planned)  # cannot see the edit's row: leaves it
        assert planning.current_fingerprint(school_a) == applied
        other.commit()
    finally:
        other.close()
    assert planning.current_fingerprint(school_a) != applied


@pg_only
def test_change_rows_no_sync_folds_are_folded_after_a_week_keeping_the_fingerprint(school_a, school_b):
    MembershipFactory(school=school_a)
    MembershipFactory(school=school_b)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE provisioning_schooldatachange SET created_at = now() - interval '8 days' WHERE school_id = %s",
            [school_a.pk],
        )
    before = version(school_a), version(school_b)

    assert stale_changes_fold() == 1

    assert not SchoolDataChange.objects.filter(school=school_a).exists()
    assert SchoolDataChange.objects.filter(school=school_b).exists()
    assert (version(school_a), version(school_b)) == before  # the sum a fingerprint is read from


@pg_only
def test_after_such_a_fold_the_next_sync_compares_the_whole_feed(school_a):
    run = run_sync(school_a, feed_zip([student("S1")]))
    MembershipFactory(school=school_a, person_type="staff", mis_code="T1")
    assert changes_by_hand(school_a, run.applied_fingerprint) is not None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE provisioning_schooldatachange SET created_at = now() - interval '8 days'")
    stale_changes_fold()
    assert changes_by_hand(school_a, run.applied_fingerprint) is None
