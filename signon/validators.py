"""django-oauth-toolkit's validator, told Rollcall's rules: who may get a code or a token, and the claims.

The sign-in page refuses first (signon.views.AuthorizeView); the token and userinfo endpoints ask again, so an
account locked, archived or stripped of the service's roles since gets no new token from a code or refresh
token it still holds.
"""

from collections import OrderedDict

from oauth2_provider.oauth2_validators import OAuth2Validator

from signon import selectors, services

_PROFILE = ("preferred_username", "name", "given_name", "family_name")


class RollcallValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "schools": "schools"}

    def get_additional_claims(self, request):
        account = request.user
        claims = {
            "preferred_username": account.username,
            "name": account.full_name,
            "given_name": account.given_name,
            "family_name": account.family_name,
        }
        if account.email:
            # Rollcall marks an address verified only when a set-password link sent to it was used
            # (accounts.credentials); a changed address is unverified again (accounts.services.account_update).
            claims["email"] = account.email
            claims["email_verified"] = bool(account.email_verified)
        service = selectors.service_for_application(request.client)
        if service is not None:
            claims["schools"] = lambda r: selectors.schools_claim(
                account=account, service=service, with_students="linked_students" in r.scopes
            )
        return claims

    def get_discovery_claims(self, request):
        return ["sub", *_PROFILE, "email", "email_verified", "schools"]

    def _refused(self, request, where: str) -> bool:
        """True (and audited) when the request's account may not have this service's tokens now."""
        service = selectors.service_for_application(request.client)
        account = request.user
        if service is None:
            return True
        refusal = selectors.sign_in_refusal(account=account, service=service)
        if refusal:
            services.sign_in_refused(account=account, service=service, reason=refusal, where=where)
            return True
        return False

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        return super().validate_code(client_id, code, client, request, *args, **kwargs) and not self._refused(
            request, "token (authorization code)"
        )

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        return valid and not self._refused(request, "token (refresh)")

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if request.user is not None and self._refused(request, "userinfo"):
            request.oauth2_error = OrderedDict(
                [("error", "invalid_token"), ("error_description", "This account may no longer use this service.")]
            )
            return False
        return True
