"""The service catalogue: OAuth clients (django-oauth-toolkit Applications) that sign people in with Rollcall.

A ConnectedService wraps one Application (which holds the client id, hashed secret, redirect URIs) with what
Rollcall decides by: the organisation it belongs to (none: shared by support with every organisation), the
roles that may use it (accounts' Role catalogue, the one list) and the scopes it may ask for.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from oauth2_provider.models import Application

from accounts.models import Role
from tenancy.models import Organisation, School, SchoolOwned

# OneRoster 1.2's read-only roster scope (the spec's own name): a service holding it reads its organisation's
# rosters at /ims/oneroster/rostering/v1p2/ (rostering/) with a client-credentials token.
ROSTER_SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
# The scopes a service may be given; openid is always allowed. Descriptions: settings.OAUTH2_PROVIDER["SCOPES"].
SERVICE_SCOPES = ("profile", "email", "schools", "linked_students", ROSTER_SCOPE)


class ConnectedService(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="connected_service")
    name = models.CharField(max_length=100)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="connected_services",
        help_text="Leave empty for a service support shares with every organisation.",
    )
    roles = models.ManyToManyField(Role, related_name="+", help_text="People holding one of these roles may use it.")
    scopes = models.CharField(max_length=200, default="profile email schools", help_text="Space-separated.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return ["openid", *(s for s in self.scopes.split() if s in SERVICE_SCOPES)]


class ServiceSwitchedOff(SchoolOwned):
    """A Centre Admin switched this service off for their school: its people are refused there."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", db_index=False)
    service = models.ForeignKey(ConnectedService, on_delete=models.CASCADE, related_name="+")
    switched_off_at = models.DateTimeField(default=timezone.now)
    switched_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "service"], name="service_switched_off_once")]

    def __str__(self):
        return f"{self.service} off at {self.school}"


class ServiceSignIn(models.Model):
    """That an account signed in to a service, for the profile's list (tokens come and go; this stays)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    service = models.ForeignKey(ConnectedService, on_delete=models.CASCADE, related_name="+")
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    signed_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "service"], name="service_sign_in_once")]

    def __str__(self):
        return f"{self.account} → {self.service}"
