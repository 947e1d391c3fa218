"""Writes of the sign-on: registering a service, switching it off for a school, signing an account out of
services (revoking its tokens), and the audit of every grant and refusal. Token values never reach the log."""

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken, clear_expired

from accounts.audit import audit_record
from accounts.models import Account
from accounts.services import password_signin_refusal
from signon import selectors
from signon.models import ROSTER_SCOPE, SERVICE_SCOPES, ConnectedService, ServiceSignIn, ServiceSwitchedOff
from tenancy.models import School


def password_sign_in_refusal(*, request, account: Account) -> str | None:
    """The one question the provider asks about how the person signed in: may this account, having signed in
    with a Rollcall password or starter code, go on to a service now? None: yes.

    The school setting "Sign in with Microsoft 365 or Google only" (with Override Network Authentication) is
    the rule that answers it, the same one Rollcall's own sign-in asks (accounts.services.password_signin_refusal).
    A session that began with a password before the school switched is refused here too; a newcomer who came in
    once with their first starter code is told to link Microsoft 365 or Google before going on to a service.
    """
    return password_signin_refusal(account)


def signed_in_with_password(request) -> bool:
    """allauth records how the session signed in; a starter code is typed in the password box too."""
    methods = request.session.get("account_authentication_methods") or []
    return bool(methods) and methods[-1].get("method") == "password"


def _audit(*, action: str, actor, account: Account | None, service: ConnectedService | None, changes: dict):
    audit_record(
        action=action,
        actor=actor,
        target=account,
        target_type="" if account else "connected_service",
        target_id="" if account else str(service.pk),
        target_label="" if account else service.name,
        changes={**({"service": [None, service.name]} if service else {}), **changes},
    )


@transaction.atomic
def service_register(
    *,
    actor: Account,
    name: str,
    organisation,
    redirect_uris: list[str],
    role_codes: list[str],
    scopes: list[str],
    confidential: bool = True,
    post_logout_redirect_uris: list[str] | None = None,
) -> tuple[ConnectedService, str]:
    """A new service and its OAuth client; returns it with the client secret, which is shown once (only its
    hash is kept).

    A service with no redirect URIs signs nobody in: it is a machine reading rosters (the OneRoster roster
    scope), so its client gets the client-credentials grant instead, and must keep a secret."""
    secret = ""
    machine = not redirect_uris and ROSTER_SCOPE in scopes
    application = Application(
        name=name[:255],
        client_type=Application.CLIENT_CONFIDENTIAL if confidential or machine else Application.CLIENT_PUBLIC,
        authorization_grant_type=(
            Application.GRANT_CLIENT_CREDENTIALS if machine else Application.GRANT_AUTHORIZATION_CODE
        ),
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,  # registered by support for the school: no second consent screen
    )
    if confidential or machine:
        secret = generate_client_secret()
        application.client_secret = secret  # hashed on save
    application.full_clean(exclude=["client_secret", "user"])
    application.save()
    service = ConnectedService.objects.create(
        application=application,
        name=name,
        organisation=organisation,
        scopes=" ".join(s for s in scopes if s in SERVICE_SCOPES),
    )
    service.roles.set(role_codes)
    _audit(
        action="signon.service.registered",
        actor=actor,
        account=None,
        service=service,
        changes={"organisation": [None, str(organisation) if organisation else "shared"], "roles": [None, role_codes]},
    )
    return service, secret


@transaction.atomic
def service_secret_renew(*, actor: Account, service: ConnectedService) -> str:
    secret = generate_client_secret()
    service.application.client_secret = secret
    service.application.save(update_fields=["client_secret"])
    _audit(action="signon.service.secret_renewed", actor=actor, account=None, service=service, changes={})
    return secret


@transaction.atomic
def service_switch(*, school: School, actor: Account, service: ConnectedService, on: bool) -> None:
    """A Centre Admin switches a service on or off for their school. Off: those it no longer lets in lose
    their tokens for it now."""
    if on:
        ServiceSwitchedOff.objects.filter(school=school, service=service).delete()
    else:
        ServiceSwitchedOff.objects.get_or_create(school=school, service=service, defaults={"switched_off_by": actor})
    audit_record(
        action=f"signon.service.switched_{'on' if on else 'off'}",
        actor=actor,
        school=school,
        target_type="connected_service",
        target_id=str(service.pk),
        target_label=service.name,
        changes={"on": [not on, on]},
    )
    if not on:
        holders = set(AccessToken.objects.filter(application=service.application).values_list("user_id", flat=True))
        holders |= set(
            RefreshToken.objects.filter(application=service.application, revoked__isnull=True).values_list(
                "user_id", flat=True
            )
        )
        for account in Account.objects.filter(pk__in=holders):
            if selectors.sign_in_refusal(account=account, service=service):
                tokens_revoke(account=account, service=service, actor=actor, reason="switched off by the school")


def _revoke(*, account_ids, application=None) -> int:
    """Ends the accounts' tokens (of one application, or all): access tokens and codes deleted, refresh tokens
    revoked (so they are never honoured again). Returns how many access and refresh tokens there were."""
    scope = {"user_id__in": list(account_ids)}
    if application is not None:
        scope["application"] = application
    refresh = RefreshToken.objects.filter(revoked__isnull=True, **scope)
    count = AccessToken.objects.filter(**scope).count() + refresh.count()
    refresh.update(revoked=timezone.now(), access_token=None)
    AccessToken.objects.filter(**scope).delete()
    Grant.objects.filter(**scope).delete()
    IDToken.objects.filter(**scope).delete()
    return count


@transaction.atomic
def tokens_revoke(*, account: Account, service: ConnectedService, actor: Account | None, reason: str) -> int:
    """Signs the account out of one service (its profile's Sign out, or the school switching it off)."""
    count = _revoke(account_ids=[account.pk], application=service.application)
    ServiceSignIn.objects.filter(account=account, service=service).update(signed_out_at=timezone.now())
    _audit(
        action="signon.tokens.revoked",
        actor=actor,
        account=account,
        service=service,
        changes={"tokens": [count, 0], "reason": [None, reason]},
    )
    return count


def tokens_revoke_for_accounts(*, account_ids: list, actor: Account | None, reason: str) -> None:
    """accounts.extensions.sign_in_ended: locked out, no longer approved, access revoked. Audited per account
    that held tokens; runs in the caller's transaction."""
    holders = set(AccessToken.objects.filter(user_id__in=account_ids).values_list("user_id", flat=True))
    holders |= set(
        RefreshToken.objects.filter(user_id__in=account_ids, revoked__isnull=True).values_list("user_id", flat=True)
    )
    _revoke(account_ids=account_ids)
    now = timezone.now()
    ServiceSignIn.objects.filter(account_id__in=account_ids, signed_out_at__isnull=True).update(signed_out_at=now)
    for account in Account.objects.filter(pk__in=holders):
        _audit(
            action="signon.tokens.revoked",
            actor=actor,
            account=account,
            service=None,
            changes={"services": ["signed in", "signed out"], "reason": [None, reason]},
        )


def tokens_revoke_for_erased(*, account: Account, actor: Account | None) -> None:
    """accounts.erasure.on_account_erased: a deleted account keeps no token anywhere."""
    tokens_revoke_for_accounts(account_ids=[account.pk], actor=actor, reason="account deleted")


def authorization_granted(*, account: Account, service: ConnectedService, scopes: list[str]) -> None:
    """A code was issued: the person signed in to the service. Audited, and listed on their profile."""
    now = timezone.now()
    signed_in, created = ServiceSignIn.objects.get_or_create(
        account=account, service=service, defaults={"first_at": now, "last_at": now}
    )
    if not created:
        signed_in.last_at, signed_in.signed_out_at = now, None
        signed_in.save(update_fields=["last_at", "signed_out_at"])
    _audit(
        action="signon.authorization.granted",
        actor=account,
        account=account,
        service=service,
        changes={"scopes": [None, " ".join(scopes)]},
    )


def sign_in_refused(*, account: Account, service: ConnectedService | None, reason: str, where: str) -> None:
    """A refusal at the sign-in page or at the token/userinfo endpoints, with the reason the person was given."""
    _audit(
        action="signon.authorization.refused",
        actor=account,
        account=account,
        service=service,
        changes={"reason": [None, reason], "at": [None, where]},
    )


def expired_tokens_purge() -> None:
    """Expired and revoked tokens, codes and ID tokens go (the toolkit's own clear_expired; scheduled hourly)."""
    clear_expired()
