"""The sign-on registry: one Account per person, held in schools through Memberships.

Account is global (one username across every school); everything a school owns about a
person (person type, MIS code, year group, roles, contact links) hangs off a Membership,
which is school-owned and therefore scoped.
"""

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_scopes import ScopedManager

from tenancy.constraints import CompositeForeignKey
from tenancy.models import School, SchoolOwned

# The links of school-owned rows to their school, role and job keep their database constraints: PostgreSQL
# checks them at commit (Django makes them DEFERRABLE INITIALLY DEFERRED), so the sync's bulk COPY writes rows
# in any order, and a row never points at a school, role or job that is not there. Integrity comes before the
# two seconds of a 100,000-person first import that dropping them once saved. A row hanging off a membership
# (a role, a contact link) names its school through it: one key on (membership, school) against the
# membership's (id, school) says both, and more (the membership is at the row's school), in one check per row
# instead of two (tenancy.constraints).


class PersonType(models.TextChoices):
    STUDENT = "student", "Student"
    STAFF = "staff", "Staff"
    CONTACT = "contact", "Contact"


class AccountManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username__iexact=self.model.normalize_username(username))

    def create_user(self, username, password=None, **extra):
        account = self.model(username=self.model.normalize_username(username), **extra)
        if password:
            account.set_password(password)
        else:
            account.set_unusable_password()
        account.save(using=self._db)
        return account

    def create_superuser(self, username, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, password, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=150, help_text="Unique across every school, ignoring case.")
    given_name = models.CharField("given names", max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    email_verified = models.BooleanField(default=False)
    upn = models.CharField("UPN", max_length=20, blank=True, help_text="Unique pupil number, for students.")
    home_school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.SET_NULL, related_name="home_accounts"
    )
    approved = models.BooleanField(default=True)
    locked_out = models.BooleanField(default=False)
    override_network_auth = models.BooleanField("override network authentication", default=False)
    must_change_password = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("support staff", default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AccountManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="account_username_ci_unique"),
        ]
        indexes = [
            # Sign-in by email looks up the first column; the Users list's sort by email pages with both
            # (the username breaks ties among the many people with no email).
            models.Index(Lower("email"), Lower("username"), name="account_email_user_ci_idx"),
            models.Index(fields=["upn"], name="account_upn_idx"),
            # The Users list sorts by these (and PostgreSQL adds trigram indexes for its search). The
            # username (unique) ends each, so a page that starts after a given person is one index seek
            # even among many people of the same name.
            models.Index(
                Lower("family_name"), Lower("given_name"), Lower("username"), name="account_family_given_user_idx"
            ),
            models.Index(
                Lower("given_name"), Lower("family_name"), Lower("username"), name="account_given_family_user_idx"
            ),
            # The few deleted accounts (tombstones), so lists can leave them out with a cheap anti-join.
            models.Index(fields=["id"], condition=models.Q(deleted_at__isnull=False), name="account_deleted_idx"),
        ]

    def __str__(self):
        return self.username

    @classmethod
    def normalize_username(cls, username):
        """Django's own clean() (the admin's forms) and the manager spell usernames as the services do."""
        from accounts.services.usernames import username_normalise  # cycle: the services import these models

        return username_normalise(username)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.username

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.given_name or self.username


class LowerExact(models.Lookup):
    """`iexact` as the username and email indexes hold it: lower() on both sides.

    Django's own iexact compiles to UPPER(col) = UPPER(%s) on PostgreSQL, which account_username_ci_unique and
    account_email_user_ci_idx (lower()) cannot serve, so each sign-in would read every account (17 ms at 100,000,
    growing with them; 0.02 ms through the index). Registered on the two fields, it serves every caller alike:
    Rollcall's backends and selectors, allauth's username and email look-ups, the admin. SQLite's LOWER, like its
    LIKE, folds ASCII only, as before."""

    lookup_name = "iexact"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs}) = LOWER({rhs})", (*lhs_params, *rhs_params)


Account._meta.get_field("username").register_lookup(LowerExact)
Account._meta.get_field("email").register_lookup(LowerExact)


class Service(models.Model):
    code = models.SlugField(max_length=40, primary_key=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.Model):
    """A role a school grants; what each one unlocks lives in accounts/permissions.py."""

    code = models.SlugField(max_length=40, primary_key=True)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="roles")
    name = models.CharField(max_length=100)
    short_name = models.CharField(max_length=20, blank=True)
    description = models.CharField(max_length=300, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["service__name", "sort_order"]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        """The name with its abbreviation, as PRODUCT.md writes it everywhere: "Exams Officer (EO)"; a short
        name that is not an abbreviation ("Student", "SLT/ELT/CLT") is not added."""
        short = self.short_name
        if short and short.isalpha() and short.isupper() and short != self.name:
            return f"{self.name} ({short})"
        return self.name


class Membership(SchoolOwned):
    """An account's place in one school, as one person type."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LEFT = "left", "Left"
        ARCHIVED = "archived", "Archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index below starts with the school.
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    person_type = models.CharField(max_length=10, choices=PersonType.choices)
    mis_code = models.CharField("MIS code", max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    year_group = models.CharField(max_length=20, blank=True)
    form = models.CharField("registration group", max_length=40, blank=True)
    portal_access = models.BooleanField(
        "parent portal access", default=False, help_text="The MIS flag that allows a contact into the parent portal."
    )
    left_on = models.DateField(null=True, blank=True)
    archived_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account__family_name", "account__given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "person_type", "mis_code"],
                condition=~models.Q(mis_code=""),
                name="membership_mis_code_unique",
            ),
            models.UniqueConstraint(fields=["school", "account", "person_type"], name="membership_once_per_type"),
            # What the school-owned rows hanging off a membership reference (CompositeForeignKey needs it).
            models.UniqueConstraint(fields=["id", "school"], name="membership_id_school_unique"),
        ]
        indexes = [
            # Also serves a status alone (the All tab's filter): a school has a handful of (person type,
            # status) keys, each deduplicated into posting lists, so the scan skips the others wholesale.
            models.Index(fields=["school", "person_type", "status"], name="membership_type_status_idx"),
            models.Index(fields=["school", "year_group"], name="membership_year_idx"),
            # Beside membership_mis_code_unique, which leaves out empty codes and begins with the person
            # type: the sort by MIS code, look-ups by code alone (uploads) and the people without a code.
            # The id ends it so the Users list's next page after a person is one seek among equal (empty) codes.
            models.Index(fields=["school", "mis_code", "id"], name="membership_mis_code_id_idx"),
        ]

    def __str__(self):
        return f"{self.account} at {self.school} ({self.get_person_type_display()})"


class RoleAssignment(SchoolOwned):
    """A role held through a membership.

    The foreign keys have no index of their own where a composite one starts with them (school, membership)
    or every query names the school too (role): a sync writes 100,000 of these at once, and each index
    costs it about as much as the rows themselves. Only assignments given by a person have a granted_by
    (an account's erasure looks them up); a sync's have none, so that index leaves them out.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # In the database through role_assignment_membership_fk: the membership, at this school.
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="role_assignments", db_index=False, db_constraint=False
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+", db_index=False)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "role"], name="role_assignment_once"),
            CompositeForeignKey(fields=["membership", "school"], to="accounts.Membership", to_fields=["id", "school"],
                                name="role_assignment_membership_fk"),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["school", "role"], name="role_assignment_role_idx"),
            models.Index(
                fields=["granted_by"], condition=models.Q(granted_by__isnull=False), name="role_assignment_granter_idx"
            ),
        ]

    def __str__(self):
        return f"{self.role} for {self.membership.account}"


class OrganisationRole(models.Model):
    """A role over every school of an organisation (PRODUCT.md, Later decisions): Trust Admin or Trust Viewer.

    Not school-owned: it belongs to the organisation, and opens its schools (accounts.selectors.schools_of).
    What each role may do at a school is accounts.permissions.organisation_school_perms; granted by support
    (support admin) or, for Trust Viewer, by a Trust Admin (accounts.services.organisation_roles)."""

    class Code(models.TextChoices):
        TRUST_ADMIN = "trust_admin", "Trust Admin"
        TRUST_VIEWER = "trust_viewer", "Trust Viewer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey("tenancy.Organisation", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="organisation_roles")
    role = models.CharField(max_length=20, choices=Code.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["organisation__name", "role"]
        # One role per person per organisation: Trust Admin already reads everything a Trust Viewer does.
        constraints = [models.UniqueConstraint(fields=["organisation", "account"], name="organisation_role_once")]
        indexes = [models.Index(fields=["account"], name="organisation_role_account_idx")]

    def __str__(self):
        return f"{self.get_role_display()} of {self.organisation}: {self.account}"


class ContactLink(SchoolOwned):
    """A contact (parent, carer) linked to a student at the same school, as the MIS records it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # In the database through contact_link_contact_fk and contact_link_student_fk: both memberships, at this
    # school (so a link never joins two schools' people).
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # No index of its own: contact_link_once starts with it.
    contact = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="student_links", db_index=False, db_constraint=False
    )
    student = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="contact_links", db_constraint=False)
    relationship = models.CharField(max_length=40, blank=True)
    portal_access = models.BooleanField("parent portal access", default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "student"], name="contact_link_once"),
            CompositeForeignKey(fields=["contact", "school"], to="accounts.Membership", to_fields=["id", "school"],
                                name="contact_link_contact_fk"),
            CompositeForeignKey(fields=["student", "school"], to="accounts.Membership", to_fields=["id", "school"],
                                name="contact_link_student_fk"),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.contact.account} → {self.student.account}"


class AuditEvent(models.Model):
    """Who changed what, when, and from which job. Written only by services.

    Scoped like every school-owned row; the school is optional only because support staff's
    changes to an account itself (in the Django admin) belong to no single school.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["school", "-at"], name="audit_school_at_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_label}"


class StarterCode(SchoolOwned):
    """A one-time code printed on a slip: signs the person in once, then they choose a password.

    Only an HMAC of the code is stored (keyed with the site's secret), so a fast hash is safe and
    a 100,000-person import costs milliseconds, not the hours argon2 per account would.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: starter_code_expiry_idx and starter_code_account_idx start with them.
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="starter_codes", db_index=False)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            # The account alone: every look-up names it, and an account holds a code or two, so the hash
            # (64 characters, 14 MB per 100,000 codes) is better checked on the row than kept in the index.
            models.Index(fields=["account"], name="starter_code_account_idx"),
            models.Index(fields=["school", "expires_at"], name="starter_code_expiry_idx"),
        ]

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class SetPasswordLink(SchoolOwned):
    """A single-use, expiring link that lets a person choose their password (invitation, welcome)."""

    class Purpose(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        WELCOME = "welcome", "Welcome email"
        RESET = "reset", "Password reset"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="set_password_links")
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["school", "account"], name="set_password_link_acct_idx")]

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class UsernameHold(models.Model):
    """A released username, kept from anyone else for a while (365 days) so mail and habits do not
    reach a stranger. Global like usernames themselves; the account that held it may take it back."""

    username_lower = models.CharField(max_length=150, unique=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    released_at = models.DateTimeField(default=timezone.now)
    held_until = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.username_lower} (held until {self.held_until:%Y-%m-%d})"


def max_length(model: type[models.Model], name: str) -> int:
    """A column's limit, for the forms and serializers that take it: they refuse what it cannot hold (a
    longer value is a 500 on PostgreSQL, and silently kept whole on SQLite)."""
    return model._meta.get_field(name).max_length
