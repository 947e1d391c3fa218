"""The provider's pages: the sign-in a service sends people to (Rollcall's own sign-in page before it), the
refusal that says why, a school's services, and a person's services with Sign out."""

import base64
import hashlib
import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import AccessToken
from oauth2_provider.views import (
    AuthorizationView,
    ConnectDiscoveryInfoView,
    IntrospectTokenView,
    RPInitiatedLogoutView,
)

from accounts.decorators import require_perm
from accounts.permissions import Perm
from signon import selectors, services


class AuthorizeView(AuthorizationView):
    """django-oauth-toolkit's authorization endpoint, asked Rollcall's rules before any code is issued.

    The client and its redirect URI are validated first (an unknown client or an address it did not register
    gets an error page here, never a redirect), then who may sign in: a refusal is a page of ours saying why,
    not a redirect back to the service."""

    template_name = "signon/authorize.html"

    def get(self, request, *args, **kwargs):
        try:
            self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        return self._checked(request, request.GET.get("client_id", "")) or self._granted(super().get(request))

    def post(self, request, *args, **kwargs):
        return self._checked(request, request.POST.get("client_id", "")) or self._granted(super().post(request))

    def _checked(self, request, client_id: str):
        service = selectors.service_for_client(client_id)
        if service is None:
            return render(request, "signon/refused.html", {"reason": "This service is not known to Rollcall."}, 400)
        self.service = service
        account = request.user
        refusal = selectors.sign_in_refusal(account=account, service=service)
        if not refusal and services.signed_in_with_password(request):
            refusal = services.password_sign_in_refusal(request=request, account=account)
        if refusal:
            services.sign_in_refused(account=account, service=service, reason=refusal, where="sign-in page")
            return render(request, "signon/refused.html", {"service": service, "reason": refusal}, status=403)
        # A person who must change their password never gets here: accounts.middleware.AccountStateMiddleware
        # sends them to change it first, and back here afterwards.
        return None

    def _granted(self, response):
        query = parse_qs(urlsplit(response.get("Location", "")).query) if response.status_code == 302 else {}
        if "code" in query and "error" not in query:
            scopes = self.oauth2_data.get("scopes") or self.request.POST.get("scope", "").split()
            services.authorization_granted(account=self.request.user, service=self.service, scopes=scopes)
        return response


class LogoutView(RPInitiatedLogoutView):
    """RP-initiated logout: Rollcall's session ends, and with it the person's tokens at every service (as the
    toolkit does), audited as a revocation."""

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        account = token_user or self.request.user
        if account.is_authenticated:
            where = f"signed out from {application.name}" if application else "signed out"
            services.tokens_revoke_for_accounts(account_ids=[account.pk], actor=account, reason=where)
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)


class DiscoveryView(ConnectDiscoveryInfoView):
    """The OpenID configuration, naming the revocation and introspection endpoints too (RFC 8414)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["introspection_endpoint"] = self._get_endpoint_url(request, "introspect", required=True)
        # What the provider does, no more (found by trying it: the toolkit's defaults advertised hybrid flows and
        # HS256, which Rollcall refuses, and left out the public clients' "none" that PKCE clients use).
        data["response_types_supported"] = ["code"]
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        methods = data.get("token_endpoint_auth_methods_supported") or ["client_secret_post", "client_secret_basic"]
        data["token_endpoint_auth_methods_supported"] = sorted({*methods, "none"})
        data["claims_supported"] = sorted({*data.get("claims_supported", []), "schools"})
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out


class IntrospectView(IntrospectTokenView):
    """Token introspection for the service the token was issued to, naming the account by its stable id (sub),
    never its username. Another service asking about it learns only that it is not active (for it)."""

    def get(self, request, *args, **kwargs):
        return self._answer(request, request.GET.get("token"))

    def post(self, request, *args, **kwargs):
        return self._answer(request, request.POST.get("token"))

    def _answer(self, request, token_value):
        response = self.get_token_response(token_value)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        if not data.get("active"):
            return response
        token = AccessToken.objects.filter(token_checksum=hashlib.sha256(token_value.encode()).hexdigest()).first()
        asking = _client_id_of(request)
        if token is None or asking is None or token.application.client_id != asking:
            return JsonResponse({"active": False})
        data.pop("username", None)
        data["sub"] = str(token.user_id)
        return JsonResponse(data)


def _client_id_of(request) -> str | None:
    """The client that authenticated this request (HTTP Basic or form credentials; the view has checked them)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            return unquote_plus(base64.b64decode(header[6:]).decode().split(":", 1)[0])
        except (ValueError, UnicodeDecodeError):
            return None
    if header.startswith("Bearer "):
        checksum = hashlib.sha256(header[7:].encode()).hexdigest()
        bearer = AccessToken.objects.select_related("application").filter(token_checksum=checksum).first()
        return bearer.application.client_id if bearer and bearer.application else None
    return request.POST.get("client_id") or None


@require_perm(Perm.SERVICES_MANAGE)
def school_services(request, school_slug):
    return render(
        request, "signon/school_services.html", {"rows": selectors.services_for_school(school=request.school)}
    )


@require_POST
@require_perm(Perm.SERVICES_MANAGE)
def school_service_switch(request, school_slug, service_id):
    service = selectors.service_for_school(school=request.school, service_id=service_id)
    if service is None:
        raise Http404("No such service.")
    on = request.POST.get("on") == "1"
    services.service_switch(school=request.school, actor=request.user, service=service, on=on)
    messages.success(request, f"{service.name} is {'on' if on else 'off'} for {request.school.name}.")
    return redirect("signon_school_services", school_slug=request.school.slug)


@require_POST
@login_required
def my_service_sign_out(request, service_id):
    signed_in = next(
        (s for s in selectors.services_signed_in(account=request.user) if s.service_id == service_id), None
    )
    if signed_in is None:
        raise Http404("No such service.")
    services.tokens_revoke(account=request.user, service=signed_in.service, actor=request.user, reason="signed out")
    messages.success(request, f"You are signed out of {signed_in.service.name}.")
    return redirect("profile")
