"""The provider's pages: the sign-in a service sends people to (Rollcall's own sign-in page before it), the
refusal that says why, a school's services, and a person's services with Sign out."""

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import AccessToken
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView, IntrospectTokenView

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
        if account.must_change_password:
            # Back here once the new password is chosen (accounts.middleware keeps where the person was going).
            request.session["after_password_change"] = request.get_full_path()
            return redirect(reverse("account_change_password") + "?forced=1")
        return None

    def _granted(self, response):
        query = parse_qs(urlsplit(response.get("Location", "")).query) if response.status_code == 302 else {}
        if "code" in query and "error" not in query:
            services.authorization_granted(
                account=self.request.user, service=self.service, scopes=self.oauth2_data.get("scopes", [])
            )
        return response


class DiscoveryView(ConnectDiscoveryInfoView):
    """The OpenID configuration, naming the revocation and introspection endpoints too (RFC 8414)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["introspection_endpoint"] = self._get_endpoint_url(request, "introspect", required=True)
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out


class IntrospectView(IntrospectTokenView):
    """Token introspection, naming the account by its stable id (sub), never its username."""

    @staticmethod
    def get_token_response(token_value=None):
        response = IntrospectTokenView.get_token_response(token_value)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        if data.pop("username", None) is not None:
            checksum = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
            data["sub"] = str(AccessToken.objects.filter(token_checksum=checksum).values_list("user_id", flat=True)[0])
        return JsonResponse(data)


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
