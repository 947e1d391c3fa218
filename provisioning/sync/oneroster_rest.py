"""A school's feed pulled from a OneRoster 1.2 rostering REST server, instead of pushed or uploaded.

The pull reads the server's paged `orgs` and `users` with an OAuth 2 client-credentials token, writes what it
read as a OneRoster 1.2 CSV bundle (manifest, orgs, users, roles: the same files a MIS exports) and hands it to
feed_receive. From there it is a feed like any other: kept as received, read by provisioning/sync/oneroster.py,
planned, dry-run, guarded and applied by the sync. The nightly pulls just before it plans (nightly.py); Pull
now on Bulk User Synchronise runs the same pull as a job.

Rollcall does not synchronise classes, so enrollments, classes and demographics are not fetched.

The client secret is kept encrypted (Fernet, keyed from SECRET_KEY) and never shown back; a new SECRET_KEY
means entering it again.
"""

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

import requests
import structlog
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account
from provisioning.models import Feed, RosterSource
from provisioning.sync.feed_intake import feed_receive
from tenancy.models import Job, School
from tenancy.services import job_claim, job_fail, job_progress, job_start, job_succeed
from tenancy.spreadsheets import csv_bytes, internal_csv_writer

log = structlog.stdlib.get_logger(__name__)

ROSTER_SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
PAGE_SIZE = 500
MAX_PAGES = 2000  # a million people: a server that never stops paging is stopped here
TIMEOUT = (10, 120)  # connect, read (seconds)

USERS_CSV = ["sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
             "familyName", "middleName", "identifier", "email", "agentSourcedIds", "grades",
             "primaryOrgSourcedId"]  # fmt: skip
ROLES_CSV = ["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate", "endDate",
             "orgSourcedId"]  # fmt: skip
ORGS_CSV = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]


# A pull job's page counts in words (registered in provisioning.apps).
PULL_COUNT_LABELS = {
    "roster_orgs": "Orgs read",
    "roster_users": "Users read",
    "roster_feed_student": "Students in the feed",
    "roster_feed_staff": "Staff in the feed",
    "roster_feed_contact": "Contacts in the feed",
    "roster_feed_link": "Contact links in the feed",
}


class PullFailed(Exception):
    """The pull could not finish; the message says why in words the school can act on. Nothing was received."""


# --- The settings ------------------------------------------------------------------------------------------


def _fernet() -> Fernet:
    key = hashlib.sha256(f"roster-source:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _secret(source: RosterSource) -> str:
    try:
        return _fernet().decrypt(source.secret_encrypted.encode()).decode() if source.secret_encrypted else ""
    except InvalidToken:
        return ""  # kept under another SECRET_KEY: the school enters it again


def roster_source_for(school: School) -> RosterSource | None:
    return RosterSource.objects.filter(school=school).first()


def _check_url(url: str, label: str) -> None:
    if settings.SECURE and not url.lower().startswith("https://"):
        raise ValidationError({label: "Use an https:// address: the client secret and the roster travel over it."})


@transaction.atomic
def roster_source_save(*, school: School, actor: Account, values: dict, secret: str) -> RosterSource:
    """Save where the feed is pulled from. A blank secret keeps the one kept; the audit names what changed,
    never the secret."""
    source = roster_source_for(school) or RosterSource(school=school)
    _check_url(values["base_url"], "base_url")
    _check_url(values["token_url"], "token_url")
    if values["enabled"] and not (secret or source.secret_encrypted):
        raise ValidationError({"client_secret": "Enter the client secret the OneRoster server gave you."})
    changes = {name: [getattr(source, name), value] for name, value in values.items() if getattr(source, name) != value}
    for name, value in values.items():
        setattr(source, name, value)
    if secret:
        source.secret_encrypted = _fernet().encrypt(secret.encode()).decode()
        changes["client_secret"] = ["(kept)", "(changed)"]
    source.updated_by = actor
    source.base_url = source.base_url.rstrip("/")
    source.save()
    audit_record(
        action="provisioning.roster_source.saved",
        actor=actor,
        school=school,
        target_type="roster_source",
        target_id=str(source.pk),
        target_label="OneRoster server",
        changes=changes,
    )
    return source


# --- Reading the server ------------------------------------------------------------------------------------


@dataclass
class Pulled:
    orgs: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)


def _token(source: RosterSource, session: requests.Session) -> str:
    try:
        answer = session.post(
            source.token_url,
            data={"grant_type": "client_credentials", "scope": ROSTER_SCOPE},
            auth=(source.client_id, _secret(source)),
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise PullFailed(f"The OneRoster server's token address could not be reached ({type(exc).__name__}).") from exc
    if answer.status_code in (400, 401, 403):
        raise PullFailed("The OneRoster server refused the client ID and secret: check them on Bulk User Synchronise.")
    try:
        return answer.json()["access_token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PullFailed(f"The token address answered {answer.status_code} without an access token.") from exc


def _why(answer) -> str:
    try:
        return answer.json().get("imsx_description", "")
    except ValueError:
        return ""


def _collection(session, url: str, key: str, on_page) -> list[dict]:
    """Every record of one collection, page by page (limit/offset, X-Total-Count where the server sends it)."""
    records, offset = [], 0
    for _ in range(MAX_PAGES):
        try:
            answer = session.get(url, params={"limit": PAGE_SIZE, "offset": offset}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise PullFailed(f"The OneRoster server could not be reached for {key} ({type(exc).__name__}).") from exc
        if answer.status_code != 200:
            why = _why(answer)
            raise PullFailed(
                f"The OneRoster server answered {answer.status_code} for {key}." + (f" {why}" if why else "")
            )
        try:
            page = answer.json()[key]
            assert isinstance(page, list)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise PullFailed(f"The OneRoster server's answer for {key} is not OneRoster 1.2 JSON.") from exc
        records.extend(r for r in page if isinstance(r, dict))
        total = answer.headers.get("X-Total-Count", "")
        total = int(total) if total.isdigit() else None
        offset += len(page)
        on_page(key, len(records), total)
        if not page or len(page) < PAGE_SIZE or (total is not None and offset >= total):
            return records
    raise PullFailed(f"The OneRoster server kept paging {key} past {MAX_PAGES * PAGE_SIZE} records.")


def _session() -> requests.Session:
    return requests.Session()


def roster_fetch(source: RosterSource, *, on_page=lambda key, done, total: None) -> Pulled:
    with _session() as session:
        session.headers["Accept"] = "application/json"
        session.headers["Authorization"] = f"Bearer {_token(source, session)}"
        pulled = Pulled()
        pulled.orgs = _collection(session, f"{source.base_url}/orgs", "orgs", on_page)
        pulled.users = _collection(session, f"{source.base_url}/users", "users", on_page)
    return pulled


# --- Writing it as a OneRoster 1.2 CSV bundle ----------------------------------------------------------------


def _ref(value) -> str:
    return str(value.get("sourcedId", "")) if isinstance(value, dict) else ""


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = internal_csv_writer(out)  # read back by Rollcall only: a value must stay as the server sent it
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _roles_of(user: dict) -> list:
    """1.2's roles; a server still answering in 1.1's shape (one `role`, its `orgs`) is read as primary roles."""
    if isinstance(user.get("roles"), list):
        return user["roles"]
    if isinstance(user.get("role"), str):
        orgs = [o for o in user.get("orgs") or [] if isinstance(o, dict)] or [{}]
        return [{"roleType": "primary", "role": user["role"], "org": org} for org in orgs]
    return []


def roster_bundle(pulled: Pulled) -> bytes:
    """The pulled records as the OneRoster 1.2 CSV bundle a MIS would have exported (bulk users, orgs, roles)."""
    users, roles = [], []
    for user in pulled.users:
        sid = _text(user.get("sourcedId"))
        users.append(
            [
                sid,
                _text(user.get("status")),
                _text(user.get("dateLastModified")),
                _text(user.get("enabledUser")),
                _text(user.get("username")),
                ",".join(
                    f"{{{_text(i.get('type'))}:{_text(i.get('identifier'))}}}"
                    for i in user.get("userIds") or []
                    if isinstance(i, dict)
                ),
                _text(user.get("givenName")),
                _text(user.get("familyName")),
                _text(user.get("middleName")),
                _text(user.get("identifier")),
                _text(user.get("email")),
                ",".join(_ref(a) for a in user.get("agents") or [] if _ref(a)),
                ",".join(_text(g) for g in user.get("grades") or []),
                _ref(user.get("primaryOrg")),
            ]
        )
        for i, role in enumerate(_roles_of(user)):
            if isinstance(role, dict):
                roles.append(
                    [f"{sid}-role-{i + 1}", "", "", sid, _text(role.get("roleType")), _text(role.get("role")),
                     _text(role.get("beginDate")), _text(role.get("endDate")), _ref(role.get("org"))]
                )  # fmt: skip
    orgs = [
        [_text(o.get("sourcedId")), _text(o.get("status")), _text(o.get("dateLastModified")), _text(o.get("name")),
         _text(o.get("type")), _text(o.get("identifier")), _ref(o.get("parent"))]
        for o in pulled.orgs
    ]  # fmt: skip
    manifest = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.2"],
                ["file.users", "bulk"], ["file.orgs", "bulk"], ["file.roles", "bulk"],
                ["source.systemName", "OneRoster REST pull"]]  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", _csv(manifest[0], manifest[1:]))
        archive.writestr("orgs.csv", _csv(ORGS_CSV, orgs))
        archive.writestr("users.csv", _csv(USERS_CSV, users))
        archive.writestr("roles.csv", _csv(ROLES_CSV, roles))
    return buffer.getvalue()


# --- The pull, as a job ------------------------------------------------------------------------------------


def roster_pull(*, school: School, job: Job) -> Feed:
    """Fetch, bundle, receive: the job shows how many records are read so far; its report what was read and
    what became of it. A failure raises PullFailed and receives nothing."""
    source = roster_source_for(school)
    if source is None or not source.enabled:
        raise PullFailed("No OneRoster server is set for this school.")

    seen: dict[str, tuple[int, int | None]] = {}

    def on_page(key, done, total):
        seen[key] = (done, total)
        totals = [t for _, t in seen.values()]
        job_progress(job, done=sum(d for d, _ in seen.values()), total=None if None in totals else sum(totals))

    pulled = roster_fetch(source, on_page=on_page)
    if pulled.users and not any(_roles_of(user) for user in pulled.users):
        # Read as a full snapshot, people without roles would all be leavers: refused before it gets that far.
        raise PullFailed("The OneRoster server's users have no roles: nobody could be read. Is it OneRoster 1.2?")
    stamp = timezone.localtime().strftime("%Y-%m-%d-%H%M")
    feed = feed_receive(
        school=school, actor=job.created_by, name=f"oneroster-pull-{stamp}.zip", content=roster_bundle(pulled),
        source=Feed.Source.PULL,
    )  # fmt: skip
    counts = {
        "roster_orgs": len(pulled.orgs),
        "roster_users": len(pulled.users),
        **{f"roster_feed_{kind}": n for kind, n in feed.row_counts.items()},
    }
    report = [["What", "Value"], ["Server", source.base_url], ["Orgs read", len(pulled.orgs)],
              ["Users read", len(pulled.users)], ["Feed", feed.file_name],
              ["Feed state", feed.get_state_display()]]  # fmt: skip
    report += [
        ["Problem", f"{e.get('file', '')} {e.get('row') or ''} {e.get('message', '')}".strip()]
        for e in feed.errors[:200]
    ]
    job.params = {**job.params, "feed_id": str(feed.pk)}
    job.save(update_fields=["params"])
    job_succeed(job, counts=counts, report=csv_bytes(report, bom=True), report_name=f"oneroster-pull-{stamp}.csv")
    return feed


def roster_pull_start(*, school: School, actor: Account | None) -> Job:
    """Pull now: the pull as a job the browser follows."""
    from provisioning.tasks import roster_pull_task  # cycle: the task module imports this module

    source = roster_source_for(school)
    if source is None or not source.enabled:
        raise ValidationError("Set the OneRoster server and tick Pull the feed from a OneRoster server first.")
    return job_start(school=school, kind=Job.Kind.ROSTER_PULL, actor=actor, task=roster_pull_task)


def roster_pull_work(job: Job) -> None:
    """The job's work (run inside its school's scope, claimed): a PullFailed is the job's failure message."""
    try:
        roster_pull(school=job.school, job=job)
    except PullFailed as exc:
        job_fail(job, message=str(exc))


def roster_pull_nightly(*, school: School, now: datetime) -> Feed | None:
    """The nightly's pull, just before it plans: a job of its own (progress, report), run here and now. A
    failure is raised, so the nightly records it on the school and plans nothing from an old feed."""
    source = roster_source_for(school)
    if source is None or not source.enabled:
        return None
    job = Job.objects.create(school=school, kind=Job.Kind.ROSTER_PULL, params={"nightly": now.isoformat()})
    job_claim(job)
    try:
        return roster_pull(school=school, job=job)
    except PullFailed as exc:
        job_fail(job, message=str(exc))
        raise
