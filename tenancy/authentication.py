from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenancy.tokens import api_token_any_school


class SchoolTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token rc_...`: the middleware matched it to the URL's school already."""

    keyword = "Token"

    def authenticate(self, request):
        token = getattr(request._request, "api_token", None)
        if token is None:
            if request.META.get("HTTP_AUTHORIZATION", "").startswith(self.keyword + " "):
                raise exceptions.AuthenticationFailed("Invalid or revoked token for this school.")
            return None
        return (token.account, token)

    def authenticate_header(self, request):
        return self.keyword


class AnySchoolTokenAuthentication(SchoolTokenAuthentication):
    """A per-school token outside /api/s/<school>/: only the schema and docs, which hold no school's data."""

    def authenticate(self, request):
        token = api_token_any_school(request._request)
        if token is None:
            if request.META.get("HTTP_AUTHORIZATION", "").startswith(self.keyword + " "):
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            return None
        return (token.account, token)


class SchoolTokenScheme(OpenApiAuthenticationExtension):
    """Describes the per-school token in the OpenAPI schema (drf-spectacular warns otherwise)."""

    target_class = "tenancy.authentication.SchoolTokenAuthentication"
    name = "schoolToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A per-school API token: "Token rc_..."',
        }
