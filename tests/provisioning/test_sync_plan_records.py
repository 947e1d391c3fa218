"""A big plan's records go through a connection of their own (plan_records.py): kept or dropped with the run's
changes, never one without the other, and never seen by others before the run commits."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django_scopes import scopes_disabled

from accounts.models import Account, Membership
from provisioning.models import SyncRecord, SyncRun
from provisioning.sync import apply, plan_records, services
from tests.provisioning.sync_helpers import contact, feed_zip, receive, student, threads_writing_aside

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection's writes: PostgreSQL only"),
]

FEED = feed_zip([student("S1"), student("S2")], contacts=[contact("C1")], links=[["C1", "S1", "Mother", "yes"]])


@pytest.fixture
def aside(monkeypatch):
    """Every plan is big enough to go aside; records which thread wrote the records."""
    monkeypatch.setattr(plan_records, "RECORDS_ASIDE_MIN", 1)
    return threads_writing_aside(monkeypatch)


def _seen_from_outside(run) -> tuple[int, int]:
    """(the run's records, accounts) as another connection sees them now."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM provisioning_syncrecord WHERE run_id = %s", [run.pk])
            records = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM accounts_account")
            return records, cursor.fetchone()[0]
    finally:
        other.close()


def _scheduled_run(school) -> SyncRun:
    feed = receive(school, FEED)
    return SyncRun.objects.create(school=school, feed=feed, trigger=SyncRun.Trigger.SCHEDULED, dry_run=False)


def test_a_big_plans_records_are_written_aside_and_kept_with_the_changes(school_a, aside, monkeypatch):
    run = _scheduled_run(school_a)
    seen = []
    real_links = apply._apply_links

    def links(*args, **kwargs):
        seen.append(_seen_from_outside(run))
        return real_links(*args, **kwargs)

    monkeypatch.setattr(apply, "_apply_links", links)

    services.sync_plan(run=run)

    assert aside == ["rollcall-rows-aside"]
    assert seen == [(0, 0)]  # written, but nobody else sees them (nor the accounts) before the run commits
    run.refresh_from_db()
    assert run.state == SyncRun.State.APPLIED
    with scopes_disabled():
        outcomes = sorted(SyncRecord.objects.filter(run=run).values_list("entity", "outcome"))
        assert outcomes == [("link", "create"), ("person", "create"), ("person", "create"), ("person", "create")]
        assert Membership.objects.filter(school=school_a).count() == 3
    assert _seen_from_outside(run) == (4, 3)


def test_a_run_that_fails_after_its_records_were_written_keeps_neither(school_a, aside, monkeypatch):
    run = _scheduled_run(school_a)

    def broken(*args, **kwargs):
        raise RuntimeError("the apply broke")

    monkeypatch.setattr(apply, "_apply_links", broken)
    with pytest.raises(RuntimeError):
        services.sync_plan(run=run)

    assert aside == ["rollcall-rows-aside"]
    assert _seen_from_outside(run) == (0, 0)


def test_records_that_fail_their_checks_fail_the_run_before_anything_commits(school_a, aside, monkeypatch):
    run = _scheduled_run(school_a)
    real_rows = plan_records.record_rows

    def orphaned(run_, items):
        rows = real_rows(run_, items)
        return [(row[0], SyncRun().pk, *row[2:]) for row in rows]  # a run that does not exist

    monkeypatch.setattr(plan_records, "record_rows", orphaned)
    with pytest.raises(IntegrityError):
        services.sync_plan(run=run)

    assert _seen_from_outside(run) == (0, 0)
    with scopes_disabled():
        assert not Account.objects.exists()


def test_inside_a_transaction_the_records_stay_in_it(school_a, aside):
    """The other connection could not see a run created in the caller's open transaction."""
    with transaction.atomic():
        run = _scheduled_run(school_a)
        services.sync_plan(run=run)
    assert aside == []
    run.refresh_from_db()
    assert run.state == SyncRun.State.APPLIED
    with scopes_disabled():
        assert SyncRecord.objects.filter(run=run).count() == 4


def test_a_small_plan_writes_its_records_in_the_runs_transaction(school_a, aside, monkeypatch):
    monkeypatch.setattr(plan_records, "RECORDS_ASIDE_MIN", 5)
    run = _scheduled_run(school_a)
    services.sync_plan(run=run)
    assert aside == []
    with scopes_disabled():
        assert SyncRecord.objects.filter(run=run).count() == 4


def test_the_revoke_forecast_is_read_aside_from_the_school_as_the_plan_found_it(school_a, aside, monkeypatch):
    """Read on the records' connection while the run applies: it cannot see the run's writes, so it counts
    the contacts the plan moves (after the apply they are in Ready to Revoke Access already, and a read then
    would count none), and the run waits for it before its counts are kept."""
    from tests.provisioning.test_sync_revoke_warning import _family, _flags_off

    _family(school_a)
    readers = []
    real = services.contacts_to_revoke

    def forecast(*args):
        readers.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(services, "contacts_to_revoke", forecast)
    feed = receive(school_a, _flags_off({"C1", "C2"}))
    run = SyncRun.objects.create(school=school_a, feed=feed, trigger=SyncRun.Trigger.SCHEDULED, dry_run=False)
    services.sync_plan(run=run)

    assert readers == ["rollcall-rows-aside"]
    run.refresh_from_db()
    assert run.state == SyncRun.State.APPLIED and run.counts["contacts_to_revoke"] == 2
    with scopes_disabled():
        assert sorted(SyncRecord.objects.filter(run=run).values_list("mis_code", "outcome")) == [
            ("C1", "update"), ("C2", "update")]  # fmt: skip
