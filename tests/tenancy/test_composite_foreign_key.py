"""tenancy.constraints.CompositeForeignKey: a row hanging off a school-owned parent is at its parent's school.

A role, a contact link and a sync record name their school and their parent (membership, run) in one key, on
both databases: a row whose school is not its parent's is refused, a row whose parent is gone is refused, and
Django's own cascades still delete them with their parent or school."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import ContactLink, Membership, PersonType, RoleAssignment
from provisioning.models import SyncRecord, SyncRun
from tenancy.constraints import CompositeForeignKey
from tests.factories import MembershipFactory, SchoolFactory

pytestmark = pytest.mark.django_db


def _checked():
    """The deferred keys checked now, as a commit would (PostgreSQL: SET CONSTRAINTS ALL IMMEDIATE; SQLite:
    PRAGMA foreign_key_check), inside a savepoint so a refusal leaves the test's transaction usable."""
    connection.check_constraints()


def _refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()
        _checked()


@pytest.fixture
def two_schools():
    return SchoolFactory(), SchoolFactory()


def test_a_role_at_another_school_than_its_membership_is_refused(two_schools):
    here, there = two_schools
    membership = MembershipFactory(school=here)
    _refused(lambda: RoleAssignment.objects.create(membership=membership, school=there, role_id="eo"))
    RoleAssignment.objects.create(membership=membership, school=here, role_id="eo")
    _checked()


def test_a_contact_link_between_two_schools_people_is_refused(two_schools):
    here, there = two_schools
    contact = MembershipFactory(school=here, person_type=PersonType.CONTACT)
    student_here = MembershipFactory(school=here, person_type=PersonType.STUDENT)
    student_there = MembershipFactory(school=there, person_type=PersonType.STUDENT)
    _refused(lambda: ContactLink.objects.create(school=here, contact=contact, student=student_there))
    _refused(lambda: ContactLink.objects.create(school=there, contact=contact, student=student_there))
    ContactLink.objects.create(school=here, contact=contact, student=student_here)
    _checked()


def test_a_sync_record_of_another_schools_run_is_refused(two_schools):
    here, there = two_schools
    run = SyncRun.objects.create(school=here, trigger="manual")
    record = {"run": run, "outcome": "create", "person_type": "student"}
    _refused(lambda: SyncRecord.objects.create(school=there, **record))
    SyncRecord.objects.create(school=here, **record)
    _checked()


def test_a_row_whose_parent_is_gone_is_refused(two_schools):
    here, _there = two_schools
    membership = MembershipFactory(school=here)

    def orphan():
        RoleAssignment.objects.create(membership=membership, school=here, role_id="eo")
        with connection.cursor() as cursor:  # behind Django's back: no cascade
            pk = Membership._meta.pk.get_db_prep_value(membership.pk, connection)
            cursor.execute("DELETE FROM accounts_membership WHERE id = %s", [pk])

    _refused(orphan)


def test_django_cascades_still_delete_the_rows_with_their_parent_and_school(two_schools):
    here, there = two_schools
    contact = MembershipFactory(school=here, person_type=PersonType.CONTACT)
    student = MembershipFactory(school=here, person_type=PersonType.STUDENT)
    RoleAssignment.objects.create(membership=student, school=here, role_id="eo")
    ContactLink.objects.create(school=here, contact=contact, student=student)
    run = SyncRun.objects.create(school=here, trigger="manual")
    SyncRecord.objects.create(school=here, run=run, outcome="create", person_type="student")
    kept = MembershipFactory(school=there)
    RoleAssignment.objects.create(membership=kept, school=there, role_id="eo")

    student.delete()
    assert not ContactLink.objects.filter(school=here).exists()
    assert not RoleAssignment.objects.filter(school=here).exists()
    run.delete()
    assert not SyncRecord.objects.filter(school=here).exists()
    _checked()

    MembershipFactory(school=here)
    here.delete()
    assert not Membership.objects.filter(school_id=here.pk).exists()
    assert RoleAssignment.objects.filter(school=there).count() == 1
    _checked()


def test_full_clean_names_the_broken_key(two_schools):
    here, there = two_schools
    membership = MembershipFactory(school=here)
    with pytest.raises(ValidationError, match="role_assignment_membership_fk"):
        RoleAssignment(membership=membership, school=there, role_id="eo").full_clean()
    RoleAssignment(membership=membership, school=here, role_id="eo").full_clean()


def test_it_deconstructs_to_itself():
    key = CompositeForeignKey(fields=["run", "school"], to="provisioning.SyncRun", to_fields=["id", "school"],
                              name="k")  # fmt: skip
    path, args, kwargs = key.deconstruct()
    assert path == "tenancy.constraints.CompositeForeignKey"
    assert CompositeForeignKey(*args, **kwargs) == key
    assert key != CompositeForeignKey(fields=["run", "school"], to="provisioning.SyncRun", to_fields=["id", "school"],
                                      name="other")  # fmt: skip


def _schema_editor():
    """What the migrations' repair steps use of one: its connection, and SQL run on it."""

    def execute(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return SimpleNamespace(connection=connection, execute=execute)


def test_the_accounts_migration_repairs_rows_that_named_another_school(two_schools):
    """Rows written while the keys were separate: a role or link takes its membership's school, a link
    joining two schools' people goes."""
    here, there = two_schools
    contact = MembershipFactory(school=here, person_type=PersonType.CONTACT)
    student = MembershipFactory(school=here, person_type=PersonType.STUDENT)
    student_there = MembershipFactory(school=there, person_type=PersonType.STUDENT)
    role = RoleAssignment.objects.create(membership=student, school=there, role_id="eo")
    link = ContactLink.objects.create(school=there, contact=contact, student=student)
    across = ContactLink.objects.create(school=here, contact=contact, student=student_there)
    kept = ContactLink.objects.create(school=there, contact=MembershipFactory(school=there), student=student_there)

    migration = import_module("accounts.migrations.0016_membership_keys_with_their_school")
    migration.rows_across_schools_repair(apps, _schema_editor())

    role.refresh_from_db()
    link.refresh_from_db()
    assert (role.school, link.school) == (here, here)
    assert not ContactLink.objects.filter(pk=across.pk).exists()
    assert ContactLink.objects.get(pk=kept.pk).school == there
    _checked()


def test_the_provisioning_migration_gives_records_their_runs_school(two_schools):
    here, there = two_schools
    run = SyncRun.objects.create(school=here, trigger="manual")
    record = SyncRecord.objects.create(school=there, run=run, outcome="create", person_type="student")

    migration = import_module("provisioning.migrations.0019_sync_record_run_key_with_its_school")
    migration.records_across_schools_repair(apps, _schema_editor())

    record.refresh_from_db()
    assert record.school == here
    _checked()
