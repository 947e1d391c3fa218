"""The cross-school probe: every route of the project, requested by school B with school A's ids.

It has an organisation dimension too: school A and school B belong to two organisations, and organisation B's
Trust Admin (acting as Centre Admin, its organisation allows it) and Trust Viewer ask every route like school
B's Centre Admin does: school A's slug, organisation A's console (/t/<org_slug>/), and their own school's and
console's URLs with school A's ids, in the URL and in forms. They must see nothing of organisation A.

It walks the URL resolver (includes, DRF routers, everything), so a new route is probed the day it
is added, with nobody listing it. For each route it fills the URL's kwargs from KWARGS below with
objects of a rich school A, then asks as:

- school B's most powerful person (Centre Admin, holding every other role too), organisation B's Trust Admin
  and Trust Viewer, and school B's API token, first with school A's slug or organisation A's slug (the
  middleware must say 404), then with school B's own slug (organisation B's) and school A's ids (the view
  must say 404: it looked the object up through request.school, not by bare id);
- nobody signed in (a school URL redirects to sign-in or says 404, never 200).

Every answer is also searched for school A's marker strings (its name, its people's usernames, names,
emails, MIS codes): none may appear. `probe()` returns what went wrong as a list of sentences instead
of asserting, so tests can also prove that it catches a view which forgets the school.

A route with a kwarg the probe cannot fill FAILS the probe: add the kwarg to KWARGS with a function
that creates (or returns) an object of school A and gives its id. Return a list of ids when the kwarg
can name several kinds of object (membership_id: a student's, a member of staff's, a contact's), so a
view that only finds one kind is still tried with the right one. A kwarg naming something every school
shares (assessment content, a role code) goes in GLOBAL_KWARGS too; a vague name such as a router's
"pk" goes in ROUTE_KWARGS, per view.
"""

import contextlib
import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connections, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from accounts.models import Role

# Route prefixes the probe leaves out, each with the reason. Everything else is probed.
SKIPPED = {
    "admin/": "Django admin: support staff (is_staff) see every school by design; tests/accounts cover it",
    "accounts/": "allauth's sign-in, sign-out and password pages: global, no school, no object ids",
    "static/": "static files",
    "media/": "uploaded files are served only through views that check the school",
    "api/schema/": "the OpenAPI schema describes routes and holds no school data",
    "api/docs/": "Swagger UI, static",
    "health/": "liveness check for the load balancer",
    "scim/": "SCIM 2.0 in: an organisation's bearer token only, no school in the URL; tests/scim/test_isolation.py",
    "ims/": "OneRoster REST: only a roster service's client-credentials token opens it (a session or school API "
    "token gets 401); another organisation's token is tests/rostering/test_serve.py's",
    "welcome/": "set-password link: the token is the credential itself (tests/accounts/test_credentials.py)",
    "verify/": "public certificate check: whoever holds the printed code may see it, by design (tests/assessments)",
}

SCHOOL_KWARG = "school_slug"
ORG_KWARG = "org_slug"  # the trust console's organisation
TENANT_KWARGS = (SCHOOL_KWARG, ORG_KWARG)
LOGIN_PATH = "/accounts/login/"

# ---------------------------------------------------------------------------------------------------
# Kwarg registry: URL kwarg name -> function(world) returning one id (or a list of ids) of school A.
# ---------------------------------------------------------------------------------------------------


def _memberships(w: "World"):
    return [w.student.pk, w.staff.pk, w.contact.pk, w.admin.pk]


def _assessment(w: "World"):
    """Assessment content is global (every school offers it): one with a section, a question, two choices."""
    from assessments.models import Assessment, Choice, Question, Section

    def make():
        assessment = Assessment.objects.create(code="probe-training", title="Probe training")
        assessment.audience_roles.set(Role.objects.all())
        section = Section.objects.create(assessment=assessment, order=1, title="Probe section", pass_mark=1)
        question = Question.objects.create(section=section, order=1, text="Probe question?")
        Choice.objects.create(question=question, order=1, text="Yes", is_correct=True)
        Choice.objects.create(question=question, order=2, text="No")
        return assessment

    return w.once("assessment", make)


def _certificate(w: "World"):
    """School A's member of staff passed: progress, a section attempt, a certificate, and a hidden assessment."""
    import datetime as dt

    from django.utils import timezone

    from assessments.models import AssessmentHidden, AssessmentProgress, Certificate, SectionAttempt

    def make():
        assessment, now = _assessment(w), timezone.now()
        section = assessment.sections.get()
        account = w.staff.account
        progress = AssessmentProgress.objects.create(
            school=w.school_a,
            account=account,
            assessment=assessment,
            status="passed",
            run=1,
            started_at=now,
            finished_at=now,
            sections_passed=1,
        )
        SectionAttempt.objects.create(
            school=w.school_a,
            progress=progress,
            section=section,
            run=1,
            answers={},
            mark=1,
            out_of=1,
            passed=True,
            submitted_at=now,
        )
        AssessmentHidden.objects.create(school=w.school_a, account=w.admin.account, assessment=assessment)
        w.mark("ZZCERTA1")
        return Certificate.objects.create(
            school=w.school_a,
            code="ZZCERTA1",
            account=account,
            assessment=assessment,
            holder_name=account.full_name,
            assessment_title=assessment.title,
            score=1,
            out_of=1,
            section_marks=[{"title": section.title, "mark": 1, "out_of": 1}],
            issued_at=now,
            expires_at=now + dt.timedelta(days=365),
        )

    return w.once("certificate", make)


def _upload_batch(w: "World"):
    """A +Upload Users spreadsheet of school A, previewed and applied, with a credentials sheet."""
    from django.core.files.base import ContentFile

    from provisioning.models import UploadBatch

    def make():
        rows = "Person Type,MIS Code,Username,Given Names,Family Name,Email\n"
        rows += "student,ZZMISUPLOAD,zzalder.upload,Zzaldergivenupload,Zzalderfamilyupload,zzu@zzalder-secret.example\n"
        w.mark("zzalder.upload", "Zzalderfamilyupload")
        batch = UploadBatch(
            school=w.school_a, file_name="zzalder-users.csv", file_format="csv", row_count=1, created_by=w.admin.account
        )
        batch.file.save("zzalder-users.csv", ContentFile(rows.encode()), save=False)
        batch.credentials.save("zzalder-credentials.csv", ContentFile(rows.encode()), save=False)
        batch.save()
        return batch

    return w.once("upload_batch", make)


def _feed(w: "World"):
    from django.core.files.base import ContentFile

    from provisioning.models import Feed

    def make():
        feed = Feed(
            school=w.school_a,
            file_name="zzalder-feed.csv",
            file_format="rollcall_csv",
            state="valid",
            errors=[{"row": 2, "message": "ZZALDERSECRET row"}],
            received_by=w.admin.account,
        )
        feed.file.save("zzalder-feed.csv", ContentFile(b"ZZALDERSECRET feed"), save=False)
        feed.save()
        return feed

    return w.once("feed", make)


def _sync_run(w: "World"):
    """A planned sync run of school A, waiting for confirmation, with one record naming a student."""
    from provisioning.models import SyncRecord, SyncRun

    def make():
        run = SyncRun.objects.create(
            school=w.school_a,
            feed=_feed(w),
            trigger="manual",
            state="needs_confirmation",
            message="ZZALDERSECRET run",
            created_by=w.admin.account,
        )
        SyncRecord.objects.create(
            school=w.school_a,
            run=run,
            outcome="update",
            person_type="student",
            mis_code=w.student.mis_code,
            membership_id=w.student.pk,
            account_id=w.student.account_id,
            username=w.student.account.username,
            before={"family_name": "Zzalderfamilyold"},
            after={"family_name": w.student.account.family_name},
        )
        w.mark("ZZALDERSECRET run", "Zzalderfamilyold")
        return run

    return w.once("sync_run", make)


def _connected_service(w: "World"):
    """A service of school A's organisation, one of its people signed in to it (signon)."""
    from signon import services
    from signon.models import ServiceSignIn

    def make():
        service, _ = services.service_register(
            actor=w.admin.account,
            name="ZZALDERSECRET Hub",
            organisation=w.school_a.organisation,
            redirect_uris=["https://zzalder-hub.example.org/callback"],
            role_codes=["eo", "student_portal"],
            scopes=["profile"],
        )
        ServiceSignIn.objects.create(account=w.staff.account, service=service)
        w.mark("ZZALDERSECRET Hub")
        return service

    return w.once("connected_service", make)


KWARGS: dict[str, Callable[["World"], object]] = {
    "job_id": lambda w: [job.pk for job in w.jobs],
    "membership_id": _memberships,
    "student_id": lambda w: w.student.pk,
    "contact_id": lambda w: w.contact.pk,
    "account_id": lambda w: [m.account_id for m in (w.student, w.staff, w.contact, w.admin)],
    "link_id": lambda w: w.contact_link.pk,
    "contact_link_id": lambda w: w.contact_link.pk,
    "token_id": lambda w: w.api_token.pk,
    "assessment_id": lambda w: _assessment(w).pk,
    "section_id": lambda w: _assessment(w).sections.get().pk,
    "certificate_id": lambda w: _certificate(w).pk,
    "role_code": lambda w: ["student_portal", "eo", "parent", "centre_admin"],
    "batch_id": lambda w: _upload_batch(w).pk,
    "upload_id": lambda w: _upload_batch(w).pk,
    "feed_id": lambda w: _feed(w).pk,
    "run_id": lambda w: _sync_run(w).pk,
    "format": lambda w: "json",
    "service_id": lambda w: _connected_service(w).pk,
}

# A kwarg whose name does not say what it names (a DRF router's "pk"): keyed by (view, kwarg), where view
# is the dotted path the probe prints, e.g. ("accounts.api.AccountViewSet", "pk"): _memberships.
ROUTE_KWARGS: dict[tuple[str, str], Callable[["World"], object]] = {}

# Kwargs that name something every school shares (assessment content) or nothing at all: a route whose
# only kwargs are these is school B's own page, so it may answer, but must still show nothing of school A.
GLOBAL_KWARGS = {"assessment_id", "section_id", "role_code", "format"}

# ---------------------------------------------------------------------------------------------------
# School A: distinctive values, so finding one in a response can only mean a leak.
# ---------------------------------------------------------------------------------------------------


@dataclass
class World:
    """School A, full of data, and school B's most powerful persona. Built by build_world()."""

    school_a: object
    school_b: object
    markers: list[str] = field(default_factory=list)
    fingerprint: dict | None = None
    _cache: dict = field(default_factory=dict)

    def mark(self, *values) -> None:
        self.markers.extend(str(v) for v in values if v)

    def once(self, key: str, make: Callable[[], object]):
        """An object another app's kwarg needs, made the first time a route asks for it."""
        if key not in self._cache:
            self._cache[key] = make()
            if self.fingerprint is not None:  # school A grew on purpose: that is its state from now on
                self.fingerprint = fingerprint(self)
        return self._cache[key]

    def person(self, role: str, person_type: str, tag: str, **membership_fields):
        from tests.factories import MembershipFactory, RoleAssignmentFactory

        membership = MembershipFactory(
            school=self.school_a,
            person_type=person_type,
            mis_code=f"ZZMIS{tag.upper()}",
            account__home_school=self.school_a,
            account__username=f"zzalder.{tag}",
            account__given_name=f"Zzaldergiven{tag.capitalize()}",
            account__family_name=f"Zzalderfamily{tag.capitalize()}",
            account__email=f"zzalder.{tag}@zzalder-secret.example",
            **membership_fields,
        )
        RoleAssignmentFactory(membership=membership, role_id=role)
        account = membership.account
        self.mark(account.username, account.given_name, account.family_name, account.email, membership.mis_code)
        return membership


def build_world() -> World:
    """Create school A (rich) and school B (with its all-powerful persona and an API token)."""
    from accounts.models import OrganisationRole, PersonType
    from accounts.services import census_report_build
    from accounts.services.tokens import api_token_issue
    from tenancy.models import Job
    from tenancy.services import job_fail, job_start, job_succeed
    from tests.factories import ContactLinkFactory, OrganisationFactory, SchoolFactory, member, trust_role

    school_a = SchoolFactory(
        organisation=OrganisationFactory(name="ZZALDERSECRET Trust"),
        name="ZZALDERSECRET Academy",
        slug="zz-alder",
        urn="ZZURN1",
    )
    school_b = SchoolFactory(name="Birch Probe High", slug="birch-probe")
    w = World(school_a=school_a, school_b=school_b)
    w.mark(school_a.name, school_a.organisation.name, school_a.urn)

    w.admin = w.person("centre_admin", PersonType.STAFF, "admin")
    w.staff = w.person("eo", PersonType.STAFF, "staff")
    w.student = w.person("student_portal", PersonType.STUDENT, "student", year_group="9", form="9ZZ")
    w.contact = w.person("parent", PersonType.CONTACT, "contact", portal_access=True)
    w.contact_link = ContactLinkFactory(school=school_a, contact=w.contact, student=w.student)

    # One job of every kind, each with a report, so a view that also filters by kind still finds one.
    w.job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=w.admin.account)
    census_report_build(w.job)
    w.failed_job = job_start(school=school_a, kind=Job.Kind.SYNC, actor=w.staff.account)
    job_fail(w.failed_job, message="ZZALDERSECRET feed refused")
    w.mark("ZZALDERSECRET feed refused", "ZZALDERSECRET report")
    w.jobs = [w.job, w.failed_job]
    for kind in Job.Kind:
        if kind in (Job.Kind.CENSUS, Job.Kind.SYNC):
            continue
        job = job_start(school=school_a, kind=kind, actor=w.admin.account)
        job_succeed(job, counts={"zzalder": 1}, report=b"ZZALDERSECRET report", report_name=f"zz-{kind}.txt")
        w.jobs.append(job)
    w.api_token, _raw = api_token_issue(
        school=school_a, account=w.admin.account, name="ZZALDERSECRET agent", role_codes=["mis_agent"]
    )

    # School B's most powerful person: Centre Admin, and every other role too, so no view can turn
    # school A's id away for a reason other than the school (an audience, a role) and hide a leak.
    every_role = list(Role.objects.values_list("code", flat=True))
    w.b_admin = member(school_b, *every_role, username="probe.birch.admin").account
    member(school_b, "student_portal", person_type=PersonType.STUDENT, username="probe.birch.student")
    _token, w.b_token = api_token_issue(school=school_b, account=w.b_admin, name="probe", role_codes=every_role)

    # The organisation dimension: organisation B's trust roles, its Trust Admin acting as Centre Admin (the
    # most it can be); organisation A's Trust Viewer, a grant organisation B's console must not touch.
    org_b = school_b.organisation
    org_b.trust_admins_act_as_centre_admin = True
    org_b.save()
    w.b_trust_admin = trust_role(org_b, "trust_admin", username="probe.birch.trustadmin")
    w.b_trust_viewer = trust_role(org_b, "trust_viewer", username="probe.birch.trustviewer")
    w.a_trust_grant = OrganisationRole.objects.create(
        organisation=school_a.organisation, account=w.staff.account, role="trust_viewer"
    )
    return w


# ---------------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------------

_ROUTE_PARAM = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")
_REGEX_LEFTOVER = re.compile(r"[\[\](){}*+?|^$\\]")


def _regex_template(regex: str) -> str:
    """A DRF router's regex (^jobs/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$) as a template."""
    out, i = [], 0
    text = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    while i < len(text):
        if text.startswith("(?P<", i):
            name_end = text.index(">", i)
            name = text[i + 4 : name_end]
            depth, j = 1, name_end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0) if text[j - 1] != "\\" else 0
                j += 1
            out.append("\x00" + name + "\x01")
            i = j
        else:
            out.append(text[i])
            i += 1
    template = "".join(out).replace(r"\.", ".").replace(r"\-", "-").replace("/?", "/")
    if _REGEX_LEFTOVER.search(template):
        raise ValueError(f"cannot build a URL from the regex {regex!r}")
    return template.replace("\x00", "{").replace("\x01", "}")


def _part(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _ROUTE_PARAM.sub(lambda m: "{" + m["name"] + "}", str(pattern._route))
    if isinstance(pattern, RegexPattern):
        return _regex_template(pattern._regex)
    raise ValueError(f"unknown URL pattern type {type(pattern).__name__}")


@dataclass
class Route:
    parts: list
    pattern: URLPattern

    @cached_property
    def template(self) -> str:
        return "/" + "".join(_part(p) for p in self.parts)

    @cached_property
    def kwargs(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    @property
    def view(self) -> str:
        callback = self.pattern.callback
        target = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
        return f"{target.__module__}.{getattr(target, '__qualname__', repr(target))}"

    @property
    def is_school(self) -> bool:
        return SCHOOL_KWARG in self.kwargs

    @property
    def is_org(self) -> bool:
        return ORG_KWARG in self.kwargs

    @property
    def is_tenant(self) -> bool:
        """A school's page or an organisation's (the trust console): the slug says whose."""
        return self.is_school or self.is_org

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")

    def label(self) -> str:
        return f"{self.template} ({self.view})"


def all_routes(urlconf=None) -> list[Route]:
    found: list[Route] = []

    def walk(patterns, parts):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, [*parts, entry.pattern])
            elif isinstance(entry, URLPattern):
                found.append(Route([*parts, entry.pattern], entry))

    walk(get_resolver(urlconf).url_patterns, [])
    return found


def skip_reason(route: Route) -> str | None:
    raw = "".join(str(p) for p in route.parts).lstrip("^")
    for prefix, reason in SKIPPED.items():
        if raw.startswith(prefix):
            return reason
    return None


# ---------------------------------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------------------------------


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)


def _kwarg_values(world: World, route: Route, report: Report) -> dict[str, list[str]] | None:
    values, unknown = {}, []
    for name in route.kwargs:
        if name in TENANT_KWARGS:
            continue
        filler = ROUTE_KWARGS.get((route.view, name)) or KWARGS.get(name)
        if filler is None:
            unknown.append(name)
            continue
        value = filler(world)
        values[name] = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
    if unknown:
        report.failures.append(
            f"{route.label()}: the probe cannot fill URL kwarg(s) {', '.join(unknown)}. Add each to KWARGS in "
            "tests/probe.py: a function that creates (or returns) an object of school A and gives its id "
            "(ROUTE_KWARGS for a name as vague as pk)."
        )
        return None
    return values


def _variants(values: dict[str, list[str]]) -> list[dict[str, str]]:
    """First value of each kwarg, then each other value of one kwarg at a time."""
    base = {name: options[0] for name, options in values.items()}
    out = [base]
    for name, options in values.items():
        out.extend({**base, name: option} for option in options[1:])
    return out


def _build(route: Route, world: "World | None", side: str, kwargs: dict[str, str], urlconf) -> str:
    """The route's URL at school (organisation) A or B, `side`; a route of no tenant ignores it."""
    tenant = {}
    if world is not None and route.is_school:
        tenant[SCHOOL_KWARG] = (world.school_a if side == "a" else world.school_b).slug
    if world is not None and route.is_org:
        tenant[ORG_KWARG] = (world.school_a if side == "a" else world.school_b).organisation.slug
    url = route.template.format(**tenant, **kwargs)
    match = resolve(url, urlconf)
    if match.func is not route.pattern.callback:
        raise ValueError(f"{url} resolves to {match.func!r}, not to this route's view")
    return url


def _body(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    headers = " ".join(f"{k}: {v}" for k, v in response.items())
    return (headers + "\n" + content.decode("utf-8", errors="replace")).lower()


class _Persona:
    def __init__(self, name: str, client: Client, *, session: bool = False, limited: bool = False):
        self.name, self.client, self.session = name, client, session
        # A persona whose roles open only part of its own school may be refused (403) before a view looks an id
        # up: that shows nothing either. The all-powerful one must reach every lookup, so it must say 404.
        self.limited = limited

    def request(self, method: str, url: str, data=None, inspect: Callable[[], object] | None = None):
        """One request that leaves no trace: its writes are rolled back, its cookies restored.

        `inspect` runs after the request, before the rollback, to see what it wrote."""
        cookies = copy.deepcopy(self.client.cookies)
        seen = None
        writes = _Writes()
        try:
            with transaction.atomic(), contextlib.ExitStack() as watching:
                for alias in connections:  # the job progress connection too
                    watching.enter_context(connections[alias].execute_wrapper(writes))
                response = getattr(self.client, method)(url, data) if data else getattr(self.client, method)(url)
                body = _body(response)
                if inspect is not None:
                    # Nothing can have changed without a statement that writes: most answers write nothing, and
                    # reading every school-owned table after each would be a third of the probe's time.
                    seen = inspect() if writes.any else NOTHING_WRITTEN
                transaction.set_rollback(True)
        finally:
            self.client.cookies = cookies
        return response, body, seen


NOTHING_WRITTEN = object()  # what the inspection of a request that wrote nothing stands in for


class _Writes:
    """Notes whether a request sent any statement that could change a row (connection.execute_wrapper). A word
    anywhere in the statement counts, so a write inside a WITH counts, and SELECT ... FOR UPDATE does too: a
    false alarm costs only the full comparison."""

    WRITING = re.compile(r"\b(insert|update|delete|copy|merge|truncate|alter|drop|create)\b", re.IGNORECASE)

    def __init__(self):
        self.any = False

    def __call__(self, execute, sql, params, many, context):
        if not self.any and self.WRITING.search(sql):
            self.any = True
        return execute(sql, params, many, context)


def _check(report, world, persona, method, url, route, allowed: Callable[[object], bool], expected: str, data=None):
    shown = f"{url} with school A's ids in the form" if data else url
    report.requests.append(f"{persona.name} {method.upper()} {shown}")
    where = f"{persona.name} {method.upper()} {shown} [{route.view}]"
    inspect = (lambda: fingerprint(world)) if data else None
    try:
        response, body, after = persona.request(method, url, data, inspect)
    except Exception as exc:  # noqa: BLE001 - a crash is a finding, and the probe carries on
        report.failures.append(f"{where}: raised {type(exc).__name__}: {exc} (expected {expected})")
        return
    if persona.session and not response.wsgi_request.user.is_authenticated:
        # Signed out, every school answers 404 too: carrying on would pass every route for the wrong reason.
        report.failures.append(
            f"{where}: the probe's session was signed out by this request; later answers mean nothing"
        )
    if not allowed(response):
        report.failures.append(f"{where}: answered {response.status_code}, expected {expected}")
    leaked = sorted({m for m in world.markers if m.lower() in body})
    if leaked:
        report.failures.append(f"{where}: the answer shows school A's {', '.join(map(repr, leaked))}")
    if inspect and after is not NOTHING_WRITTEN and after != world.fingerprint:
        changed = sorted(k for k in after if after[k] != world.fingerprint.get(k))
        report.failures.append(f"{where}: it changed school A's data ({', '.join(changed)})")


# Form fields through which a screen might take ids: school B posts school A's ids in each of them, and
# school A's rows must come out unchanged. The actions are those of Account Manager's Actions... menu.
FORM_ID_FIELDS = (
    "ids",
    "id",
    "replacement_ids",
    "membership",
    "memberships",
    "membership_id",
    "account",
    "account_id",
    "student",
    "contact",
    "job",
    "job_id",
    "selected",
    "people",
)
FORM_ACTIONS = ("", "revoke", "welcome_email", "starter_codes")


def _form_payloads(world: World, route: Route) -> list[dict]:
    ids = [str(v) for v in (*_memberships(world), *KWARGS["account_id"](world), *(j.pk for j in world.jobs))]
    ids.append(str(world.a_trust_grant.pk))  # organisation A's Trust Viewer grant (the console's "Take back")
    base = {name: ids for name in FORM_ID_FIELDS} | {"type": "contact", "confirm": "yes", "confirm_count": "1"}
    if route.is_org:  # a member of school A's staff (the console's "Add"); a school form would only echo it back
        base["username"] = world.staff.account.username
    return [base | ({"action": action} if action else {}) for action in FORM_ACTIONS]


def fingerprint(world: World) -> dict:
    """Every school-owned row of school A, and its people's accounts, as they stand."""
    from django.apps import apps
    from django.db.models import Q

    from accounts.models import Account, OrganisationRole
    from tenancy.models import Organisation, SchoolOwned

    state = {}
    for model in apps.get_models():
        if issubclass(model, SchoolOwned):
            rows = model._base_manager.filter(school=world.school_a).order_by("pk").values_list()
            state[model._meta.label] = repr(tuple(rows))
    people = Account.objects.filter(memberships__school=world.school_a).distinct().order_by("pk").values_list()
    state["accounts.Account"] = repr(tuple(people))
    org_a = world.school_a.organisation_id
    trust_roles = OrganisationRole.objects.filter(
        Q(organisation_id=org_a) | Q(account__memberships__school=world.school_a)
    ).distinct()
    state["accounts.OrganisationRole"] = repr(tuple(trust_roles.order_by("pk").values_list()))
    state["tenancy.Organisation"] = repr(tuple(Organisation.objects.filter(pk=org_a).values_list()))
    return state


def _not_found(response) -> bool:
    return response.status_code in (404, 405)


def _not_found_or_refused(response) -> bool:
    return response.status_code in (403, 404, 405)


def _to_login_or_not_found(response) -> bool:
    if response.status_code == 302:
        return LOGIN_PATH in response.get("Location", "")
    return response.status_code in (401, 403, 404, 405)


def _not_a_crash(response) -> bool:
    return response.status_code < 500


def probe(world: World, *, urlconf=None, only: Callable[[Route], bool] | None = None) -> Report:
    """Request every route (or those `only` picks) as the other school and as nobody; return what went wrong."""
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.CRITICAL)  # hundreds of expected 404s would bury the findings
    try:
        return _probe(world, urlconf, only)
    finally:
        request_log.setLevel(level)


def _probe(world: World, urlconf, only) -> Report:
    report = Report()
    b_admin = Client()
    b_admin.force_login(world.b_admin)
    b_trust_admin, b_trust_viewer = Client(), Client()
    b_trust_admin.force_login(world.b_trust_admin)
    b_trust_viewer.force_login(world.b_trust_viewer)
    personas = {
        "b_admin": _Persona("school B Centre Admin", b_admin, session=True),
        "b_trust_admin": _Persona("organisation B Trust Admin", b_trust_admin, session=True, limited=True),
        "b_trust_viewer": _Persona("organisation B Trust Viewer", b_trust_viewer, session=True, limited=True),
        "b_token": _Persona("school B API token", Client(HTTP_AUTHORIZATION=f"Token {world.b_token}")),
        "anon": _Persona("signed-out visitor", Client()),
    }
    world.fingerprint = fingerprint(world)

    for route in all_routes(urlconf):
        try:
            route.template  # noqa: B018 - builds it, or says why it cannot
        except ValueError as exc:
            report.failures.append(f"{route.pattern!r}: {exc}; teach tests/probe.py to build it")
            continue
        if only is not None and not only(route):
            continue
        reason = skip_reason(route)
        if reason:
            report.skipped.append(f"{route.template}: {reason}")
            continue
        values = _kwarg_values(world, route, report)
        if values is None:
            continue
        report.routes.append(route.template)
        people = [personas["b_admin"], personas["b_trust_admin"], personas["b_trust_viewer"]]
        ours = people + ([personas["b_token"]] if route.is_api else [])

        def check(persona, method, url, allowed, expected, data=None, route=route):
            _check(report, world, persona, method, url, route, allowed, expected, data)

        foreign_ids = set(values) - GLOBAL_KWARGS
        for n, kwargs in enumerate(_variants(values)):
            # The middleware settles "not your school" and "not signed in" from the slug and the session
            # alone, so the other id variants matter only where a view reads them.
            first = n == 0
            try:
                foreign = _build(route, world, "a", kwargs, urlconf)
                own = _build(route, world, "b", kwargs, urlconf)
            except (ValueError, KeyError) as exc:
                report.failures.append(f"{route.label()}: cannot build its URL: {exc}")
                break
            for method in ("get", "post"):
                for persona in ours:
                    if route.is_tenant and first:
                        check(persona, method, foreign, _not_found, "404 (not your school or organisation)")
                    if foreign_ids:
                        refused = _not_found_or_refused if persona.limited else _not_found
                        check(persona, method, own, refused, "404 (another school's id)")
                    elif method == "get":  # the persona's own page: may answer, must not show school A
                        check(persona, method, own, _not_a_crash, "no error")
                if route.is_tenant and not foreign_ids and method == "post":
                    # A screen of school B's own that takes ids from its form: school A's must change nothing.
                    for payload in _form_payloads(world, route):
                        for persona in ours:
                            check(persona, method, own, _not_a_crash, "no error", data=payload)
                if route.is_tenant and not first:
                    continue
                if route.is_tenant or foreign_ids:
                    check(personas["anon"], method, foreign, _to_login_or_not_found, "a redirect to sign-in, or 404")
                elif method == "get":  # a global page such as the start page: may answer, must not show school A
                    check(personas["anon"], method, foreign, _not_a_crash, "no error")
    return report
