"""Filled in by the upload and MIS sync issues."""

# --- Spreadsheet bulk upload (issue 9; provisioning/upload/) -----------------------------------
import uuid  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import models  # noqa: E402

from tenancy.models import SchoolOwned  # noqa: E402


class UploadBatch(SchoolOwned):
    """One uploaded spreadsheet: the file as sent, its preview, and the job that applied it.

    The file itself is kept (not a parsed copy) so the preview is always recomputed against the
    registry as it is now, and the result report can hand the admin back their own rows.
    """

    class State(models.TextChoices):
        PREVIEWED = "previewed", "Waiting for confirmation"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        ADD_NEW = "add_new", "Add new only"
        ADD_UPDATE = "add_update", "Add and update"
        UPDATE_ONLY = "update_only", "Update only"

    class PasswordMethod(models.TextChoices):
        STARTER_CODES = "starter_codes", "One-time starter codes (listed in a credentials sheet)"
        INVITATIONS = "invitations", "Send invitations (single-use set-password links by email)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(upload_to="uploads/%Y/%m/")
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)
    row_count = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PREVIEWED)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.ADD_NEW)
    password_method = models.CharField(
        max_length=16, choices=PasswordMethod.choices, default=PasswordMethod.STARTER_CODES
    )
    add_existing = models.BooleanField(default=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    credentials = models.FileField(upload_to="upload-credentials/", blank=True)
    credentials_expire_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["school", "-created_at"], name="upload_batch_school_idx")]

    def __str__(self):
        return f"{self.file_name} ({self.get_state_display()})"


# --- Contacts: what Account Manager jobs did, per person (issue 6) ----------------------------------
# Owned by provisioning/contacts/. One row per person per Revoke Access or Send Welcome Email job.
# (uuid, models and SchoolOwned are imported by the section above.)


class ContactJobItem(SchoolOwned):
    """What one Revoke Access or Send Welcome Email job did for one person.

    Rows are written when the job starts (outcome "pending") and claimed in batches with a conditional
    UPDATE, so a redelivered task never sends a second email nor revokes twice. Welcome rows are the
    delivery record: the address used and the outcome (sent, or failed with the reason), which the
    Account Manager lists as email problems.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting"
        WORKING = "working", "In progress"
        SENT = "sent", "Sent"
        REVOKED = "revoked", "Access revoked"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey("tenancy.Job", on_delete=models.CASCADE, related_name="contact_items")
    kind = models.CharField(max_length=32, help_text="The job's kind: revoke or welcome_email.")
    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="job_items")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.CharField(max_length=300, blank=True, help_text="Why it failed or was skipped.")
    email = models.EmailField(blank=True, help_text="The address the welcome email went to.")
    username = models.CharField(max_length=150, blank=True, help_text="The username a revoke removed.")
    reason = models.CharField(max_length=40, blank=True, help_text="Why the contact was Ready to Revoke Access.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "membership"], name="contact_job_item_once")]
        indexes = [
            models.Index(fields=["school", "kind", "outcome"], name="contact_job_item_outcome_idx"),
            models.Index(fields=["school", "membership", "kind"], name="contact_job_item_member_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.get_outcome_display()}"


# --- MIS sync: feeds, the school's sync policy, runs and their per-record plan (issue 10) ------------
# Owned by provisioning/sync/.

import uuid  # noqa: E402
from datetime import time as _time  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import models  # noqa: E402
from django_scopes import ScopedManager  # noqa: E402

from tenancy.constraints import CompositeForeignKey  # noqa: E402
from tenancy.models import SchoolOwned  # noqa: E402


class Feed(SchoolOwned):
    """What the MIS sent, kept as sent and dated; parsed again whenever a run uses it."""

    class Format(models.TextChoices):
        ROLLCALL_CSV = "rollcall_csv", "Rollcall export (CSV files)"
        ROLLCALL_XLSX = "rollcall_xlsx", "Rollcall export (.xlsx)"
        ONEROSTER_11 = "oneroster_1.1", "OneRoster 1.1"
        ONEROSTER_12 = "oneroster_1.2", "OneRoster 1.2"
        SDS_V1 = "sds_v1", "School Data Sync v1 (UK)"
        SDS_21 = "sds_2.1", "School Data Sync v2.1"

    class State(models.TextChoices):
        VALID = "valid", "Accepted"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded in the browser"
        API = "api", "Pushed by the MIS agent"
        PULL = "pull", "Pulled from a OneRoster server"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(upload_to="feeds/%Y/%m/")
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=16, choices=Format.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.UPLOAD)
    state = models.CharField(max_length=10, choices=State.choices)
    row_counts = models.JSONField(default=dict, blank=True)
    modes = models.JSONField(default=dict, blank=True, help_text="Per person type: bulk, delta or absent.")
    errors = models.JSONField(default=list, blank=True, help_text="Row-level problems: file, row, column, message.")
    warnings = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    # What a line-by-line comparison reads of it (feed_diff.feed_digest): a night whose feed has the digest of
    # the last applied run's reads that run's feed as its own, not again from storage. Blank: not known.
    digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["school", "-received_at"], name="feed_school_received_idx")]

    def __str__(self):
        return f"{self.file_name} ({self.get_state_display()})"


class SyncPolicy(SchoolOwned):
    """The school's Bulk User Synchronise settings: one row per school, also the lock two runs share."""

    class UsernameMethod(models.TextChoices):
        MIS_CODE = "mis_code", "MIS code"
        INITIAL_SURNAME = "initial_surname", "Initial + surname (ASmith)"
        FIRST_LAST = "first_last", "first.last"
        SURNAME_INITIAL = "surname_initial", "Surname + initial (SmithA)"
        EMAIL_LOCAL = "email_local", "Email local part"

    class DateOrder(models.TextChoices):
        # The values are provisioning/sync/feed_dates.py's: 03/04/2012 is read only in the order chosen here.
        ISO = "iso", "YYYY-MM-DD only (2012-04-03)"
        DAY_FIRST = "dmy", "Day first, as in the UK (03/04/2012 is 3 April 2012)"
        MONTH_FIRST = "mdy", "Month first, as in the US (04/03/2012 is 3 April 2012)"

    class PasswordMethod(models.TextChoices):
        RANDOM = "random", "Auto generate random password (one-time starter code)"
        DEFAULT = "default", "Enter default password for all users"
        NONE = "none", "None: users sign in with Microsoft 365 or Google"

    username_method = models.CharField(max_length=20, choices=UsernameMethod.choices, default=UsernameMethod.MIS_CODE)
    lowercase = models.BooleanField("Lower-case usernames", default=True)
    prepend_text = models.CharField("Prepend text to username", max_length=20, blank=True)
    postpend_text = models.CharField("Postpend text to username", max_length=20, blank=True)
    year_groups = models.JSONField("Student Year Levels to Sync", default=list, blank=True)
    password_method = models.CharField(max_length=10, choices=PasswordMethod.choices, default=PasswordMethod.RANDOM)
    default_password_hash = models.CharField(max_length=200, blank=True)
    overwrite_existing = models.BooleanField("Overwrite existing account details", default=True)
    # On, the sync never renames an account that has a username; off, a username follows a change of the name
    # it was made from (asmith -> ajones). A new method renames nobody either way unless rename_existing asks.
    keep_usernames = models.BooleanField(
        "Keep existing usernames",
        default=False,
        help_text="The sync never renames an account that already has a username. On by default for a school "
        "that already held accounts when its settings were first made.",
    )
    rename_existing = models.BooleanField(
        "Rename existing accounts to the new pattern",
        default=False,
        help_text="Once: the next Synchronise Users plans renaming existing accounts to the username method, "
        "old name to new name; cleared when a run with those renames is applied.",
    )
    archive_inactive = models.BooleanField("Archive inactive users", default=True)
    date_order = models.CharField(
        "Dates in feeds",
        max_length=3,
        choices=DateOrder.choices,
        default=DateOrder.ISO,
        help_text="How your MIS writes dates such as 03/04/2012. Dates written as YYYY-MM-DD are always read.",
    )
    student_roles = models.JSONField(default=list, blank=True)
    staff_roles = models.JSONField(default=list, blank=True)
    contact_roles = models.JSONField(default=list, blank=True)
    student_grace_days = models.PositiveIntegerField(default=14)
    student_erase_days = models.PositiveIntegerField(default=0)
    staff_grace_days = models.PositiveIntegerField(default=7)
    staff_erase_days = models.PositiveIntegerField(default=0)
    contact_grace_days = models.PositiveIntegerField(default=0)
    contact_erase_days = models.PositiveIntegerField(default=0)
    guard_threshold = models.PositiveIntegerField(null=True, blank=True)
    nightly_enabled = models.BooleanField(default=False)
    nightly_time = models.TimeField(default=_time(2, 0))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school"], name="sync_policy_one_per_school")]

    def __str__(self):
        return f"Sync policy of {self.school}"


class SchoolNightly(SchoolOwned):
    """The school's nightly work (its sync when due, leaver timers, purges): the night last sent and how it
    went (support staff's progress of the night), and the failure its dashboard shows.

    A row of its own rather than a field of SyncPolicy: a running sync holds the policy row's lock for its
    whole work, and recording another failure must never wait for it. The failure is cleared when the work
    next succeeds.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        GUARDED = "guarded", "Stopped by the mass-change guard"

    failed_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    # The night last sent (the school's own date) and how it went: the support staff's progress of the night
    # (provisioning.sync.night) and the tick's "already sent tonight" (nightly.scheduled_tick).
    night = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school"], name="school_nightly_one_per_school")]

    def __str__(self):
        return f"Nightly work of {self.school}"


class SyncRun(SchoolOwned):
    """One synchronisation: its plan (the records), whether it was applied, and how long it took."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "By hand"
        SCHEDULED = "scheduled", "Nightly"
        API = "api", "API"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        PLANNING = "planning", "Planning"
        PLANNED = "planned", "Preview ready"
        NEEDS_CONFIRMATION = "needs_confirmation", "Needs confirmation"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        NO_FEED = "no_feed", "No new feed"
        SUPERSEDED = "superseded", "Superseded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    feed = models.ForeignKey(Feed, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    dry_run = models.BooleanField(default=True)
    counts = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    # The school's state fingerprint right after this run's apply: the next run plans from the lines that
    # changed since (incremental.py) only while the school is still exactly so.
    applied_fingerprint = models.CharField(max_length=64, blank=True)
    guard_threshold = models.PositiveIntegerField(default=0)
    guard_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    plan_seconds = models.FloatField(null=True, blank=True)
    apply_seconds = models.FloatField(null=True, blank=True)
    credentials = models.FileField(upload_to="sync-credentials/", blank=True)
    credentials_expire_at = models.DateTimeField(null=True, blank=True)
    credentials_downloaded_at = models.DateTimeField(null=True, blank=True)
    # Planned while the policy asked to rename existing accounts: applying it answers that request.
    renames_asked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["school", "-created_at"], name="sync_run_school_idx")]
        # What a run's records reference (sync_record_run_fk).
        constraints = [models.UniqueConstraint(fields=["id", "school"], name="sync_run_id_school_unique")]

    def __str__(self):
        return f"Sync {self.created_at:%Y-%m-%d %H:%M} ({self.get_state_display()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.plan_seconds is None:
            return None
        return round(self.plan_seconds + (self.apply_seconds or 0), 2)


class SyncRecord(SchoolOwned):
    """One person's (or one contact link's) outcome in a run: the stored plan and the audit trail.

    Ids are kept as plain values, not foreign keys: a dry run plans accounts that do not exist yet.

    `school` and `run` are one database constraint, sync_record_run_fk: the run, at this school (checked at
    commit, so the bulk COPY of a run's records may come in any order). One check per record where two keys
    took two, on the 188,000 records of a 100,000-person first import. Neither gets an index of its own: the
    (run, outcome) and (school, account_id) indexes below start with them.
    """

    class Outcome(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        TRANSFER = "transfer", "Transfer"
        ARCHIVE = "archive", "Archive"
        REACTIVATE = "reactivate", "Reactivate"
        UNCHANGED = "unchanged", "Unchanged"
        SKIPPED = "skipped", "Skipped"

    school = models.ForeignKey(
        "tenancy.School", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    run = models.ForeignKey(
        SyncRun, on_delete=models.CASCADE, related_name="records", db_index=False, db_constraint=False
    )
    entity = models.CharField(max_length=8, default="person")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    person_type = models.CharField(max_length=10)
    mis_code = models.CharField(max_length=64, blank=True)
    membership_id = models.UUIDField(null=True, blank=True)
    account_id = models.UUIDField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "outcome"], name="sync_record_run_outcome_idx"),
            models.Index(fields=["school", "account_id"], name="sync_record_account_idx"),
        ]
        constraints = [
            CompositeForeignKey(fields=["run", "school"], to="provisioning.SyncRun", to_fields=["id", "school"],
                                name="sync_record_run_fk"),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.outcome} {self.person_type} {self.mis_code}"


class SchoolDataVersion(models.Model):
    """The changes folded so far into a school's sync fingerprint (PostgreSQL only; see SchoolDataChange).

    Only a sync writes this row, under its SyncPolicy lock, when it folds the school's changes in: an edit
    never waits for it. No database constraint and no cascade: Django leaves the row when a school is
    deleted (a leftover of two numbers for an id never used again) instead of locking it while a sync
    of that school might be folding into it.
    """

    school = models.OneToOneField(
        "tenancy.School", primary_key=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    version = models.BigIntegerField(default=0)

    objects = ScopedManager(school="school")

    def __str__(self):
        return f"{self.school_id} at version {self.version}"


class SchoolDataChange(models.Model):
    """A transaction wrote to what a school's sync plans from (PostgreSQL only): its memberships, role
    assignments or contact links, or a compared column of its members' accounts (migration 0007's triggers).

    One row per (school, transaction), so no two transactions ever write the same row and an edit never
    waits on a running sync, or a sync on an edit, through it. The sync's fingerprint is the school's
    folded version plus the statements of these rows; a sync folds them into SchoolDataVersion as it
    finishes (provisioning.sync.state.applied_fingerprint), so a school keeps only the rows of the
    transactions since its last sync. Like the version, left alone when a school is deleted.
    """

    pk = models.CompositePrimaryKey("school", "xact")
    school = models.ForeignKey(  # the primary key's index, which begins with the school, serves it
        "tenancy.School", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    xact = models.BigIntegerField(help_text="The writing transaction's id (pg_current_xact_id()).")
    statements = models.IntegerField(default=1, help_text="Its statements that wrote to the school's data.")

    objects = ScopedManager(school="school")

    def __str__(self):
        return f"{self.school_id} written by transaction {self.xact}"


class NewcomerMatch(SchoolOwned):
    """A school's decision on a newcomer of its MIS feed who may be a person its organisation already holds.

    MIS emails are unverified, so an account of the organisation with the newcomer's email is only a possible
    match: the sync holds the newcomer (creates nothing) until someone decides on the run's preview, and the
    decision is kept here for the runs that follow. It names the account it was made about: a different
    possible match later asks again.
    """

    class Decision(models.TextChoices):
        SAME = "same", "Same person: add a membership at this school"
        DIFFERENT = "different", "Different person: create a new account"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person_type = models.CharField(max_length=10)
    mis_code = models.CharField(max_length=64)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "person_type", "mis_code"], name="newcomer_match_once")
        ]

    def __str__(self):
        return f"{self.person_type} {self.mis_code}: {self.get_decision_display()}"


class RosterSource(SchoolOwned):
    """Where the school's feed is pulled from: a OneRoster 1.2 rostering REST server (provisioning/sync/
    oneroster_rest.py), read with OAuth 2 client credentials. The secret is kept encrypted and never shown back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    school = models.ForeignKey("tenancy.School", on_delete=models.CASCADE, related_name="+", db_index=False)
    enabled = models.BooleanField("Pull the feed from a OneRoster server", default=False)
    base_url = models.URLField(
        "Server address",
        max_length=300,
        help_text="Up to and including /ims/oneroster/rostering/v1p2, e.g. "
        "https://mis.example.org/ims/oneroster/rostering/v1p2",
    )
    token_url = models.URLField("Token address", max_length=300)
    client_id = models.CharField("Client ID", max_length=200)
    secret_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school"], name="roster_source_once")]

    def __str__(self):
        return f"OneRoster server for {self.school}"
