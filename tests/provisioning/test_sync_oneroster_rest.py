"""A school's feed pulled from a OneRoster 1.2 REST server: against Rollcall's own server on a local port (one
school serves, another pulls), and against recorded pages in the shape of the spec's examples."""

import json
from datetime import time, timedelta

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.utils import timezone

from accounts.models import AuditEvent, ContactLink, Membership
from provisioning.models import Feed, SchoolNightly, SyncRun
from provisioning.sync import nightly, oneroster_rest, services
from provisioning.sync.oneroster_rest import roster_pull_start, roster_source_save
from provisioning.sync.policy import policy_for
from signon.models import ROSTER_SCOPE
from tenancy.models import Job
from tests.factories import ContactLinkFactory, member
from tests.rostering.conftest import register_reader

BASE = "/ims/oneroster/rostering/v1p2"


def _source(school, actor, *, base, token, client_id="reader", secret="s3cret"):
    return roster_source_save(
        school=school,
        actor=actor,
        values={"enabled": True, "base_url": base, "token_url": token, "client_id": client_id},
        secret=secret,
    )


@pytest.fixture
def pull(django_capture_on_commit_callbacks):
    """Pull now, its job run (eager Celery) once the request's transaction commits; the job, reloaded."""

    def start(school):
        with django_capture_on_commit_callbacks(execute=True):
            job = roster_pull_start(school=school, actor=None)
        job.refresh_from_db()
        return job

    return start


def _plan_and_apply(school, feed):
    run = SyncRun.objects.create(school=school, feed=feed, trigger="manual", dry_run=True)
    services.sync_plan(run=run)
    assert run.state == "planned", (run.state, run.message)
    services.sync_apply(run=run)
    run.refresh_from_db()
    return run


# --- Against Rollcall's own server, over HTTP ---------------------------------------------------------------


@pytest.fixture
def live(live_server, django_db_serialized_rollback):
    """Rollcall on a local port. Its tests commit for real, so the rows the migrations seeded (the roles
    catalogue) are put back after each (serialized rollback), for the tests that follow."""
    return live_server


@pytest.fixture
def served(school_a):
    """School A's people, served to a roster reader of its organisation."""
    teacher = member(school_a, "eo", given_name="Violet", family_name="Boyce", email="vboyce@alder.sch.uk")
    Membership.objects.filter(pk=teacher.pk).update(mis_code="T1042")
    link = ContactLinkFactory(school=school_a, relationship="Guardian")
    Membership.objects.filter(pk=link.student.pk).update(mis_code="S0001", year_group="7")
    Membership.objects.filter(pk=link.contact.pk).update(mis_code="C0001")
    service, secret = register_reader(school_a.organisation)
    return {"service": service, "secret": secret, "link": link}


def test_an_independent_client_reads_the_served_roster_over_http(live, served, school_a):
    """Authlib's client-credentials flow, as a service would do it, against the running server."""
    client = OAuth2Session(
        served["service"].application.client_id,
        served["secret"],
        scope=ROSTER_SCOPE,
        token_endpoint_auth_method="client_secret_basic",
    )
    client.fetch_token(f"{live.url}/o/token/", grant_type="client_credentials")
    answer = client.get(f"{live.url}{BASE}/users", params={"filter": "role='student'", "fields": "sourcedId,grades"})
    assert answer.status_code == 200
    assert answer.json() == {"users": [{"sourcedId": str(served["link"].student.account_id), "grades": ["7"]}]}


def test_a_school_pulls_another_schools_roster_and_syncs_it(pull, live, served, school_a, school_b, other_school_admin):
    _source(
        school_b,
        other_school_admin,
        base=f"{live.url}{BASE}",
        token=f"{live.url}/o/token/",
        client_id=served["service"].application.client_id,
        secret=served["secret"],
    )
    job = pull(school_b)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.counts["roster_users"] == 3 and job.counts["roster_orgs"] == 2
    assert job.progress_done == job.progress_total == 5
    assert job.report_name.endswith(".csv")
    feed = Feed.objects.get(pk=job.params["feed_id"])
    assert (feed.source, feed.state, feed.file_format) == ("pull", "valid", "oneroster_1.2")
    assert feed.row_counts == {"student": 1, "staff": 1, "contact": 1, "link": 1}

    _plan_and_apply(school_b, feed)
    pulled = Membership.objects.filter(school=school_b, mis_code__in=["S0001", "T1042", "C0001"])
    places = {m.person_type: m for m in pulled.select_related("account")}
    assert {k: m.mis_code for k, m in places.items()} == {"student": "S0001", "staff": "T1042", "contact": "C0001"}
    assert places["staff"].account.email == "vboyce@alder.sch.uk"
    assert places["student"].year_group == "7"
    link = ContactLink.objects.get(school=school_b)
    assert (link.contact_id, link.student_id) == (places["contact"].pk, places["student"].pk)

    # Pulled again with nothing changed at school A: the plan changes nobody.
    again = pull(school_b)
    run = SyncRun.objects.create(school=school_b, feed_id=again.params["feed_id"], trigger="manual", dry_run=True)
    services.sync_plan(run=run)
    changes = ("create", "update", "transfer", "archive", "reactivate", "link_create", "link_remove")
    assert not any(run.counts.get(k) for k in changes), run.counts
    assert run.counts["unchanged"] == 3 and run.counts["link_unchanged"] == 1


def test_a_wrong_secret_fails_the_pull_and_receives_nothing(pull, live, served, school_b, other_school_admin):
    _source(
        school_b,
        other_school_admin,
        base=f"{live.url}{BASE}",
        token=f"{live.url}/o/token/",
        client_id=served["service"].application.client_id,
        secret="not-the-secret",
    )
    job = pull(school_b)
    assert job.state == Job.State.FAILED
    assert "refused the client ID and secret" in job.error
    assert not Feed.objects.filter(school=school_b).exists()


# --- Against recorded pages ---------------------------------------------------------------------------------

SERVER = "https://sis.example.org/ims/oneroster/rostering/v1p2"
TOKEN = "https://sis.example.org/oauth/token"


def _org(sid, name, kind, identifier="", parent=None):
    return {
        "sourcedId": sid, "status": "active", "dateLastModified": "2026-09-01T08:00:00.000Z", "metadata": {},
        "name": name, "type": kind, "identifier": identifier, "children": [],
        **({"parent": {"href": f"{SERVER}/orgs/{parent}", "sourcedId": parent, "type": "org"}} if parent else {}),
    }  # fmt: skip


def _user(sid, given, family, role, *, identifier, email="", agents=(), grades=(), enabled=True, org="s1"):
    return {
        "sourcedId": sid, "status": "active", "dateLastModified": "2026-09-01T08:00:00.000Z", "metadata": {},
        "userMasterIdentifier": "", "username": f"{given.lower()}.{family.lower()}",
        "userIds": [{"type": "LDAP", "identifier": sid.upper()}], "enabledUser": enabled, "givenName": given,
        "familyName": family, "middleName": "", "preferredFirstName": "",
        "roles": [{"roleType": "primary", "role": role,
                   "org": {"href": f"{SERVER}/orgs/{org}", "sourcedId": org, "type": "org"},
                   "beginDate": "2026-09-01", "endDate": "2027-08-31"}],
        "identifier": identifier, "email": email, "sms": "", "phone": "",
        "agents": [{"href": f"{SERVER}/users/{a}", "sourcedId": a, "type": "user"} for a in agents],
        "grades": list(grades), "primaryOrg": {"href": f"{SERVER}/orgs/{org}", "sourcedId": org, "type": "org"},
    }  # fmt: skip


RECORDED_ORGS = [_org("d1", "Northfield District", "district"), _org("s1", "Alder Academy", "school", "", "d1")]
RECORDED_USERS = [
    _user("u1", "Lucy", "Adachi", "student", identifier="S798236", agents=["u3"], grades=["07"]),
    _user("u2", "Tom", "Teacher", "teacher", identifier="T1", email="tteacher@alder.sch.uk", enabled="true"),
    _user("u3", "Pat", "Adachi", "guardian", identifier="C1", agents=["u1"]),
]


class Recorded(requests.adapters.BaseAdapter):
    """The server as recorded: a token, then pages of orgs and users (two users a page), with X-Total-Count."""

    def __init__(self, *, token_status=200, users_status=200, users_body=None):
        super().__init__()
        self.token_status, self.users_status, self.users_body = token_status, users_status, users_body
        self.seen: list[str] = []

    def _answer(self, request, status, body, headers=None):
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers.update({"Content-Type": "application/json", **(headers or {})})
        return response

    def send(self, request, **kwargs):
        self.seen.append(request.url)
        if request.url == TOKEN:
            assert "grant_type=client_credentials" in request.body
            assert request.headers["Authorization"].startswith("Basic ")
            return self._answer(request, self.token_status, {"access_token": "t0k", "token_type": "Bearer"})
        assert request.headers["Authorization"] == "Bearer t0k"
        url = requests.utils.urlparse(request.url)
        params = dict(p.split("=") for p in url.query.split("&"))
        offset, limit = int(params["offset"]), int(params["limit"])
        if url.path.endswith("/orgs"):
            records, key = RECORDED_ORGS, "orgs"
        else:
            if self.users_status != 200 or self.users_body is not None:
                return self._answer(request, self.users_status, self.users_body or {})
            records, key = RECORDED_USERS, "users"
        page = records[offset : offset + limit]
        return self._answer(request, 200, {key: page}, {"X-Total-Count": str(len(records))})

    def close(self):
        pass


def recorded_session(adapter: Recorded):
    """A stand-in for oneroster_rest._session: sessions whose requests to the recorded server it answers."""

    def session():
        s = requests.Session()
        s.mount("https://sis.example.org/", adapter)
        return s

    return session


@pytest.fixture
def recorded(monkeypatch):
    def install(**kwargs):
        adapter = Recorded(**kwargs)
        monkeypatch.setattr(oneroster_rest, "_session", recorded_session(adapter))
        monkeypatch.setattr(oneroster_rest, "PAGE_SIZE", 2)
        return adapter

    return install


@pytest.mark.django_db
def test_recorded_pages_are_read_page_by_page_into_a_feed(pull, recorded, school_b, other_school_admin):
    adapter = recorded()
    _source(school_b, other_school_admin, base=SERVER, token=TOKEN)
    job = pull(school_b)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [u.split("?")[1] for u in adapter.seen if "/users" in u] == ["limit=2&offset=0", "limit=2&offset=2"]
    feed = Feed.objects.get(pk=job.params["feed_id"])
    assert feed.state == "valid" and feed.row_counts == {"student": 1, "staff": 1, "contact": 1, "link": 1}
    _plan_and_apply(school_b, feed)
    student = Membership.objects.get(school=school_b, person_type="student")
    assert (student.mis_code, student.year_group) == ("S798236", "7")
    assert ContactLink.objects.get(school=school_b).relationship.lower() == "guardian"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token_status": 401}, "refused the client ID and secret"),
        (
            {"users_status": 500, "users_body": {"imsx_codeMajor": "failure", "imsx_description": "Busy."}},
            "500 for users. Busy.",
        ),
        ({"users_body": b"<html>login</html>"}, "not OneRoster 1.2 JSON"),
        ({"users_body": {"people": []}}, "not OneRoster 1.2 JSON"),
        ({"users_body": {"users": [{"sourcedId": "u9", "givenName": "A", "familyName": "B"}]}}, "have no roles"),
    ],
)
def test_a_server_that_fails_fails_the_pull_in_words(pull, recorded, school_b, other_school_admin, kwargs, message):
    recorded(**kwargs)
    _source(school_b, other_school_admin, base=SERVER, token=TOKEN)
    job = pull(school_b)
    assert job.state == Job.State.FAILED and message in job.error
    assert not Feed.objects.filter(school=school_b).exists()


@pytest.mark.django_db
def test_a_server_answering_in_the_1_1_shape_is_read_too(pull, recorded, school_b, other_school_admin, monkeypatch):
    older = [
        {k: v for k, v in u.items() if k != "roles"} | {"role": u["roles"][0]["role"], "orgs": [u["roles"][0]["org"]]}
        for u in RECORDED_USERS
    ]
    monkeypatch.setattr(f"{__name__}.RECORDED_USERS", older)
    recorded()
    _source(school_b, other_school_admin, base=SERVER, token=TOKEN)
    feed = Feed.objects.get(pk=pull(school_b).params["feed_id"])
    assert feed.row_counts == {"student": 1, "staff": 1, "contact": 1, "link": 1}


@pytest.mark.django_db
def test_an_unreachable_server_fails_the_pull_in_words(pull, school_b, other_school_admin):
    _source(
        school_b,
        other_school_admin,
        base="http://127.0.0.1:9/ims/oneroster/rostering/v1p2",
        token="http://127.0.0.1:9/t",
    )
    job = pull(school_b)
    assert job.state == Job.State.FAILED and "could not be reached" in job.error


# --- The nightly --------------------------------------------------------------------------------------------


def _nightly_on(school):
    """Nightly at midnight UTC: the night has come whenever the test runs, and runs made now count as tonight's."""
    school.time_zone = "UTC"
    school.save()
    policy = policy_for(school)
    policy.nightly_enabled, policy.nightly_time = True, time(0, 0)
    policy.save()


@pytest.mark.django_db
def test_the_nightly_pulls_then_plans_from_what_it_pulled(recorded, school_b, other_school_admin):
    recorded()
    _source(school_b, other_school_admin, base=SERVER, token=TOKEN)
    _nightly_on(school_b)
    nightly.school_nightly_run(school_id=school_b.pk, now=timezone.now())
    run = SyncRun.objects.get(school=school_b, trigger=SyncRun.Trigger.SCHEDULED)
    assert run.feed.source == "pull"
    assert Job.objects.get(school=school_b, kind="roster_pull").state == Job.State.SUCCEEDED
    nightly.school_nightly_run(school_id=school_b.pk, now=timezone.now() + timedelta(seconds=1))
    assert Job.objects.filter(school=school_b, kind="roster_pull").count() == 1  # once a night


@pytest.mark.django_db
def test_a_failed_nightly_pull_is_recorded_on_the_school_and_plans_nothing(recorded, school_b, other_school_admin):
    recorded(token_status=401)
    _source(school_b, other_school_admin, base=SERVER, token=TOKEN)
    _nightly_on(school_b)
    nightly.school_nightly_run(school_id=school_b.pk, now=timezone.now())
    assert "refused the client ID and secret" in SchoolNightly.objects.get(school=school_b).failure
    assert not SyncRun.objects.filter(school=school_b).exists()


# --- The settings --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_secret_is_kept_encrypted_and_never_audited(school_b, other_school_admin):
    source = _source(school_b, other_school_admin, base=SERVER, token=TOKEN, secret="hunter2-secret")
    assert "hunter2" not in source.secret_encrypted
    assert oneroster_rest._secret(source) == "hunter2-secret"
    event = AuditEvent.objects.get(action="provisioning.roster_source.saved")
    assert "hunter2" not in json.dumps(event.changes)
    kept = roster_source_save(
        school=school_b, actor=other_school_admin,
        values={"enabled": True, "base_url": SERVER, "token_url": TOKEN, "client_id": "reader"}, secret="",
    )  # fmt: skip
    assert oneroster_rest._secret(kept) == "hunter2-secret"


@pytest.mark.django_db
def test_plain_http_is_refused_where_the_site_is_secure(settings, school_b, other_school_admin):
    from django.core.exceptions import ValidationError

    settings.SECURE = True
    with pytest.raises(ValidationError):
        _source(school_b, other_school_admin, base="http://sis.example.org/x", token=TOKEN)
