"""SCIM 2.0 out: what Rollcall pushes to a connected service that keeps its own user table.

A ScimTarget gives one ConnectedService (signon) a SCIM endpoint and a bearer token. A ScimUser remembers, per
service and account, the id the service gave the account and the fingerprint of what was last pushed, so a sweep
sends only what changed and a redelivered push sends nothing. A ScimRun is one push or reconciliation, with its
state, progress, counts and (for a reconciliation) the plan waiting for confirmation; ScimExchange is the log of
what was sent and answered, never the token.

These rows belong to a service, which belongs to an organisation, not to one school: they are not SchoolOwned,
and only support staff (the support admin) read them.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from signon.models import ConnectedService


class ScimTarget(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.OneToOneField(ConnectedService, on_delete=models.CASCADE, related_name="scim_target")
    endpoint = models.URLField(
        "SCIM endpoint URL",
        max_length=500,
        help_text="The service's SCIM 2.0 base URL, e.g. https://app.example/scim/v2",
    )
    # Encrypted with a key derived from SECRET_KEY (outbound/secrets.py); never shown back, never logged.
    token_encrypted = models.TextField(blank=True)
    push_groups = models.BooleanField(
        "Push groups", default=False, help_text="Also push one group per school and role, with its people as members."
    )
    enabled = models.BooleanField(default=True, help_text="Off: no pushes are sent; the mapping is kept.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SCIM push"
        verbose_name_plural = "SCIM pushes"

    def __str__(self):
        return f"SCIM push to {self.service}"

    @property
    def token_is_set(self) -> bool:
        return bool(self.token_encrypted)


class ScimUser(models.Model):
    """An account as the service holds it. The account is kept as its id, not a link: an erased account's row
    must outlive it until the service has been told to delete it."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(ScimTarget, on_delete=models.CASCADE, related_name="users")
    account_id = models.UUIDField()
    remote_id = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    pushed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "account_id"], name="scim_user_once")]

    def __str__(self):
        return f"{self.account_id} as {self.remote_id}"


class ScimGroup(models.Model):
    """A school's role as a group at the service (only when the target pushes groups)."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(ScimTarget, on_delete=models.CASCADE, related_name="groups")
    key = models.CharField(max_length=120, help_text="school id:role code")
    remote_id = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    pushed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="scim_group_once")]

    def __str__(self):
        return f"{self.key} as {self.remote_id}"


class ScimRun(models.Model):
    class Kind(models.TextChoices):
        PUSH = "push", "Push"
        RECONCILE = "reconcile", "Reconciliation"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Waiting to retry"
        NEEDS_CONFIRMATION = "needs_confirmation", "Needs confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        APPLYING = "applying", "Applying"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (
        State.QUEUED,
        State.RUNNING,
        State.RETRYING,
        State.NEEDS_CONFIRMATION,
        State.CONFIRMED,
        State.APPLYING,
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    target = models.ForeignKey(ScimTarget, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PUSH)
    state = models.CharField(max_length=24, choices=State.choices, default=State.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    # A reconciliation's plan: [{"action", "account_id", "remote_id", "user_name", "changes"}], applied on
    # confirmation as it stands (nothing is decided again when it is applied).
    plan = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written on claim and with every batch: an open run that stopped writing it lost its worker (or its
    # message), and stops blocking the next sweep (outbound.services.runs_abandon).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target", "-created_at"], name="scim_run_target_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.target.service} ({self.get_state_display()})"


class ScimExchange(models.Model):
    """One request and its answer: method, path, status and bodies (trimmed). Headers, and so the token, are
    never kept."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(ScimTarget, on_delete=models.CASCADE, related_name="exchanges")
    run = models.ForeignKey(ScimRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="exchanges")
    at = models.DateTimeField(default=timezone.now)
    # Whose data the bodies hold: blanked when that account is erased (outbound/apps.py).
    account_id = models.UUIDField(null=True, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    sent = models.TextField(blank=True)
    answered = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target", "-at"], name="scim_exchange_target_idx")]

    def __str__(self):
        return f"{self.method} {self.path} → {self.status or 'no answer'}"
