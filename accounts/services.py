"""Every change to an account goes through here, in a transaction, with an audit event."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string

from accounts.audit import audit_record, diff_fields
from accounts.credentials import LINK_DAYS, set_password_link_issue, starter_code_issue
from accounts.models import Account, Membership, PersonType, Role, RoleAssignment, SetPasswordLink, UsernameHold
from accounts.permissions import Perm
from accounts.selectors import (
    account_match_existing,
    accounts_with_email,
    grantable_roles,
    permissions_for,
    role_codes_for,
)
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


USERNAME_HOLD_DAYS = 365


def username_taken(username: str, *, exclude: Account | None = None) -> bool:
    """Held by another account, or released by someone else within the last 365 days."""
    from django.utils import timezone

    qs = Account.objects.annotate(lower=Lower("username")).filter(lower=username.lower())
    holds = UsernameHold.objects.filter(username_lower=username.lower(), held_until__gt=timezone.now())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
        holds = holds.exclude(account=exclude)
    return qs.exists() or holds.exists()


def usernames_hold(*, released: list[tuple[str, object]], now) -> None:
    """Keep released usernames from anyone but their old holder for 365 days; `released` holds
    (username, account id) pairs. Set-based: revoke, delete and sync release thousands at once."""
    from datetime import timedelta

    if not released:
        return
    UsernameHold.objects.bulk_create(
        [
            UsernameHold(
                username_lower=name.lower(),
                account_id=account_id,
                released_at=now,
                held_until=now + timedelta(days=USERNAME_HOLD_DAYS),
            )
            for name, account_id in released
        ],
        update_conflicts=True,
        unique_fields=["username_lower"],
        update_fields=["account", "released_at", "held_until"],
        batch_size=1000,
    )


def email_domain_warning(*, school: School, person_type: str, email: str) -> str | None:
    """Staff on another domain is a warning, never a refusal."""
    domains = school.email_domain_list
    if person_type != PersonType.STAFF or not email or not domains:
        return None
    domain = email.rsplit("@", 1)[-1].lower()
    if domain not in domains:
        return f"{email} is not on the school's email domains ({', '.join(domains)})."
    return None


# How +Add (and the API) gives a new person their first credential.
PASSWORD_SET = "set"  # the admin sets one; the person must change it at first sign-in
PASSWORD_STARTER_CODE = "starter_code"  # a one-time starter code, shown once to the admin
PASSWORD_INVITATION = "invitation"  # an email with a single-use, expiring set-password link
PASSWORD_NONE = "none"  # no Rollcall password: Microsoft 365 / Google sign-in only
PASSWORD_METHODS = (PASSWORD_SET, PASSWORD_STARTER_CODE, PASSWORD_INVITATION, PASSWORD_NONE)

CONSENT_TEXT = (
    "I have this person's permission to create their account and use their email address, and I have told "
    "them that their information and assessment results will be kept and may be shared as the privacy "
    "notice explains."
)


class ExistingAccountFound(ValidationError):
    """The person already has an account (matched by verified email or UPN): add it, never duplicate it."""

    def __init__(self, account: Account):
        super().__init__(
            f"{account.full_name} ({account.username}) already has a Rollcall account. "
            "Add this person to your school instead of creating a second account."
        )
        self.account = account


def _check_consent(*, actor: Actor, consent: bool | None) -> None:
    # A person adding someone by hand acknowledges consent each time; jobs (upload, sync) ask it once
    # on their preview, and support staff act under their own agreement.
    if actor.account is None or actor.job is not None or actor.is_support:
        return
    if consent is not True:
        raise ValidationError({"consent": "Tick the consent acknowledgement to add this person."})


def _check_mis_code_free(*, school: School, person_type: str, mis_code: str, exclude=None) -> None:
    if not mis_code:
        return
    taken = Membership.objects.filter(school=school, person_type=person_type, mis_code=mis_code)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError({"mis_code": f"The MIS code {mis_code} is already used by another person here."})


def _check_password(password: str | None, *, account: Account) -> None:
    if not password:
        raise ValidationError({"password": "Enter a password, or choose another way to give them one."})
    try:
        password_validation.validate_password(password, user=account)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def _link_url(path: str, base_url: str) -> str:
    base = (base_url or getattr(settings, "ROLLCALL_BASE_URL", "") or "http://localhost:8000").rstrip("/")
    return base + path


def set_password_email_send(
    *, school: School, actor: Actor, account: Account, purpose: str, base_url: str = ""
) -> None:
    """Email a single-use set-password link (invitation or reset): HTML and text, never a password.

    The mail leaves only once the transaction commits, so a refused change sends nothing.
    """
    if not account.email:
        raise ValidationError({"email": "An email address is needed to send a set-password link."})
    path = set_password_link_issue(school=school, account=account, purpose=purpose, actor=actor.account, job=actor.job)
    context = {
        "account": account,
        "school": school,
        "purpose": purpose,
        "url": _link_url(path, base_url),
        "days": LINK_DAYS,
        "privacy_notice": school.organisation.privacy_notice,
    }
    subject = render_to_string("accounts/email/set_password_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("accounts/email/set_password.txt", context),
        to=[account.email],
    )
    message.attach_alternative(render_to_string("accounts/email/set_password.html", context), "text/html")
    transaction.on_commit(message.send)


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
    password_method: str | None = None,
    consent: bool | None = None,
    add_existing=None,
    base_url: str = "",
) -> Membership:
    """+Add, for the screen and the API alike (and the demo loader).

    - An account that already exists for this person (verified email, or UPN for a student) raises
      ExistingAccountFound; calling again with add_existing=<its id> adds it to this school instead.
    - password_method: "set" (must change at first sign-in), "starter_code", "invitation" or "none";
      left out, a given password means "set" and none means "none".
    The returned membership carries `starter_code` (the plain code, to show once, never stored),
    `warnings` (e.g. an off-domain staff email) and `added_existing`.
    """
    _check_consent(actor=actor, consent=consent)
    username, email, mis_code, upn = username.strip(), email.strip(), mis_code.strip(), upn.strip()
    if person_type not in PersonType.values:
        raise ValidationError({"person_type": "Choose Student, Staff or Contact."})
    if person_type == PersonType.STAFF and not email:
        raise ValidationError({"email": "Email is required for staff."})
    _check_mis_code_free(school=school, person_type=person_type, mis_code=mis_code)
    existing = account_match_existing(school=school, email=email, upn=upn, person_type=person_type)
    if existing is not None:
        if add_existing is None or str(add_existing) != str(existing.pk):
            raise ExistingAccountFound(existing)
        return _existing_add(
            school=school,
            actor=actor,
            account=existing,
            person_type=person_type,
            mis_code=mis_code,
            year_group=year_group,
            form=form,
            portal_access=portal_access,
            role_codes=role_codes,
            consent=consent,
        )
    if add_existing is not None:
        raise ValidationError("That account no longer matches this person's email or UPN; check the details.")
    method = password_method or (PASSWORD_SET if password else PASSWORD_NONE)
    if method not in PASSWORD_METHODS:
        raise ValidationError({"password_method": "Choose how the person gets their password."})
    if method == PASSWORD_INVITATION and not email:
        raise ValidationError({"email": "An invitation needs an email address."})
    if not username:
        raise ValidationError({"username": "A username is required."})
    if username_taken(username):
        raise ValidationError({"username": f"The username {username} is already taken."})
    account = Account(
        username=username,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        email=email,
        upn=upn,
        home_school=school,
        approved=approved,
        must_change_password=must_change_password and method == PASSWORD_SET,
    )
    if method == PASSWORD_SET:
        if password_method is not None:  # the demo loader's own passwords skip the strength rules
            _check_password(password, account=account)
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
            "password": [None, method if method != PASSWORD_NONE else "unusable"],
            **({"consent": [None, "acknowledged"]} if consent else {}),
        },
    )
    for code in role_codes:
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    membership.starter_code = None
    if method == PASSWORD_STARTER_CODE:
        membership.starter_code = starter_code_issue(school=school, account=account, actor=actor.account, job=actor.job)
    elif method == PASSWORD_INVITATION:
        set_password_email_send(
            school=school, actor=actor, account=account, purpose=SetPasswordLink.Purpose.INVITATION, base_url=base_url
        )
    warning = email_domain_warning(school=school, person_type=person_type, email=email)
    membership.warnings = [warning] if warning else []
    membership.added_existing = False
    return membership


def _existing_add(
    *, school, actor, account, person_type, mis_code, year_group, form, portal_access, role_codes, consent
) -> Membership:
    if Membership.objects.filter(school=school, account=account, person_type=person_type).exists():
        raise ValidationError(f"{account.full_name} ({account.username}) is already in your school as this type.")
    membership = membership_add(
        school=school,
        actor=actor,
        account=account,
        person_type=person_type,
        mis_code=mis_code,
        year_group=year_group,
        form=form,
        portal_access=portal_access,
    )
    if consent:
        audit_record(
            action="accounts.consent.acknowledged",
            actor=actor.account,
            school=school,
            target=account,
            job=actor.job,
            changes={"consent": [None, "acknowledged"]},
        )
    for code in role_codes:
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    membership.starter_code = None
    membership.warnings = []
    membership.added_existing = True
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
    check_centre_admin_protected(actor=actor, account=account)
    if "email" in changes:
        check_email_change(actor=actor, account=account)
    if "approved" in changes:
        check_approval_change(actor=actor)
    warnings = []
    if "email" in changes and school is not None:
        types = set(Membership.objects.filter(school=school, account=account).values_list("person_type", flat=True))
        if PersonType.STAFF in types and not fields["email"]:
            raise ValidationError({"email": "Email is required for staff."})
        warning = email_domain_warning(
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
    _check_mis_code_free(school=school, person_type=person_type, mis_code=mis_code)
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


# --- Edit, roles, credentials and delete (the Users screens and the API) -------------------------


def check_centre_admin_protected(*, actor: Actor, account: Account) -> None:
    """A Centre Admin's account (names, Approved, Locked Out...) is changed only by another Centre Admin
    or support staff: otherwise an EO or Nominated Contact could lock the school's administrators out."""
    if actor.account is None or actor.job is not None or actor.is_support or actor.school is None:
        return
    if actor.account.pk == account.pk:
        return
    if "centre_admin" in role_codes_for(school=actor.school, account=account) and "centre_admin" not in (
        role_codes_for(school=actor.school, account=actor.account)
    ):
        raise PermissionDenied("Only another Centre Admin can change a Centre Admin's account.")


def check_approval_change(*, actor: Actor) -> None:
    """Approving (or un-approving) an account is for a Centre Admin or Nominated Contact."""
    if actor.account is None or actor.job is not None or actor.is_support:
        return
    if Perm.USERS_APPROVE not in actor.perms():
        raise PermissionDenied("Only a Centre Admin or Nominated Contact can approve an account.")


@transaction.atomic
def membership_update(*, school: School, actor: Actor, membership: Membership, **fields) -> None:
    """Change what the school holds about the person (MIS code, year group...)."""
    unknown = set(fields) - set(MEMBERSHIP_FIELDS)
    if unknown:
        raise ValueError(f"Not membership fields: {sorted(unknown)}")
    changes = diff_fields({name: getattr(membership, name) for name in fields}, fields)
    if not changes:
        return
    if "mis_code" in changes:
        _check_mis_code_free(
            school=school, person_type=membership.person_type, mis_code=fields["mis_code"], exclude=membership
        )
    for name, value in fields.items():
        setattr(membership, name, value)
    membership.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="accounts.membership.updated",
        actor=actor.account,
        school=school,
        target=membership.account,
        job=actor.job,
        changes=changes,
    )


@transaction.atomic
def membership_roles_set(*, school: School, actor: Actor, membership: Membership, role_codes) -> None:
    """Make the membership hold exactly `role_codes`; each grant and removal is checked on its own."""
    wanted = set(role_codes)
    current = set(RoleAssignment.objects.filter(school=school, membership=membership).values_list("role_id", flat=True))
    for code in sorted(wanted - current):
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    for code in sorted(current - wanted):
        role_remove(school=school, actor=actor, membership=membership, role_code=code)


RESET_SET = "set"
RESET_STARTER_CODE = "starter_code"
RESET_LINK = "link"


@transaction.atomic
def account_credentials_reset(
    *, school: School, actor: Actor, account: Account, method: str, password: str | None = None, base_url: str = ""
) -> str | None:
    """A password reset from the edit screen: set one (must change at next sign-in), issue a starter
    code (returned, to show once), or email a set-password link. Any of them ends old sessions."""
    if method == RESET_SET:
        _check_password(password, account=account)
        account_set_password(actor=actor, account=account, password=password, must_change=True, school=school)
        return None
    if method == RESET_STARTER_CODE:
        return starter_code_issue(school=school, account=account, actor=actor.account, job=actor.job)
    if method == RESET_LINK:
        set_password_email_send(
            school=school, actor=actor, account=account, purpose=SetPasswordLink.Purpose.RESET, base_url=base_url
        )
        return None
    raise ValidationError({"password_method": "Choose how to reset the password."})


PERSONAL_FIELDS = ("username", "given_name", "family_name", "email", "upn", "mis_code")


@transaction.atomic
def account_delete(*, school: School, actor: Actor, account: Account) -> bool:
    """Delete a person, for good. Returns True when the account was erased, False when the person
    also belongs to another school: then only this school lets them go (its data about them erased,
    roles removed), because one school may not delete another school's member.

    Erasing: the account can never sign in again (inactive, no usable password, so every session
    ends; sign-in links, social links, starter codes, set-password links and API tokens revoked),
    names, email, UPN and MIS codes are blanked and the username released; the row stays as a
    tombstone (deleted_at) so the audit trail and certificates still point somewhere. Certificates
    stay verifiable, revoked with reason "holder account deleted".
    """
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from accounts.models import AuditEvent, ContactLink, SetPasswordLink, StarterCode
    from tenancy.models import ApiToken

    if not actor.is_support and Perm.USERS_DELETE not in actor.perms():
        raise PermissionDenied("Only a Centre Admin can delete an account.")
    if actor.account is not None and actor.account.pk == account.pk:
        raise ValidationError("You cannot delete your own account; ask another Centre Admin.")
    if account.deleted_at is not None:
        raise ValidationError("This account has already been deleted.")
    if RoleAssignment.objects.filter(
        school=school, membership__account=account, role_id="centre_admin", membership__status=Membership.Status.ACTIVE
    ).exists():
        _refuse_losing_last_centre_admin(school=school, account=account)

    now = timezone.now()
    with scopes_disabled():
        elsewhere = (
            Membership.objects.filter(account=account)
            .exclude(school=school)
            .exclude(status=Membership.Status.ARCHIVED)
            .exists()
        )
        # Erasing everywhere or only here: the memberships concerned lose roles, links and MIS data.
        memberships = Membership.objects.filter(account=account)
        if elsewhere:
            memberships = memberships.filter(school=school)
        RoleAssignment.objects.filter(membership__in=memberships).delete()
        ContactLink.objects.filter(Q(contact__in=memberships) | Q(student__in=memberships)).delete()
        memberships.filter(archived_on__isnull=True).update(archived_on=now.date())
        memberships.update(
            status=Membership.Status.ARCHIVED, mis_code="", year_group="", form="", portal_access=False, updated_at=now
        )
        if elsewhere:
            audit_record(
                action="accounts.membership.removed",
                actor=actor.account,
                school=school,
                target=account,
                job=actor.job,
                changes={"membership": ["active", "removed"], "account": ["kept", "kept: held by another school"]},
            )
            return False
        StarterCode.objects.filter(account=account, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        SetPasswordLink.objects.filter(account=account, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        ApiToken.objects.filter(account=account, revoked_at__isnull=True).update(revoked_at=now)
    SocialAccount.objects.filter(user=account).delete()
    EmailAddress.objects.filter(user=account).delete()

    usernames_hold(released=[(account.username, account.pk)], now=now)
    account.username = f"deleted-{account.pk.hex[:12]}"
    account.given_name = account.family_name = account.email = account.upn = ""
    account.email_verified = account.approved = account.must_change_password = False
    account.is_active = account.is_staff = account.is_superuser = False
    account.deleted_at = now
    account.set_unusable_password()  # a new password hash: every session of the account is void
    account.save()

    from assessments.services import certificates_revoke_for_deleted_holder
    from provisioning.sync.services import sync_records_erase_for

    certificates_revoke_for_deleted_holder(account=account, actor=actor.account)
    sync_records_erase_for(account=account)
    _audit_trail_erase(account=account, events=AuditEvent)
    audit_record(
        action="accounts.account.deleted",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"personal_data": ["held", "erased"], "is_active": [True, False]},
    )
    return True


def _audit_trail_erase(*, account: Account, events) -> None:
    """The trail stays (who did what, when) but stops naming the person: earlier events about or by
    them lose the personal values they recorded."""
    from django_scopes import scopes_disabled

    with scopes_disabled():
        about = events.objects.filter(target_type="account", target_id=str(account.pk))
        for event in about:
            event.target_label = account.username
            event.changes = {
                field: (["erased", "erased"] if field in PERSONAL_FIELDS else value)
                for field, value in (event.changes or {}).items()
            }
            event.save(update_fields=["target_label", "changes"])
        events.objects.filter(actor=account).update(actor_label=account.username)
