"""A stored plan whose usernames another school took since the preview is stale: refused in words that name
the cause, nothing changed (on PostgreSQL too, where a statement after the failed one used to hide it)."""

import pytest
from django_scopes import scope

from accounts.models import Account, Membership
from provisioning.models import SyncRecord, SyncRun
from provisioning.sync import services
from tenancy.models import Job
from tenancy.tasks import run_school_job
from tests.factories import AccountFactory
from tests.provisioning.sync_helpers import feed_zip, run_sync, student

pytestmark = pytest.mark.django_db


def _planned_with_a_newcomer(school):
    """Applied once (two students), then a preview that renames no one and creates one newcomer."""
    run_sync(school, feed_zip([student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones")]))
    run = run_sync(school, feed_zip([student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones"),
                                     student("S3", "Cat", "Brown")]), apply=False)  # fmt: skip
    assert run.state == "planned"
    newcomer = SyncRecord.objects.get(run=run, outcome="create")
    return run, newcomer.username


def _apply_as_a_job(school, run, actor):
    run = services.sync_apply_start(school=school, actor=actor, run=run)
    job = Job.objects.get(pk=run.job_id)
    run_school_job(str(school.pk), str(job.pk), services.sync_run_job)
    job.refresh_from_db()
    run.refresh_from_db()
    return run, job


def _nothing_changed(school):
    assert not Membership.objects.filter(school=school, mis_code="S3").exists()


def test_a_plan_whose_new_username_another_school_took_is_refused_as_stale(school_a, school_b, nominated_contact):
    run, username = _planned_with_a_newcomer(school_a)
    with scope(school=school_b):
        AccountFactory(username=username.upper(), home_school=school_b)  # any case: usernames ignore it

    run, job = _apply_as_a_job(school_a, run, nominated_contact)

    assert run.state == "superseded" and job.state == "failed"
    for message in (run.message, job.error):
        assert f"were taken by other accounts since it was made ({username})" in message
        assert "Press Synchronise Users for a fresh plan." in message
        assert "transaction is aborted" not in message and "['" not in message
    _nothing_changed(school_a)


def test_a_username_taken_while_the_apply_writes_names_the_cause(school_a, school_b, nominated_contact, monkeypatch):
    # The other school's account appears after the check (another transaction committing meanwhile): the
    # database's unique index refuses the insert, and the run says so instead of "transaction is aborted".
    run, username = _planned_with_a_newcomer(school_a)
    with scope(school=school_b):
        AccountFactory(username=username, home_school=school_b)
    monkeypatch.setattr(services, "planned_names_taken", lambda items: [])

    run, job = _apply_as_a_job(school_a, run, nominated_contact)

    assert run.state == "superseded" and job.state == "failed"
    for message in (run.message, job.error):
        assert "A username this run gives was taken by another account while it was being applied" in message
        assert "transaction is aborted" not in message
    _nothing_changed(school_a)
    assert Account.objects.filter(username__iexact=username).count() == 1


def test_a_plan_whose_usernames_are_still_free_is_applied(school_a, nominated_contact):
    run, username = _planned_with_a_newcomer(school_a)
    run, job = _apply_as_a_job(school_a, run, nominated_contact)
    assert run.state == SyncRun.State.APPLIED and job.state == "succeeded"
    assert Membership.objects.get(school=school_a, mis_code="S3").account.username == username
