from rest_framework import authentication, exceptions


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
