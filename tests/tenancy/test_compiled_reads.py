"""A read compiled once answers as its queryset would, for any values, and refuses what it cannot keep."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import ScopeError, scope, scopes_disabled

from accounts.models import Membership
from tenancy.compiled_reads import CompiledRead
from tenancy.models import School
from tests.factories import member


def _left_by(school_id, day):
    return Membership.objects.filter(school=school_id, left_on__lte=day).order_by("left_on")


def _leavers(school_id, day):
    return _left_by(school_id, day).select_related("account", "school")


def _counts(school_id, day, now):
    return (
        School.objects.filter(pk=school_id)
        .annotate(any_left=Exists(_left_by(OuterRef("pk"), day).filter(created_at__lte=now)))
        .values_list("slug", "any_left")
    )


@pytest.fixture
def leavers(school_a, school_b):
    made = {}
    for school in (school_a, school_b):
        with scope(school=school):
            for n in range(3):
                m = member(school, person_type="student")
                m.left_on = date(2026, 7, 20 + n)
                m.save(update_fields=["left_on"])
                made.setdefault(school.pk, []).append(m)
    return made


@pytest.mark.parametrize("day", [date(2026, 7, 19), date(2026, 7, 21), date(2026, 9, 1)])
def test_it_answers_as_its_queryset_for_any_values(leavers, school_a, school_b, day):
    read = CompiledRead("leavers", _leavers, school_id="uuid", day="date")
    for school in (school_a, school_b, school_a):
        with scope(school=school):
            got = read(school_id=school.pk, day=day)
            expected = list(_leavers(school.pk, day))
        assert [m.pk for m in got] == [m.pk for m in expected]
        assert [(m.left_on, m.account.username, m.school.slug) for m in got] == [
            (m.left_on, m.account.username, m.school.slug) for m in expected
        ]


def test_it_builds_once_and_then_sends_one_query(leavers, school_a, school_b):
    built = []

    def build(**values):
        built.append(values)
        return _counts(**values)

    read = CompiledRead("counts", build, school_id="uuid", day="date", now="datetime")
    now = timezone.now()
    with scopes_disabled():
        read(school_id=school_a.pk, day=date(2026, 7, 20), now=now)
        assert len(built) == 2  # the two stand-ins
        with CaptureQueriesContext(connection) as queries:
            assert read(school_id=school_b.pk, day=date(2026, 7, 1), now=now) == [(school_b.slug, False)]
            assert read(school_id=school_b.pk, day=date(2026, 7, 20), now=now) == [(school_b.slug, True)]
            assert read(school_id=str(school_b.pk), day=date(2026, 7, 20), now=now - timedelta(days=1)) == [
                (school_b.slug, False)
            ]
        assert len(queries) == 3
        assert len(built) == 2


def test_it_refuses_a_value_worked_out_inside(school_a):
    read = CompiledRead(
        "derived", lambda school_id, day: _left_by(school_id, day - timedelta(days=1)), school_id="uuid", day="date"
    )
    with scopes_disabled(), pytest.raises(ImproperlyConfigured, match="none of them as given"):
        read(school_id=school_a.pk, day=date(2026, 7, 20))


def test_it_refuses_sql_whose_shape_changes_with_its_values(school_a):
    def build(school_id):
        return (
            School.objects.filter(pk=school_id) if school_id.int % 2 else School.objects.filter(pk=school_id, slug="x")
        )

    read = CompiledRead("shape", build, school_id="uuid")
    with scopes_disabled():
        for _ in range(20):  # two stand-ins of different shapes, sooner or later
            read._compiled.clear()
            try:
                read(school_id=school_a.pk)
            except ImproperlyConfigured as refused:
                assert "changes with its values" in str(refused)
                return
    pytest.fail("never refused")


def test_it_takes_exactly_its_values(school_a):
    read = CompiledRead("leavers", _leavers, school_id="uuid", day="date")
    with scopes_disabled(), pytest.raises(TypeError):
        read(school_id=school_a.pk)


def test_it_names_its_school():
    with pytest.raises(ImproperlyConfigured, match="names its school"):
        CompiledRead("any school", lambda day: _left_by(None, day), day="date")


@pytest.mark.scoped
def test_it_needs_a_school_in_scope_and_only_that_school(leavers, school_a, school_b):
    read = CompiledRead("leavers", _leavers, school_id="uuid", day="date")
    with pytest.raises(ScopeError):
        read(school_id=school_a.pk, day=date(2026, 9, 1))
    with scope(school=school_b), pytest.raises(ScopeError, match="another school"):
        read(school_id=school_a.pk, day=date(2026, 9, 1))
    with scope(school=school_a):
        assert len(read(school_id=school_a.pk, day=date(2026, 9, 1))) == 3


@pytest.mark.skipif(not connection.features.has_select_for_update, reason="SQLite has no row locks")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # outside the test's own transaction
def test_a_locking_read_needs_a_transaction(school_a, leavers):
    read = CompiledRead(
        "locked", lambda school_id: Membership.objects.select_for_update().filter(school=school_id), school_id="uuid"
    )
    with scopes_disabled():
        with transaction.atomic():
            assert len(read(school_id=school_a.pk)) == 3
        with pytest.raises(TransactionManagementError):
            read(school_id=school_a.pk)
