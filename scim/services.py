"""Writes for SCIM in: issuing the organisation's token, and provisioning its staff through accounts' services.

Every change goes through the same services as +Add and the Users screens (account_create, account_rename,
account_update, membership_update, role_assign/role_remove), so a provisioned person follows every rule of
PRODUCT.md: one username across every school (and held a year once released), names without control
characters, an email for staff, roles only those the token may grant (never Centre Admin), and an audit event
for each change naming the token as its actor (accounts.audit.acting_as). Who the token may act on:
accounts.services.authority.organisation_token_refusal.
"""

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from accounts.audit import acting_as, audit_record
from accounts.models import Account, Membership, PersonType, Role, max_length
from accounts.permissions import BULK_NEVER_GRANTS, ROLE_PERMISSIONS
from accounts.services import Actor
from accounts.services.accounts import ExistingAccountFound, account_create, account_rename, account_update
from accounts.services.authority import organisation_token_refusal
from accounts.services.memberships import membership_add, membership_update
from accounts.services.passwords import PASSWORD_NONE
from accounts.services.roles import role_assign, role_remove
from accounts.services.usernames import username_normalise, username_taken
from scim.models import ScimToken, ScimUser
from scim.resources import StaffFields
from scim.selectors import TOKEN_PREFIX, organisation_schools, token_hash
from tenancy.models import Organisation, School

UNIQUENESS, MUTABILITY = "uniqueness", "mutability"
_LIMITS = {
    "userName": max_length(Account, "username"),
    "name.givenName": max_length(Account, "given_name"),
    "name.familyName": max_length(Account, "family_name"),
    "emails.value": max_length(Account, "email"),
    "externalId": ScimUser._meta.get_field("external_id").max_length,
}


def scim_token_roles() -> list[tuple[str, str]]:
    """(code, name) of the roles support may let a token give: people's roles, never Centre Admin."""
    grantable = set(ROLE_PERMISSIONS) - BULK_NEVER_GRANTS - {"mis_agent"}
    return [(role.code, role.label) for role in Role.objects.filter(code__in=grantable)]


@transaction.atomic
def scim_token_issue(
    *, organisation: Organisation, actor: Account, name: str, role_codes: list[str]
) -> tuple[ScimToken, str]:
    """Issue the organisation's token; returns the row and the token itself, shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, such as the identity provider that will use it."})
    allowed = dict(scim_token_roles())
    refused = sorted(set(role_codes) - set(allowed))
    if refused:
        raise ValidationError({"role_codes": f"A SCIM token cannot give these roles: {', '.join(refused)}."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken.objects.create(
        organisation=organisation,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 4],
        token_hash=token_hash(raw),
        role_codes=sorted(set(role_codes)),
        created_by=actor,
    )
    _token_audit(token, actor=actor, action="scim.token.issued", changes={"role_codes": [None, token.role_codes]})
    return token, raw


def scim_token_revoke(*, token: ScimToken, actor: Account) -> None:
    if ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        _token_audit(token, actor=actor, action="scim.token.revoked", changes={"token": ["issued", "revoked"]})


def _token_audit(token: ScimToken, *, actor, action: str, changes: dict) -> None:
    # An organisation's credential: no one school's event.
    audit_record(
        action=action,
        actor=actor,
        target_type="scim_token",
        target_id=str(token.pk),
        target_label=f"{token} ({token.organisation})",
        changes=changes,
    )


# --- People -------------------------------------------------------------------------------------------------


def _check_lengths(fields: StaffFields) -> None:
    values = {
        "userName": fields.user_name,
        "name.givenName": fields.given_name,
        "name.familyName": fields.family_name,
        "emails.value": fields.email,
        "externalId": fields.external_id,
    }
    for attribute, value in values.items():
        if len(value) > _LIMITS[attribute]:
            raise ValidationError(f"{attribute} is {len(value)} characters long; the limit is {_LIMITS[attribute]}.")


def _school_for(*, token: ScimToken, slug: str | None) -> School:
    schools = organisation_schools(organisation=token.organisation)
    if slug is None:
        if len(schools) == 1:
            return schools[0]
        raise ValidationError(
            f"Say which school the person joins: {_EXT_SCHOOL} is one of {', '.join(s.slug for s in schools)}."
        )
    for school in schools:
        if school.slug == slug:
            return school
    raise ValidationError(f"{_EXT_SCHOOL} {slug!r} is not a school of this organisation.")


_EXT_SCHOOL = "the Rollcall extension's school"


def _check_roles(*, token: ScimToken, roles) -> None:
    unknown = sorted(set(roles) - set(Role.objects.filter(code__in=list(roles)).values_list("code", flat=True)))
    if unknown:
        raise ValidationError(f"No such role: {', '.join(unknown)}.")
    beyond = sorted(set(roles) - set(token.role_codes))
    if beyond:
        raise PermissionDenied(f"This token may not give the role(s) {', '.join(beyond)}.")


def _check_username(username: str, *, account: Account | None = None) -> None:
    if not username:
        raise ValidationError("userName is required.")
    if username_taken(username, exclude=account):
        raise ValidationError(f"The userName {username} is already taken.", code=UNIQUENESS)


def scim_user_create(*, token: ScimToken, fields: StaffFields) -> ScimUser:
    """POST /Users: a new account, staff at one school of the organisation, with the roles asked for."""
    _check_lengths(fields)
    school = _school_for(token=token, slug=fields.school)
    _check_roles(token=token, roles=fields.roles)
    username = username_normalise(fields.user_name)
    returning = _returning(token=token, username=username)
    if returning is not None:
        return _provision_again(token=token, account=returning, school=school, fields=fields)
    _check_username(username)
    with acting_as(token.label), transaction.atomic(), scope(school=school):
        actor = Actor(account=None, school=school)
        try:
            membership = account_create(
                school=school,
                actor=actor,
                username=username,
                person_type=PersonType.STAFF,
                given_name=fields.given_name,
                family_name=fields.family_name,
                email=fields.email,
                password_method=PASSWORD_NONE,  # they sign in with the organisation's Microsoft 365 or Google
                role_codes=fields.roles,
            )
        except ExistingAccountFound as exc:
            # Never a second account for one person, and never another organisation's taken over unasked.
            raise ValidationError(exc.messages[0], code=UNIQUENESS) from exc
        link = ScimUser.objects.create(
            organisation=token.organisation, account=membership.account, school=school, external_id=fields.external_id
        )
        audit_record(
            action="scim.user.provisioned",
            actor=None,
            school=school,
            target=membership.account,
            changes={"scim": [None, "provisioned"], "external_id": [None, fields.external_id]},
        )
        if not fields.active:
            _set_active(token=token, link=link, membership=membership, active=False)
    return link


def _returning(*, token: ScimToken, username: str) -> Account | None:
    """The account this organisation's identity provider removed (DELETE) and now creates again under the same
    username, as identity providers do when someone is unassigned and assigned again: theirs to take back, where
    any other holder of the name is a 409."""
    removed = ScimUser.objects.filter(
        organisation=token.organisation,
        account__username__iexact=username,
        account__deleted_at__isnull=True,
        removed_at__isnull=False,
    ).select_related("account")
    live = ScimUser.objects.filter(organisation=token.organisation, removed_at__isnull=True)
    found = removed.exclude(account__in=live.values("account")).order_by("-removed_at").first()
    return found.account if found is not None else None


def _provision_again(*, token: ScimToken, account: Account, school: School, fields: StaffFields) -> ScimUser:
    with acting_as(token.label), transaction.atomic(), scope(school=school):
        membership = Membership.objects.filter(school=school, account=account, person_type=PersonType.STAFF).first()
        if membership is None:
            membership_add(
                school=school, actor=Actor(account=None, school=school), account=account, person_type=PersonType.STAFF
            )
        link = ScimUser.objects.create(
            organisation=token.organisation, account=account, school=school, external_id=fields.external_id
        )
        audit_record(
            action="scim.user.provisioned",
            actor=None,
            school=school,
            target=account,
            changes={"scim": ["removed", "provisioned"], "external_id": [None, fields.external_id]},
        )
        scim_user_change(token=token, link=link, fields=fields)
    return link


def staff_membership(link: ScimUser) -> Membership | None:
    with scope(school=link.school):
        return (
            Membership.objects.filter(school=link.school, account=link.account, person_type=PersonType.STAFF)
            .prefetch_related("role_assignments")
            .first()
        )


def scim_user_change(*, token: ScimToken, link: ScimUser, fields: StaffFields) -> None:
    """PUT, and PATCH once applied: make the person what `fields` says, each change through accounts' services."""
    _check_lengths(fields)
    school, account = link.school, link.account
    if fields.school is not None and fields.school != school.slug:
        raise ValidationError(f"{_EXT_SCHOOL} is set when the person is created.", code=MUTABILITY)
    _check_roles(token=token, roles=fields.roles)
    membership = staff_membership(link)
    if membership is None:  # the school deleted them: nothing of theirs left to change here
        raise ValidationError("This person is no longer staff at their school.", code=MUTABILITY)
    username = username_normalise(fields.user_name)
    details = {
        name: value
        for name, value in (
            ("given_name", fields.given_name),
            ("family_name", fields.family_name),
            ("email", fields.email),
        )
        if getattr(account, name) != value
    }
    with acting_as(token.label), transaction.atomic(), scope(school=school):
        actor = Actor(account=None, school=school)
        if username != account.username or details:
            _check_reach(token=token, account=account)
        if username != account.username:
            _check_username(username, account=account)
            account_rename(actor=actor, account=account, username=username, school=school)
        if details:
            account_update(actor=actor, account=account, school=school, **details)
        _roles_set(token=token, school=school, actor=actor, membership=membership, roles=fields.roles)
        _set_active(token=token, link=link, membership=membership, active=fields.active)
        if fields.external_id != link.external_id:
            audit_record(
                action="scim.user.external_id_changed",
                actor=None,
                school=school,
                target=account,
                changes={"external_id": [link.external_id, fields.external_id]},
            )
            link.external_id = fields.external_id
        link.updated_at = timezone.now()
        link.save(update_fields=["external_id", "updated_at"])


def _check_reach(*, token: ScimToken, account: Account) -> None:
    refusal = organisation_token_refusal(
        organisation_id=token.organisation_id, may_give=token.role_codes, account=account
    )
    if refusal:
        raise PermissionDenied(refusal)


def _roles_set(*, token, school, actor, membership, roles) -> None:
    """The roles the token may give are exactly those asked for; roles it may not give stay as they are."""
    held = {assignment.role_id for assignment in membership.role_assignments.all()}
    for code in sorted(set(roles) - held):
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    for code in sorted((held & set(token.role_codes)) - set(roles)):
        role_remove(school=school, actor=actor, membership=membership, role_code=code)


def _set_active(*, token, link, membership, active: bool) -> None:
    """active false: left at their school (its leaver timers run from today) and, when the person is wholly the
    organisation's, locked out now. active true: back, and unlocked."""
    school, account = link.school, link.account
    actor = Actor(account=None, school=school)
    # Deactivating again (identity providers re-send what they hold) leaves a leaver's or an archived person's
    # timers where they are: only someone active becomes a leaver, today.
    if active and membership.status != Membership.Status.ACTIVE:
        membership_update(school=school, actor=actor, membership=membership, status=Membership.Status.ACTIVE)
    elif not active and membership.status == Membership.Status.ACTIVE:
        membership_update(school=school, actor=actor, membership=membership, status=Membership.Status.LEFT)
    if account.locked_out == (not active):
        return
    refusal = organisation_token_refusal(
        organisation_id=token.organisation_id, may_give=token.role_codes, account=account
    )
    if refusal is None:
        account_update(actor=actor, account=account, school=school, locked_out=not active)


def scim_user_remove(*, token: ScimToken, link: ScimUser) -> None:
    """DELETE: the person leaves the organisation's schools as staff, and their school's leaver timers take it
    from there (archive, then erase, but only an account that holds nothing else: accounts' account_delete).
    Nothing is deleted here, and nothing of another organisation is touched."""
    schools = organisation_schools(organisation=token.organisation)
    with acting_as(token.label), transaction.atomic(), scope(school=schools):
        memberships = Membership.objects.filter(
            school__in=schools, account=link.account, person_type=PersonType.STAFF, status=Membership.Status.ACTIVE
        ).select_related("school")
        for membership in memberships:
            actor = Actor(account=None, school=membership.school)
            membership_update(
                school=membership.school, actor=actor, membership=membership, status=Membership.Status.LEFT
            )
        link.removed_at = timezone.now()
        link.save(update_fields=["removed_at"])
        audit_record(
            action="scim.user.removed",
            actor=None,
            school=link.school,
            target=link.account,
            changes={"scim": ["provisioned", "removed"]},
        )
