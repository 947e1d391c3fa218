"""The sync policy: what a school's MIS sync grants, names, archives and erases, and its lock.

Saved only through policy_save (which roles the saver may grant, confirmation of student administrator
roles); read by every planning stage; its row's lock keeps two runs of a school from overlapping.
"""

from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account, Membership
from accounts.permissions import BULK_NEVER_GRANTS, ROLE_PERMISSIONS
from accounts.selectors import grantable_roles
from provisioning.models import SyncPolicy
from provisioning.sync.username_policy import username_stem
from tenancy.compiled_reads import CompiledRead
from tenancy.models import School


def policy_for(school: School) -> SyncPolicy:
    """The school's policy, made with the defaults on first use (Students Student Portal, Contacts Parent).

    A school that already holds accounts (made by +Add or upload before its first sync) gets Keep existing
    usernames: its first sync must not rename the people it has (a school of 208 was offered 208 renames)."""
    holds = Membership.objects.filter(school=school).exists  # asked only when the policy is made
    policy, _ = SyncPolicy.objects.get_or_create(
        school=school,
        defaults={"student_roles": ["student_portal"], "contact_roles": ["parent"], "keep_usernames": holds},
    )
    return policy


def policy_date_order(school: School) -> str:
    """How the school's feeds write dates ("Dates in feeds"), read without making the policy."""
    order = SyncPolicy.objects.filter(school=school).values_list("date_order", flat=True).first()
    return order or SyncPolicy.DateOrder.ISO


def admin_roles(role_codes) -> list[str]:
    """Roles that open any screen: giving one to students needs a confirmation."""
    return [code for code in role_codes if ROLE_PERMISSIONS.get(code)]


@transaction.atomic
def policy_save(
    *,
    school: School,
    actor: Account,
    values: dict,
    default_password: str = "",
    confirm_student_admin_roles: bool = False,
) -> SyncPolicy:
    """Save the Bulk User Synchronise settings: sync grants only roles the saver may grant, never
    Centre Admin, and students get an administrator role only when the saver confirms it."""
    policy = SyncPolicy.objects.select_for_update().get(pk=policy_for(school).pk)
    may_grant = grantable_roles(school=school, account=actor) - BULK_NEVER_GRANTS
    before = {}
    for person_type in ("student", "staff", "contact"):
        key = f"{person_type}_roles"
        wanted = list(values.get(key, getattr(policy, key)))
        held = set(getattr(policy, key))
        refused = [r for r in wanted if r not in may_grant and r not in held]
        if refused or any(r in BULK_NEVER_GRANTS for r in wanted):
            raise PermissionDenied(f"You may not give {person_type}s the role(s) {', '.join(sorted(refused))}.")
    if admin_roles(values.get("student_roles", [])) and not confirm_student_admin_roles:
        names = ", ".join(admin_roles(values["student_roles"]))
        raise ValidationError(
            {"student_roles": f"Giving students an administrator role ({names}) needs your confirmation."}
        )
    if values.get("password_method") == SyncPolicy.PasswordMethod.DEFAULT and not (
        default_password or policy.default_password_hash
    ):
        raise ValidationError({"default_password": "Enter the default password for all users."})
    for name, value in values.items():
        if getattr(policy, name) != value:
            before[name] = [_jsonable(getattr(policy, name)), _jsonable(value)]
            setattr(policy, name, value)
    if default_password:
        policy.default_password_hash = make_password(default_password)  # hashed once, never stored plain
        before["default_password"] = ["", "set"]
    policy.updated_by = actor
    policy.save()
    audit_record(
        action="provisioning.sync_policy.updated",
        actor=actor,
        school=school,
        target_type="sync_policy",
        target_id=str(policy.pk),
        target_label="Bulk User Synchronise",
        changes=before,
    )
    return policy


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def username_preview(*, policy: SyncPolicy, samples: list[dict]) -> list[dict]:
    """What usernames these settings would give (before collision counters), for the policy page."""
    return [{**s, "username": username_stem(policy, s) or ""} for s in samples]


def policy_roles(policy, person_type: str) -> list[str]:
    """The roles the policy gives everyone of this type (never one a sync may not grant)."""
    roles = {"student": policy.student_roles, "staff": policy.staff_roles, "contact": policy.contact_roles}
    return [r for r in roles[person_type] if r not in BULK_NEVER_GRANTS]


def policy_lock(school: School) -> SyncPolicy:
    """Two runs for one school never overlap: each holds the policy row's lock for its whole work. One query
    once the policy exists (every night of every school takes this lock twice: compiled once, _POLICY_LOCKED)."""
    for policy in _POLICY_LOCKED(school_id=school.pk):
        policy.school = school
        return policy
    policy_for(school)  # made with its defaults on first use
    return SyncPolicy.objects.select_for_update().get(school=school)


_POLICY_LOCKED = CompiledRead(
    "the school's policy, locked",
    lambda school_id: SyncPolicy.objects.select_for_update().filter(school_id=school_id),
    school_id="uuid",
)


def roles_for(policy, person_type, person, grantable) -> list[str]:
    roles = list(policy_roles(policy, person_type))
    if person_type == "staff" and person.get("roles"):
        allowed = (grantable if grantable is not None else set(policy.staff_roles)) - BULK_NEVER_GRANTS
        roles += [r for r in person["roles"] if r in allowed and r not in roles]
    return roles
