"""What the school export holds: one Table per file pair (name.csv, name.json), its columns described for the
README, and the query that reads its rows (READERS). Secrets are never read: no password hashes, no starter
codes, no token hashes, no default password of the sync policy."""

from dataclasses import dataclass

from accounts.models import Account, AuditEvent, ContactLink, Membership, RoleAssignment
from assessments.models import AssessmentProgress, Certificate
from provisioning.models import Feed, SyncPolicy, SyncRecord, SyncRun, UploadBatch
from tenancy.models import ErasureRecord


@dataclass(frozen=True)
class Table:
    """One file pair (name.csv and name.json): its columns, each with what it holds, and its rows."""

    name: str
    about: str
    columns: list[tuple[str, str]]  # (column, what it holds); the rows come from READERS[name]

    @property
    def title(self) -> str:
        """The table in words, for the screen ("Contact links"); the files keep their names."""
        return self.name.replace("_", " ").capitalize()


def _people(school):
    accounts = Account.objects.filter(memberships__school=school).distinct().order_by("username")
    return accounts.values_list(
        "id", "username", "given_name", "family_name", "email", "email_verified", "upn", "approved", "locked_out",
        "override_network_auth", "is_active", "date_joined", "last_login", "deleted_at",
    )  # fmt: skip


def _memberships(school):
    return Membership.objects.filter(school=school).order_by("created_at").values_list(
        "id", "account_id", "person_type", "mis_code", "status", "year_group", "form", "portal_access", "left_on",
        "archived_on", "created_at", "updated_at",
    )  # fmt: skip


def _roles(school):
    return (
        RoleAssignment.objects.filter(school=school)
        .order_by("granted_at")
        .values_list(
            "membership_id", "membership__account_id", "role_id", "role__name", "granted_at", "granted_by__username"
        )
    )


def _links(school):
    return ContactLink.objects.filter(school=school).values_list(
        "contact_id", "contact__account_id", "student_id", "student__account_id", "relationship", "portal_access"
    )


_POLICY_FIELDS = [
    f.name
    for f in SyncPolicy._meta.concrete_fields
    if f.name not in {"id", "school", "default_password_hash", "updated_by"}  # never a password, even hashed
]


def _policy(school):
    return SyncPolicy.objects.filter(school=school).values_list(*_POLICY_FIELDS, "updated_by__username")


def _runs(school):
    return SyncRun.objects.filter(school=school).order_by("created_at").values_list(
        "id", "trigger", "state", "dry_run", "counts", "guard_threshold", "guard_count", "message", "feed__file_name",
        "created_by__username", "created_at", "confirmed_by__username", "confirmed_at", "applied_at",
    )  # fmt: skip


def _records(school):
    return (
        SyncRecord.objects.filter(school=school)
        .order_by("run_id", "pk")
        .values_list(
            "run_id",
            "entity",
            "outcome",
            "person_type",
            "mis_code",
            "account_id",
            "username",
            "before",
            "after",
            "reason",
        )  # fmt: skip
        .iterator(chunk_size=2000)
    )


def _uploads(school):
    return UploadBatch.objects.filter(school=school).order_by("created_at").values_list(
        "id", "file_name", "file_format", "row_count", "state", "mode", "password_method", "created_by__username",
        "created_at", "consent_at",
    )  # fmt: skip


def _feeds(school):
    return (
        Feed.objects.filter(school=school)
        .order_by("received_at")
        .values_list("id", "file_name", "file_format", "source", "state", "row_counts", "received_at", "applied_at")
    )


def _audit(school):
    return (
        AuditEvent.objects.filter(school=school)
        .order_by("at")
        .values_list("at", "action", "actor_label", "target_type", "target_id", "target_label", "changes", "job_id")
        .iterator(chunk_size=2000)
    )


def _progress(school):
    return AssessmentProgress.objects.filter(school=school).values_list(
        "account_id", "assessment__title", "status", "run", "started_at", "finished_at", "sections_passed"
    )


def _certificates(school):
    return Certificate.objects.filter(school=school).order_by("issued_at").values_list(
        "code", "account_id", "holder_name", "assessment_title", "score", "out_of", "issued_at", "expires_at",
        "status", "status_reason",
    )  # fmt: skip


def _erasures(school):
    return (
        ErasureRecord.objects.filter(school=school)
        .order_by("at")
        .values_list("at", "kind", "person_type", "reason", "count")
    )


ACCOUNT_ID = ("account_id", "The person's account (people.csv id)")
MEMBERSHIP_ID = ("membership_id", "The membership (memberships.csv id)")
TABLES = [
    Table(
        "people",
        "Every account with a membership at the school (an account is one person, across schools).",
        [
            ("id", "The account's id"),
            ("username", "User Name"),
            ("given_name", "Given Names"),
            ("family_name", "Family Name"),
            ("email", "Email"),
            ("email_verified", "Whether the email was verified"),
            ("upn", "Unique pupil number"),
            ("approved", "Approved"),
            ("locked_out", "Locked Out"),
            ("override_network_auth", "Override Network Authentication"),
            ("is_active", "Can sign in"),
            ("date_joined", "When the account was made"),
            ("last_login", "Last sign-in"),
            ("deleted_at", "When the account was deleted (its personal data erased)"),
        ],
    ),  # fmt: skip
    Table(
        "memberships",
        "Each person's place at the school: one per person type.",
        [
            ("id", "The membership's id"),
            ACCOUNT_ID,
            ("person_type", "student, staff or contact"),
            ("mis_code", "MIS Code"),
            ("status", "active, left or archived"),
            ("year_group", "Year group"),
            ("form", "Form (registration group)"),
            ("portal_access", "Parent portal access"),
            ("left_on", "When they left"),
            ("archived_on", "When they were archived"),
            ("created_at", "Added"),
            ("updated_at", "Last changed"),
        ],
    ),  # fmt: skip
    Table(
        "roles",
        "The roles held at the school.",
        [
            MEMBERSHIP_ID,
            ACCOUNT_ID,
            ("role", "Role code"),
            ("role_name", "Role"),
            ("granted_at", "Given on"),
            ("granted_by", "Given by (User Name)"),
        ],
    ),  # fmt: skip
    Table(
        "contact_links",
        "Which contacts (parents, carers) are linked to which students.",
        [
            ("contact_membership_id", "The contact's membership"),
            ("contact_account_id", "The contact's account"),
            ("student_membership_id", "The student's membership"),
            ("student_account_id", "The student's account"),
            ("relationship", "Relationship"),
            ("portal_access", "Parent portal access"),
        ],
    ),  # fmt: skip
    Table(
        "sync_policy",
        "Bulk User Synchronise: the school's sync policy (the default password is never exported).",
        [(name, SyncPolicy._meta.get_field(name).verbose_name) for name in _POLICY_FIELDS]
        + [("updated_by", "Last changed by (User Name)")],
    ),  # fmt: skip
    Table(
        "sync_runs",
        "Every MIS sync run.",
        [
            ("id", "The run's id"),
            ("trigger", "manual, scheduled or api"),
            ("state", "Where the run got to"),
            ("dry_run", "A preview only"),
            ("counts", "Outcomes counted"),
            ("guard_threshold", "Mass-change guard"),
            ("guard_count", "Changes the guard counted"),
            ("message", "Message"),
            ("feed", "The feed's file name"),
            ("created_by", "Started by"),
            ("created_at", "Started"),
            ("confirmed_by", "Confirmed by"),
            ("confirmed_at", "Confirmed"),
            ("applied_at", "Applied"),
        ],
    ),  # fmt: skip
    Table(
        "sync_records",
        "Each run's plan, one row per person or contact link: what it found and did.",
        [
            ("run_id", "The run (sync_runs.csv id)"),
            ("entity", "person or link"),
            ("outcome", "Outcome"),
            ("person_type", "Person type"),
            ("mis_code", "MIS Code"),
            ACCOUNT_ID,
            ("username", "User Name"),
            ("before", "Values before (JSON)"),
            ("after", "Values after (JSON)"),
            ("reason", "Why"),
        ],
    ),  # fmt: skip
    Table(
        "uploads",
        "+Upload Users: each uploaded spreadsheet (listed; the files are not included).",
        [
            ("id", "The upload's id"),
            ("file_name", "File name"),
            ("file_format", "csv or xlsx"),
            ("row_count", "Rows"),
            ("state", "State"),
            ("mode", "Mode"),
            ("password_method", "Password method"),
            ("created_by", "Uploaded by"),
            ("created_at", "Uploaded"),
            ("consent_at", "Privacy notice acknowledged"),
        ],
    ),  # fmt: skip
    Table(
        "feeds",
        "MIS feeds still held (listed; the files are not included).",
        [
            ("id", "The feed's id"),
            ("file_name", "File name"),
            ("file_format", "Format"),
            ("source", "How it came"),
            ("state", "State"),
            ("row_counts", "Rows by person type"),
            ("received_at", "Received"),
            ("applied_at", "Applied"),
        ],
    ),  # fmt: skip
    Table(
        "audit_events",
        "The school's audit log: who changed what, when (secrets masked).",
        [
            ("at", "When"),
            ("action", "What (a code; the audit log screen shows it in words)"),
            ("actor", "Who (User Name, or system / job)"),
            ("target_type", "What kind of thing it changed"),
            ("target_id", "Its id"),
            ("target_label", "Its name"),
            ("changes", "Field: [before, after] (JSON)"),
            ("job_id", "The background job that did it"),
        ],
    ),  # fmt: skip
    Table(
        "assessment_progress",
        "Each person's progress in each assessment.",
        [
            ACCOUNT_ID,
            ("assessment", "Assessment"),
            ("status", "Status"),
            ("run", "Attempt number"),
            ("started_at", "Started"),
            ("finished_at", "Finished"),
            ("sections_passed", "Sections passed"),
        ],
    ),  # fmt: skip
    Table(
        "certificates",
        "Certificates issued (a deleted holder's name is erased).",
        [
            ("code", "Verification code"),
            ACCOUNT_ID,
            ("holder_name", "Holder"),
            ("assessment", "Assessment"),
            ("score", "Score"),
            ("out_of", "Out of"),
            ("issued_at", "Issued"),
            ("expires_at", "Expires"),
            ("status", "valid, superseded or revoked"),
            ("status_reason", "Why revoked"),
        ],
    ),  # fmt: skip
    Table(
        "erasures",
        "What was erased and why, never whom.",
        [
            ("at", "When"),
            ("kind", "What"),
            ("person_type", "Person type"),
            ("reason", "Why"),
            ("count", "How many"),
        ],
    ),  # fmt: skip
]
READERS = {
    "people": _people, "memberships": _memberships, "roles": _roles, "contact_links": _links, "sync_policy": _policy,
    "sync_runs": _runs, "sync_records": _records, "uploads": _uploads, "feeds": _feeds, "audit_events": _audit,
    "assessment_progress": _progress, "certificates": _certificates, "erasures": _erasures,
}  # fmt: skip
