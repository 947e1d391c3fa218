"""Assessments: global content (edited by support staff) and, per person, school-owned progress.

Content (Assessment, Section, Question, Choice) belongs to no school: every school offers the same
invigilator training. Everything about a person taking it (progress, attempts, certificates, what a
Centre Admin hid from them) is school-owned and therefore scoped.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenancy.models import SchoolOwned


class Assessment(models.Model):
    class Kind(models.TextChoices):
        UNTIMED = "untimed", "Untimed"
        TIMED = "timed", "Timed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(
        max_length=80, unique=True, help_text="Stable name used by import_assessment to find the same assessment."
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField("type", max_length=10, choices=Kind.choices, default=Kind.UNTIMED)
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Timed assessments only: minutes from Start until it closes."
    )
    validity_months = models.PositiveSmallIntegerField(
        "certificate validity (months)", default=12, help_text="A certificate expires this many months after issue."
    )
    audience_roles = models.ManyToManyField(
        "accounts.Role", related_name="+", help_text="Listed for people holding any of these roles."
    )
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="untimed") | models.Q(duration_minutes__gt=0),
                name="assessment_timed_has_duration",
            )
        ]

    def __str__(self):
        return self.title

    @property
    def is_timed(self) -> bool:
        return self.kind == self.Kind.TIMED


class Section(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    introduction = models.TextField(blank=True)
    pass_mark = models.PositiveSmallIntegerField(help_text="Questions answered correctly needed to pass.")

    class Meta:
        ordering = ["assessment", "order"]
        constraints = [models.UniqueConstraint(fields=["assessment", "order"], name="section_order_unique")]

    def __str__(self):
        return f"{self.assessment}: {self.order}. {self.title}"


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=1)
    text = models.TextField()
    kind = models.CharField("type", max_length=10, choices=Kind.choices, default=Kind.SINGLE)

    class Meta:
        ordering = ["section", "order"]
        constraints = [models.UniqueConstraint(fields=["section", "order"], name="question_order_unique")]

    def __str__(self):
        return self.text[:80]


class Choice(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveSmallIntegerField(default=1)
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "order"]

    def __str__(self):
        return self.text[:80]


class ProgressStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not Started"
    STARTED = "started", "Started"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class AssessmentProgress(SchoolOwned):
    """One person's state in one assessment at one school.

    `run` counts goes at the whole assessment: taking it again after a pass (to renew a certificate)
    or after a timed run closed starts a new run; attempts from earlier runs are kept.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=ProgressStatus.choices, default=ProgressStatus.NOT_STARTED)
    run = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, help_text="When a timed run closes.")
    finished_at = models.DateTimeField(null=True, blank=True)
    sections_passed = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "account", "assessment"], name="progress_once_per_person"),
        ]
        indexes = [models.Index(fields=["school", "assessment", "status"], name="progress_status_idx")]

    def __str__(self):
        return f"{self.account} · {self.assessment} · {self.get_status_display()}"


class SectionAttempt(SchoolOwned):
    """One submitted go at a section: the answers given and the mark the server computed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    progress = models.ForeignKey(AssessmentProgress, on_delete=models.CASCADE, related_name="attempts")
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="+")
    run = models.PositiveSmallIntegerField()
    answers = models.JSONField(default=dict, help_text="question id -> list of chosen choice ids")
    mark = models.PositiveSmallIntegerField()
    out_of = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["submitted_at"]
        indexes = [models.Index(fields=["school", "progress", "section"], name="section_attempt_idx")]


class Certificate(SchoolOwned):
    """What a pass earns. Never edited after issue: a later pass issues a new one and supersedes this.

    The holder's name and the marks are copied in, so the record stands on its own; when the holder's
    account is deleted the name is erased and the certificate is revoked, yet stays verifiable.
    """

    class Status(models.TextChoices):
        VALID = "valid", "Valid"
        SUPERSEDED = "superseded", "Superseded"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField("verification code", max_length=20, unique=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="+")
    holder_name = models.CharField(max_length=310, blank=True)
    assessment_title = models.CharField(max_length=200)
    score = models.PositiveSmallIntegerField()
    out_of = models.PositiveSmallIntegerField()
    section_marks = models.JSONField(default=list, help_text="[{title, mark, out_of}] in section order")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALID)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pdf = models.FileField(upload_to="certificates/%Y/%m/", blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["school", "account", "assessment"], name="certificate_holder_idx"),
            models.Index(fields=["school", "status", "expires_at"], name="certificate_status_idx"),
        ]

    def __str__(self):
        return f"{self.assessment_title} · {self.code}"

    @property
    def pdf_filename(self) -> str:
        return f"certificate-{self.code}.pdf"


class AssessmentHidden(SchoolOwned):
    """A Centre Admin hid this assessment from this person at this school (ticked = hidden)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="+")
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "account", "assessment"], name="assessment_hidden_once"),
        ]


class CertificateReminder(SchoolOwned):
    """That a reminder about a certificate went out: one row per certificate and reminder, claimed (inserted)
    before the email is sent, so a second run, or two workers at once, never send it twice."""

    class Kind(models.TextChoices):
        EXPIRING = "expiring", "Expires in 30 days"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "certificate", "kind"], name="certificate_reminder_once")
        ]

    def __str__(self):
        return f"{self.certificate} · {self.get_kind_display()}"
