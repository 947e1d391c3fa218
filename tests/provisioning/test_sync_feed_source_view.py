"""The Feed source section of Bulk User Synchronise: a OneRoster server's address and credentials, Pull now."""

import pytest
from django.urls import reverse

from provisioning.models import RosterSource
from tenancy.models import Job

pytestmark = pytest.mark.django_db

VALUES = {
    "enabled": "on",
    "base_url": "https://sis.example.org/ims/oneroster/rostering/v1p2/",
    "token_url": "https://sis.example.org/oauth/token",
    "client_id": "rollcall",
    "client_secret": "hunter2-secret",
}


def _url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


def test_it_saves_the_source_and_never_shows_the_secret_back(login, centre_admin, school_a):
    client = login(centre_admin)
    answer = client.post(_url("sync_feed_source", school_a), {**VALUES, "action": "save"})
    assert answer.status_code == 302
    source = RosterSource.objects.get(school=school_a)
    assert source.base_url == "https://sis.example.org/ims/oneroster/rostering/v1p2"  # no trailing slash
    page = client.get(_url("sync_policy", school_a)).content.decode()
    assert "Feed source" in page and "A client secret is kept." in page
    assert "hunter2" not in page and source.secret_encrypted not in page


def test_a_blank_secret_keeps_the_one_kept(login, centre_admin, school_a):
    client = login(centre_admin)
    client.post(_url("sync_feed_source", school_a), VALUES)
    kept = RosterSource.objects.get(school=school_a).secret_encrypted
    client.post(_url("sync_feed_source", school_a), {**VALUES, "client_secret": "", "client_id": "other"})
    source = RosterSource.objects.get(school=school_a)
    assert (source.client_id, source.secret_encrypted) == ("other", kept)


def test_switching_it_on_without_a_secret_says_what_is_missing(login, centre_admin, school_a):
    answer = login(centre_admin).post(_url("sync_feed_source", school_a), {**VALUES, "client_secret": ""})
    assert answer.status_code == 400
    assert "Enter the client secret" in answer.content.decode()
    assert not RosterSource.objects.filter(school=school_a).exists()


def test_a_bad_address_is_a_message_not_a_500(login, centre_admin, school_a):
    answer = login(centre_admin).post(_url("sync_feed_source", school_a), {**VALUES, "base_url": "not a url"})
    assert answer.status_code == 400 and "Enter a valid URL" in answer.content.decode()


def test_pull_now_starts_a_job_the_school_can_follow(login, centre_admin, school_a, monkeypatch):
    from provisioning import tasks

    monkeypatch.setattr(tasks.roster_pull_task, "delay", lambda *args: None)  # the pull itself: its own tests
    client = login(centre_admin)
    answer = client.post(_url("sync_feed_source", school_a), {**VALUES, "action": "pull"})
    job = Job.objects.get(school=school_a, kind="roster_pull")
    assert answer["Location"] == _url("job_detail", school_a, job_id=job.pk)
    assert client.get(answer["Location"]).status_code == 200


def test_pull_now_without_a_source_says_so(login, centre_admin, school_a):
    answer = login(centre_admin).post(_url("sync_feed_source", school_a), {**VALUES, "enabled": "", "action": "pull"})
    assert answer.status_code == 400 and "Set the OneRoster server" in answer.content.decode()
    assert not Job.objects.filter(school=school_a, kind="roster_pull").exists()


def test_inv_user_cannot_set_the_feed_source(login, inv_user, school_a):
    assert login(inv_user).post(_url("sync_feed_source", school_a), VALUES).status_code == 403
    assert not RosterSource.objects.exists()


def test_another_schools_admin_cannot_set_it(login, other_school_admin, school_a):
    assert login(other_school_admin).post(_url("sync_feed_source", school_a), VALUES).status_code == 404
