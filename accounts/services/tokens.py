"""API tokens a school gives its MIS agent and scripts: which scopes an issuer may give, in one place.

A token acts for the person who issued it, limited to its scope (accounts.middleware), so a scope the issuer
could not use would be a dead token and one above them an escalation: both are refused here, for the tokens
page, the API and `manage.py api_token` alike.
"""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account, Role
from accounts.permissions import ROLE_PERMISSIONS, Perm, grantable_roles_for, permissions_for_roles
from accounts.selectors import role_codes_for
from tenancy.models import ApiToken, School
from tenancy.tokens import TOKEN_PREFIX, token_hash

MIS_AGENT = "mis_agent"
MIS_AGENT_LABEL = "MIS agent: sends the school's MIS export"


def api_token_scopes(*, school: School, account: Account) -> list[tuple[str, str]]:
    """(code, label) of each scope this person may give a token at this school, the MIS agent first."""
    held = role_codes_for(school=school, account=account)
    scopes = []
    if Perm.FEEDS_PUSH in permissions_for_roles(held):
        scopes.append((MIS_AGENT, MIS_AGENT_LABEL))
    # A role scope acts with that role's rights: only roles the issuer could grant a person, and only
    # roles that open something through the API.
    grantable = {code for code in grantable_roles_for(held) if ROLE_PERMISSIONS.get(code) and code != MIS_AGENT}
    for role in Role.objects.filter(code__in=grantable).select_related("service"):
        scopes.append((role.code, f"Acts as {role.name}"))
    return scopes


@transaction.atomic
def api_token_create(*, school: School, account: Account, name: str, scope: str) -> tuple[ApiToken, str]:
    """Issue a token; returns the row and the token itself, which is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, such as the system that will use it."})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": "Use at most 100 characters."})
    allowed = dict(api_token_scopes(school=school, account=account))
    if scope not in allowed:
        raise ValidationError({"scope": f"You cannot issue a token with the scope {scope!r} at this school."})
    return api_token_issue(school=school, account=account, name=name, role_codes=[scope])


def api_token_withdraw(*, school: School, token: ApiToken, actor: Account) -> None:
    """Revoke a token at once. Anyone who manages the school's tokens may, whoever issued it: a leaked
    token must be stoppable by the school, not only by its issuer."""
    if token.revoked_at is None:
        api_token_revoke(school=school, token=token, actor=actor)


def api_token_issue(*, school: School, account, name: str, role_codes: list[str]) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        school=school, name=name, prefix=raw[:8], token_hash=token_hash(raw), account=account, role_codes=role_codes
    )
    audit_record(
        action="tenancy.api_token.issued",
        actor=account,
        school=school,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=token.name,
        changes={"role_codes": [None, role_codes], "token": ["", "issued"]},
    )
    return token, raw


def api_token_revoke(*, school: School, token: ApiToken, actor) -> None:
    ApiToken.objects.filter(school=school, pk=token.pk).update(revoked_at=timezone.now())
    audit_record(
        action="tenancy.api_token.revoked",
        actor=actor,
        school=school,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=token.name,
    )
