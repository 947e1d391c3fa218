"""Organisations, schools, the school-owned base model and background jobs.

Every school-owned model inherits SchoolOwned: its default manager is a django-scopes
ScopedManager, so a query made while no school is in scope raises ScopeError instead of
quietly returning every school's rows.
"""

import uuid
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager


def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name]


class Organisation(models.Model):
    class Kind(models.TextChoices):
        TRUST = "trust", "Trust"
        LOCAL_AUTHORITY = "local_authority", "Local authority"
        STANDALONE = "standalone", "Single school"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRUST)
    support_contact = models.CharField(
        max_length=300,
        blank=True,
        help_text="Shown in every page footer and error page, e.g. a phone number and email.",
    )
    privacy_notice = models.TextField(blank=True)
    # Trust Admins (accounts.models.OrganisationRole) read every school of the organisation; with this on
    # they also act as each school's Centre Admin (accounts.permissions.organisation_school_perms).
    trust_admins_act_as_centre_admin = models.BooleanField(
        "Trust Admins may act as Centre Admin in our schools",
        default=False,
        help_text="Off: Trust Admins see every school of the organisation but change nothing there.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class School(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="schools")
    name = models.CharField(max_length=200)
    urn = models.CharField("URN / DfE number", max_length=20, blank=True)
    slug = models.SlugField(max_length=80, unique=True)
    time_zone = models.CharField(max_length=64, default="Europe/London")
    is_active = models.BooleanField(default=True)
    email_domains = models.CharField(
        max_length=500, blank=True, help_text="Centre email domains, comma separated (e.g. northfield.sch.uk)."
    )
    # PRODUCT.md: a school setting, changed by a Centre Admin on Bulk User Synchronise. On: Rollcall passwords
    # (and starter codes once an account has signed in) are refused for the school's people, except those with
    # Override Network Authentication; accounts.services.signin.password_signin_refusal reads it.
    sign_in_microsoft_google_only = models.BooleanField(
        "Sign in with Microsoft 365 or Google only",
        default=False,
        help_text="People sign in with the Microsoft 365 or Google button; Rollcall passwords are refused, "
        "except for people with Override Network Authentication.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["urn"], condition=~models.Q(urn=""), name="school_urn_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def email_domain_list(self) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in self.email_domains.split(",") if d.strip()]


class SchoolOwned(models.Model):
    """Base for every row that belongs to one school."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")

    objects = ScopedManager(school="school")

    class Meta:
        abstract = True


# Words for the keys jobs count by (tenancy.models.Job.counts). Tenancy does not import the apps whose jobs they
# are: each registers its own in its AppConfig.ready() (README "Layers").
_COUNT_LABELS: dict[str, str] = {}


def register_count_labels(labels: dict[str, str]) -> None:
    _COUNT_LABELS.update(labels)


def count_label(key: str) -> str:
    if key in _COUNT_LABELS:
        return _COUNT_LABELS[key]
    return key.replace("_", " ").strip().capitalize() or key


class Job(SchoolOwned):
    """A background job: its state and progress are what the browser's progress bar polls."""

    class Kind(models.TextChoices):
        CENSUS = "demo", "School census report"  # stored as "demo", its name before it was the census
        SYNC = "sync", "MIS sync"
        UPLOAD = "upload", "Bulk upload"
        REVOKE = "revoke", "Revoke Access"
        WELCOME_EMAIL = "welcome_email", "Send Welcome Email"
        CERTIFICATE_ZIP = "certificate_zip", "Certificate download"
        CERTIFICATE_PDF = "certificate_pdf", "Certificate rendering"
        SYNC_CREDENTIALS = "sync_credentials", "Prepare starter codes"
        ROSTER_PULL = "roster_pull", "OneRoster pull"
        SCHOOL_EXPORT = "school_export", "School export"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        NEEDS_CONFIRMATION = "needs_confirmation", "Needs confirmation"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    FINISHED_STATES = (State.SUCCEEDED, State.FAILED)
    # A job is taken up again after its worker was lost at most this many times in all.
    MAX_ATTEMPTS = 3

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=24, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    report = models.FileField(upload_to="job-reports/%Y/%m/", blank=True)
    report_name = models.CharField(max_length=200, blank=True)
    # Why the report file is gone: it expired, or it named a person whose account was deleted.
    report_removed = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written on claim and with every progress report: a running job whose worker stopped writing it is the
    # one taken for abandoned (tenancy.services.job_claim), however long ago it started.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["school", "kind", "-created_at"], name="job_school_kind_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_state_display()})"

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def percent(self) -> int:
        if self.state == self.State.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        # All items done is not finished: the job may still write its report, commit, or roll back.
        return min(99, int(100 * self.progress_done / self.progress_total))

    @property
    def last_seen(self):
        """When its worker last reported (rows from before heartbeats count from their start)."""
        return self.heartbeat_at or self.started_at

    @property
    def is_stalled(self) -> bool:
        """Running, but its worker has not reported for JOB_STALLED_AFTER: killed, or the machine stopped."""
        if self.state != self.State.RUNNING or self.last_seen is None:
            return False
        return timezone.now() - self.last_seen > settings.JOB_STALLED_AFTER

    @property
    def retry_at(self):
        """When a stalled job will be taken up again by itself, or None: it must be started again by hand.

        Its message comes back from the broker JOB_REDELIVERED_AFTER after it was handed to the worker (the
        claim, started_at); the job is taken up then only if it already counts as abandoned, and only while
        attempts are left. Once that moment has passed with the job still stalled, nothing will take it up.
        """
        if not self.is_stalled or settings.JOB_REDELIVERED_AFTER is None or self.started_at is None:
            return None
        redelivered = self.started_at + settings.JOB_REDELIVERED_AFTER
        if self.attempts >= self.MAX_ATTEMPTS or redelivered < self.last_seen + settings.JOB_ABANDONED_AFTER:
            return None
        return redelivered if redelivered > timezone.now() else None

    @property
    def state_label(self) -> str:
        return "Stalled" if self.is_stalled else self.get_state_display()

    @property
    def counts_labelled(self) -> list[tuple[str, int]]:
        """The job's counts in words: the label an app registered for each key (register_count_labels),
        else the key made readable, so a page never shows `link_unchanged`."""
        return [(count_label(key), n) for key, n in self.counts.items()]

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ErasureRecord(SchoolOwned):
    """That something was erased, how much, and why; never whom. The retention page's "erased in the last
    30 days" and its erasure report read these: an audit event of a deleted person stops naming them, and
    the purges of files wrote nothing before."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "People erased"
        MEMBERSHIP = "membership", "Memberships removed (account kept by another school)"
        JOB_REPORT = "job_report", "Job reports"
        UPLOAD_FILE = "upload_file", "Uploaded files"
        FEED = "feed", "Stored MIS feeds"
        STARTER_CODES = "starter_codes", "Starter-code sheets"
        SCHOOL_EXPORT = "school_export", "School exports"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    person_type = models.CharField(max_length=10, blank=True)
    # Why: "leaver_policy", "deleted" (by hand), "expired" (a retention period), "downloaded", "named_deleted".
    reason = models.CharField(max_length=20, blank=True)
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["school", "-at"], name="erasure_school_at_idx")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d} {self.kind} x{self.count}"


class ApiToken(SchoolOwned):
    """A per-school API token, for a school's MIS agent or scripts.

    It acts for the person who created it, limited to the roles it was given, so it can never do
    more than its creator may at that school. Only a hash is stored; the token is shown once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, help_text="The first characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    role_codes = models.JSONField(default=list, help_text='Roles the token acts with, e.g. ["mis_agent"].')
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
