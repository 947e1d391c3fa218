"""An account's life: +Add (create, or add the existing account), edit, and delete."""

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.audit import audit_record, diff_fields
from accounts.credentials import starter_code_issue
from accounts.erasure import account_erased, files_naming_erase
from accounts.extensions import sign_in_ended
from accounts.models import (
    Account,
    AuditEvent,
    ContactLink,
    Membership,
    OrganisationRole,
    PersonType,
    RoleAssignment,
    SetPasswordLink,
    StarterCode,
)
from accounts.permissions import AccountAction
from accounts.selectors import account_match_existing, accounts_possibly_same
from accounts.services.actor import Actor
from accounts.services.authority import check_may_act_on_account
from accounts.services.memberships import _check_mis_code_free, check_mis_code, membership_add
from accounts.services.names import check_names, mis_code_text, year_group_clean
from accounts.services.new_account import account_created_changes, check_new_account
from accounts.services.passwords import (
    PASSWORD_INVITATION,
    PASSWORD_METHODS,
    PASSWORD_NONE,
    PASSWORD_SET,
    PASSWORD_STARTER_CODE,
    _check_password,
    set_password_email_send,
)
from accounts.services.roles import _refuse_losing_last_centre_admin, role_assign
from accounts.services.usernames import check_username_free, username_normalise, usernames_hold
from tenancy.models import ApiToken, ErasureRecord, School
from tenancy.services import erasure_record

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


def email_domain_warning(*, school: School, person_type: str, email: str) -> str | None:
    """Staff on another domain is a warning, never a refusal."""
    domains = school.email_domain_list
    if person_type != PersonType.STAFF or not email or not domains:
        return None
    domain = email.rsplit("@", 1)[-1].lower()
    if domain not in domains:
        return f"{email} is not on the school's email domains ({', '.join(domains)})."
    return None


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


class PossibleMatchFound(ExistingAccountFound):
    """An account of this school's organisation has the email, not verified: perhaps the same person, perhaps
    not (a shared family address). Nobody is merged or duplicated without a word: the caller adds the account
    (add_existing=<id>) or says it is a different person (different_person=<id>)."""

    def __init__(self, account: Account):
        school = account.home_school.name if account.home_school_id else "no school"
        ValidationError.__init__(
            self,
            f"Possible match: {account.full_name}, {account.username}, {school} has this email. Add them to your "
            "school if they are the same person, or create a new account for a different person.",
        )
        self.account = account


def _possible_match(*, school: School, email: str) -> Account | None:
    if not email:
        return None
    return accounts_possibly_same(organisation_id=school.organisation_id, emails=[email]).get(email.lower())


def _check_consent(*, actor: Actor, consent: bool | None) -> None:
    # A person adding someone by hand acknowledges consent each time; jobs (upload, sync) ask it once
    # on their preview, and support staff act under their own agreement.
    if actor.account is None or actor.job is not None or actor.is_support:
        return
    if consent is not True:
        raise ValidationError({"consent": "Tick the consent acknowledgement to add this person."})


# The fields the +Add form and the API's create share, by the names both use.
ADD_FIELDS = ("username", "person_type", "given_name", "family_name", "email", "mis_code", "upn", "year_group",
              "password_method", "consent", "add_existing", "different_person")  # fmt: skip


def account_add(*, school: School, actor: Actor, data: dict, base_url: str) -> Membership:
    """+Add from the screen's form or the API's body (their cleaned data, the same keys)."""
    return account_create(
        school=school,
        actor=actor,
        role_codes=tuple(data["roles"]),
        password=data["password"] or None,
        base_url=base_url,
        **{name: data[name] for name in ADD_FIELDS},
    )


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
    different_person=None,
    base_url: str = "",
) -> Membership:
    """+Add, for the screen and the API alike (and the demo loader).

    - An account that already exists for this person (verified email, or UPN for a student) raises
      ExistingAccountFound; calling again with add_existing=<its id> adds it to this school instead.
    - An account of the organisation with the email, unverified, raises PossibleMatchFound: add_existing=<its
      id> adds it, different_person=<its id> creates a new account (audited as such).
    - password_method: "set" (must change at first sign-in), "starter_code", "invitation" or "none";
      left out, a given password means "set" and none means "none".
    The returned membership carries `starter_code` (the plain code, to show once, never stored),
    `warnings` (e.g. an off-domain staff email) and `added_existing`.
    """
    _check_consent(actor=actor, consent=consent)
    username, email, mis_code, upn = username_normalise(username), email.strip(), mis_code_text(mis_code), upn.strip()
    check_mis_code(mis_code)
    check_new_account(
        username=username, person_type=person_type, email=email, given_name=given_name, family_name=family_name
    )
    _check_mis_code_free(school=school, person_type=person_type, mis_code=mis_code)
    year_group = year_group_clean(school=school, year_group=year_group)
    existing = account_match_existing(school=school, email=email, upn=upn, person_type=person_type)
    possible = _possible_match(school=school, email=email) if existing is None else None
    if possible is not None and str(different_person or "") != str(possible.pk):
        existing = possible
        if add_existing is None or str(add_existing) != str(possible.pk):
            raise PossibleMatchFound(possible)
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
    if different_person is not None and possible is None:
        raise ValidationError("That account no longer has this email; check the details.")
    method = password_method or (PASSWORD_SET if password else PASSWORD_NONE)
    if method not in PASSWORD_METHODS:
        raise ValidationError({"password_method": "Choose how the person gets their password."})
    if method == PASSWORD_INVITATION and not email:
        raise ValidationError({"email": "An invitation needs an email address."})
    check_username_free(username)
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
        changes=account_created_changes(
            username=username,
            person_type=person_type,
            given_name=given_name,
            family_name=family_name,
            email=email,
            mis_code=mis_code,
            password=method if method != PASSWORD_NONE else "unusable",
            consent=bool(consent),
        )
        | ({"different_from": [None, possible.username]} if possible is not None else {}),
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
    # Adding someone makes them yours to manage here: never another school's Centre Admin (or any role that
    # reaches others there) unless you may grant it there too.
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.ROLES)
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


@transaction.atomic
def account_rename(*, actor: Actor, account: Account, username: str, school: School | None = None) -> None:
    """Give the account a new username. The old one is held from everyone else for 365 days, as sync,
    revoke and delete hold the usernames they release: nobody else may sign in under a name that
    other systems and people still know this person by."""
    username, old = username_normalise(username), account.username
    if username == old:
        return
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.DETAILS)
    check_username_free(username, account=account)
    if username.lower() != old.lower():
        usernames_hold(released=[(old, account.pk)], now=timezone.now())
    account.username = username
    account.save(update_fields=["username"])
    audit_record(
        action="accounts.account.renamed",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"username": [old, username]},
    )


def check_email_change(*, actor: Actor, account: Account) -> None:
    """The email rule (accounts.services.authority): support staff may change anyone's; at a school only
    a Centre Admin may, never their own, and only of someone whose roles they may grant."""
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.EMAIL)


# Which action each account field's change is (the rule asks per action: approving needs its own right).
_FIELD_ACTIONS = {
    "email": AccountAction.EMAIL,
    "approved": AccountAction.APPROVE,
    "locked_out": AccountAction.LOCK,
    "must_change_password": AccountAction.PASSWORD,
}


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
    for action in sorted({_FIELD_ACTIONS.get(name, AccountAction.DETAILS) for name in changes}):
        check_may_act_on_account(actor=actor, account=account, action=action)
    check_names(**{name: fields[name] for name in ("given_name", "family_name") if name in changes})
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
    # Locked out or no longer approved: the services it signed in to lose its tokens now, not at expiry.
    if "locked_out" in changes and fields["locked_out"]:
        sign_in_ended(account_ids=[account.pk], actor=actor.account, reason="locked out")
    elif "approved" in changes and not fields["approved"]:
        sign_in_ended(account_ids=[account.pk], actor=actor.account, reason="no longer approved")
    return warnings


def check_approval_change(*, actor: Actor, account: Account) -> None:
    """Approving (or un-approving) an account is for a Centre Admin or Nominated Contact (or support)."""
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.APPROVE)


PERSONAL_FIELDS = ("username", "given_name", "family_name", "email", "upn", "mis_code")


@transaction.atomic
def account_delete(*, school: School, actor: Actor, account: Account, membership: Membership | None = None) -> bool:
    """Delete a person, for good. Returns True when the account was erased, False when the person
    also belongs to another school: then only this school lets them go (its data about them erased,
    roles removed), because one school may not delete another school's member.

    With `membership` (a leaver policy's erase timer, which is about one membership only), that
    membership is removed, and the account is erased only when it holds no other live (not archived)
    membership anywhere, this school included: a member of staff who is also an archived contact at the
    same school keeps their account and their staff membership.

    Erasing: the account can never sign in again (inactive, no usable password, so every session
    ends; sign-in links, social links, starter codes, set-password links and API tokens revoked),
    names, email, UPN and MIS codes are blanked and the username released; the row stays as a
    tombstone (deleted_at) so the audit trail and certificates still point somewhere. Certificates
    stay verifiable, revoked with reason "holder account deleted".
    """
    if actor.account is not None and actor.account.pk == account.pk:
        if not actor.is_support:
            check_may_act_on_account(actor=actor, account=account, action=AccountAction.DELETE)  # the right first
        raise ValidationError("You cannot delete your own account; ask another Centre Admin.")
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.DELETE)
    if account.deleted_at is not None:
        raise ValidationError("This account has already been deleted.")
    # Only what is let go counts: the timer's one membership, or everything the person is at this school.
    let_go = {"pk": membership.pk} if membership is not None else {"school": school}
    if RoleAssignment.objects.filter(
        school=school,
        membership__account=account,
        role_id="centre_admin",
        membership__status=Membership.Status.ACTIVE,
        **{f"membership__{key}": value for key, value in let_go.items()},
    ).exists():
        _refuse_losing_last_centre_admin(school=school, account=account)

    files_naming_erase(school=school, account=account)  # while their names can still be recognised
    now = timezone.now()
    # The retention page's erasure report counts by person type and why, never naming anyone.
    why = "leaver_policy" if membership is not None else "deleted"
    with scopes_disabled():
        held_here = Membership.objects.filter(school=school, account=account).values_list("person_type", flat=True)
        person_type = membership.person_type if membership is not None else ",".join(sorted(set(held_here)))
        elsewhere = (
            Membership.objects.filter(account=account)
            .exclude(**let_go)
            .exclude(status=Membership.Status.ARCHIVED)
            .exists()
        )
        if elsewhere and membership is not None:
            # Removed outright, not left as a blank archived row: the timer would find that row due again
            # every night. Its roles and contact links go with it (CASCADE).
            Membership.objects.filter(pk=membership.pk, account=account).delete()
            erasure_record(school=school, kind=ErasureRecord.Kind.MEMBERSHIP, person_type=person_type, reason=why)
            audit_record(
                action="accounts.membership.removed",
                actor=actor.account,
                school=school,
                target=account,
                job=actor.job,
                changes={
                    "membership": [membership.person_type, "removed"],
                    "account": ["kept", "kept: holds another membership"],
                },
            )
            return False
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
            erasure_record(school=school, kind=ErasureRecord.Kind.MEMBERSHIP, person_type=person_type, reason=why)
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
        # An erased account holds no trust role: it would still open the organisation's schools.
        OrganisationRole.objects.filter(account=account).delete()
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

    account_erased(account=account, actor=actor.account)  # certificates revoked, sync records blanked
    erasure_record(school=school, kind=ErasureRecord.Kind.ACCOUNT, person_type=person_type, reason=why)
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
