"""Every change to an account goes through here, in a transaction, with an audit event."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from accounts.audit import audit_record, diff_fields
from accounts.models import Account, Membership, PersonType, Role, RoleAssignment
from accounts.permissions import Perm
from accounts.selectors import accounts_with_email, grantable_roles, permissions_for, role_codes_for
from tenancy.models import School

ACCOUNT_FIELDS = (
    "given_name",
    "family_name",
    "email",
    "upn",
    "approved",
    "locked_out",
    "override_network_auth",
    "must_change_password",
)
MEMBERSHIP_FIELDS = ("mis_code", "year_group", "form", "status", "portal_access")


@dataclass(frozen=True)
class Actor:
    """Who is acting and in which capacity: a person at a school, support staff, or a job."""

    account: Account | None
    school: School | None = None
    job: object | None = None

    @property
    def is_support(self) -> bool:
        return bool(self.account and self.account.is_staff)

    def perms(self) -> frozenset[Perm]:
        if self.account is None or self.school is None:
            return frozenset()
        return permissions_for(school=self.school, account=self.account)


def username_taken(username: str, *, exclude: Account | None = None) -> bool:
    qs = Account.objects.annotate(lower=Lower("username")).filter(lower=username.lower())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


def _check_email_domain(*, school: School, person_type: str, email: str) -> str | None:
    """Staff on another domain is a warning, never a refusal."""
    domains = school.email_domain_list
    if person_type != PersonType.STAFF or not email or not domains:
        return None
    domain = email.rsplit("@", 1)[-1].lower()
    if domain not in domains:
        return f"{email} is not on the school's email domains ({', '.join(domains)})."
    return None


@transaction.atomic
def account_create(
    *,
    school: School,
    actor: Actor,
    username: str,
    person_type: str,
    given_name: str = "",
    family_name: str = "",
    email: str = "",
    mis_code: str = "",
    year_group: str = "",
    form: str = "",
    upn: str = "",
    password: str | None = None,
    must_change_password: bool = True,
    role_codes: tuple[str, ...] = (),
    approved: bool = True,
    portal_access: bool = False,
) -> Membership:
    username = username.strip()
    if not username:
        raise ValidationError({"username": "A username is required."})
    if username_taken(username):
        raise ValidationError({"username": f"The username {username} is already taken."})
    if person_type == PersonType.STAFF and not email:
        raise ValidationError({"email": "Email is required for staff."})
    account = Account(
        username=username,
        given_name=given_name,
        family_name=family_name,
        email=email,
        upn=upn,
        home_school=school,
        approved=approved,
        must_change_password=must_change_password and bool(password),
    )
    if password:
        account.set_password(password)
    else:
        account.set_unusable_password()
    account.save()
    membership = Membership.objects.create(
        school=school,
        account=account,
        person_type=person_type,
        mis_code=mis_code,
        year_group=year_group,
        form=form,
        portal_access=portal_access,
    )
    audit_record(
        action="accounts.account.created",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={
            "username": [None, username],
            "person_type": [None, person_type],
            "given_name": [None, given_name],
            "family_name": [None, family_name],
            "email": [None, email],
            "mis_code": [None, mis_code],
            "password": [None, "set" if password else "unusable"],
        },
    )
    for code in role_codes:
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    return membership


def _check_may_grant(*, school: School, actor: Actor, role_code: str) -> None:
    if actor.is_support or actor.account is None:
        return
    if role_code not in grantable_roles(school=school, account=actor.account):
        role = Role.objects.filter(code=role_code).first()
        raise PermissionDenied(f"You may not grant the role {role or role_code}.")


@transaction.atomic
def role_assign(*, school: School, actor: Actor, membership: Membership, role_code: str) -> RoleAssignment:
    _check_may_grant(school=school, actor=actor, role_code=role_code)
    assignment, created = RoleAssignment.objects.get_or_create(
        school=school,
        membership=membership,
        role_id=role_code,
        defaults={"granted_by": actor.account if actor.account and actor.account.is_authenticated else None},
    )
    if created:
        audit_record(
            action="accounts.role.assigned",
            actor=actor.account,
            school=school,
            target=membership.account,
            job=actor.job,
            changes={"role": [None, role_code]},
        )
    return assignment


@transaction.atomic
def role_remove(*, school: School, actor: Actor, membership: Membership, role_code: str) -> None:
    _check_may_grant(school=school, actor=actor, role_code=role_code)
    if role_code == "centre_admin":
        _refuse_losing_last_centre_admin(school=school, account=membership.account)
    deleted, _ = RoleAssignment.objects.filter(school=school, membership=membership, role_id=role_code).delete()
    if deleted:
        audit_record(
            action="accounts.role.removed",
            actor=actor.account,
            school=school,
            target=membership.account,
            job=actor.job,
            changes={"role": [role_code, None]},
        )


def _refuse_losing_last_centre_admin(*, school: School, account: Account) -> None:
    others = (
        RoleAssignment.objects.filter(
            school=school, role_id="centre_admin", membership__status=Membership.Status.ACTIVE
        )
        .exclude(membership__account=account)
        .exists()
    )
    if not others:
        raise ValidationError("This is the school's last Centre Admin; give the role to someone else first.")


def check_email_change(*, actor: Actor, account: Account) -> None:
    """The email rule, in one place: screen, API and admin all call it.

    Support staff may change anyone's. At a school, only a Centre Admin may, and a Centre Admin
    never their own (another Centre Admin or support staff does it).
    """
    if actor.is_support:
        return
    if actor.school is None or Perm.USERS_EDIT_EMAIL not in actor.perms():
        raise PermissionDenied("Only a Centre Admin can change an email address.")
    if actor.account is not None and actor.account.pk == account.pk:
        raise PermissionDenied(
            "A Centre Admin cannot change their own email address; ask another Centre Admin or support."
        )
    target_roles = role_codes_for(school=actor.school, account=account) if actor.school else frozenset()
    if "centre_admin" in target_roles and "centre_admin" not in role_codes_for(
        school=actor.school, account=actor.account
    ):
        raise PermissionDenied("Only another Centre Admin can change a Centre Admin's email address.")


@transaction.atomic
def account_update(*, actor: Actor, account: Account, school: School | None = None, **fields) -> list[str]:
    """Change account fields; returns warnings (refusals raise)."""
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValueError(f"Not account fields: {sorted(unknown)}")
    before = {name: getattr(account, name) for name in fields}
    changes = diff_fields(before, fields)
    if not changes:
        return []
    if "email" in changes:
        check_email_change(actor=actor, account=account)
    warnings = []
    if "email" in changes and school is not None:
        types = set(Membership.objects.filter(school=school, account=account).values_list("person_type", flat=True))
        if PersonType.STAFF in types and not fields["email"]:
            raise ValidationError({"email": "Email is required for staff."})
        warning = _check_email_domain(
            school=school, person_type=PersonType.STAFF if PersonType.STAFF in types else "", email=fields["email"]
        )
        if warning:
            warnings.append(warning)
    for name, value in fields.items():
        setattr(account, name, value)
    if "email" in changes:
        account.email_verified = False
    account.save(update_fields=[*changes, *(["email_verified"] if "email" in changes else [])])
    audit_record(
        action="accounts.account.updated",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes=changes,
    )
    return warnings


@transaction.atomic
def account_set_password(
    *, actor: Actor, account: Account, password: str, must_change: bool, school: School | None = None
) -> None:
    account.set_password(password)
    account.must_change_password = must_change
    account.save(update_fields=["password", "must_change_password"])
    audit_record(
        action="accounts.account.password_set",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"password": ["", "set"], "must_change_password": [None, must_change]},
    )


@transaction.atomic
def account_password_changed_by_owner(*, account: Account) -> None:
    """The person chose a new password themselves, so the forced change is done."""
    if account.must_change_password:
        Account.objects.filter(pk=account.pk).update(must_change_password=False)
        account.must_change_password = False
    audit_record(
        action="accounts.account.password_changed",
        actor=account,
        school=account.home_school,
        target=account,
        changes={"password": ["", "changed"]},
    )


def sign_in_refusal(account: Account) -> str | None:
    """Why this account may not sign in right now, in words for the person, or None."""
    if not account.is_active or account.deleted_at is not None:
        return "This account is no longer active."
    if account.locked_out:
        return "Your account is locked out. Please contact your school's nominated contact or exams officer."
    if not account.approved:
        return "Your account is waiting for approval by your school. You can sign in once it has been approved."
    return None


def social_sign_in_match(*, verified_emails: list[str], provider: str) -> tuple[Account | None, str]:
    """The one account a Microsoft or Google sign-in names by its verified email, or why there is none.

    It never creates an account; a shared (family) address is ambiguous, so it links nothing.
    """
    how_to_link = f"sign in with your username and password, then link {provider} from your profile page."
    if not verified_emails:
        return None, f"{provider} did not confirm an email address for you. Please {how_to_link}"
    for email in verified_emails:
        matches = list(accounts_with_email(email).filter(deleted_at__isnull=True))
        if len(matches) == 1:
            return matches[0], ""
        if matches:
            return (
                None,
                f"Several Rollcall accounts use {email}, so we cannot tell which is yours. Please {how_to_link}",
            )
    return None, f"No Rollcall account uses {verified_emails[0]}. Ask your school to add you, or {how_to_link}"


def census_report_start(*, school: School, actor: Account):
    """The school's census as a CSV: the first job every school has, and the harness's own test."""
    from accounts.tasks import census_report
    from tenancy.services import job_start

    return job_start(school=school, kind="demo", actor=actor, task=census_report)


def census_report_build(job) -> None:
    import csv
    import io

    from tenancy.services import job_progress, job_succeed

    school = job.school
    groups = list(
        Membership.objects.filter(school=school)
        .values_list("person_type", "status", "year_group")
        .order_by("person_type", "year_group")
    )
    tally: dict[tuple[str, str, str], int] = {}
    job_progress(job, done=0, total=len(groups))
    for done, key in enumerate(groups, start=1):
        tally[key] = tally.get(key, 0) + 1
        if done % 500 == 0:
            job_progress(job, done=done)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Person type", "Status", "Year group", "People"])
    for (person_type, status, year), n in sorted(tally.items()):
        writer.writerow([person_type, status, year, n])
    counts = {}
    for (person_type, _status, _year), n in tally.items():
        counts[person_type] = counts.get(person_type, 0) + n
    job_succeed(job, counts=counts, report=out.getvalue().encode(), report_name=f"census-{school.slug}.csv")


@transaction.atomic
def membership_add(
    *,
    school: School,
    actor: Actor,
    account: Account,
    person_type: str,
    mis_code: str = "",
    year_group: str = "",
    form: str = "",
    portal_access: bool = False,
) -> Membership:
    """Add an existing account (perhaps held by another school) to this school: never a duplicate."""
    membership = Membership.objects.create(
        school=school,
        account=account,
        person_type=person_type,
        mis_code=mis_code,
        year_group=year_group,
        form=form,
        portal_access=portal_access,
    )
    audit_record(
        action="accounts.membership.added",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"person_type": [None, person_type], "mis_code": [None, mis_code]},
    )
    return membership
