from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.functional import SimpleLazyObject
from django_scopes import scope

from accounts.permissions import permissions_for_roles
from accounts.selectors import (
    organisation_for_user,
    organisation_schools,
    permissions_for,
    school_for_user,
    token_scope,
)
from accounts.services import password_signin_refusal, sign_in_refusal
from tenancy.middleware import no_school_in_scope
from tenancy.models import School
from tenancy.tokens import api_token_for_request

# Paths a person who must change their password can still reach.
_OPEN_PREFIXES = ("/accounts/", "/welcome/", "/static/", "/media/", "/verify/", "/health")


class AccountStateMiddleware:
    """Ends the session of an account locked or removed since it signed in, and holds a person
    who must change their password on the change form until they do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            refusal = sign_in_refusal(user)
            if refusal:
                logout(request)
                messages.error(request, refusal)
                return redirect("account_login")
            if (
                user.must_change_password
                and not request.path.startswith(_OPEN_PREFIXES)
                # A password they could never sign in with: their schools sign in with Microsoft 365 or Google.
                and password_signin_refusal(user) is None
            ):
                if request.method == "GET" and request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate":
                    # Where the person was going (a service's sign-in), taken up again once they have chosen a
                    # password (accounts.adapters.AccountAdapter.get_password_change_redirect_url). Only a page
                    # they went to: the browser's own fetches (the favicon) are not where they were going.
                    request.session["after_password_change"] = request.get_full_path()
                return redirect(reverse("account_change_password") + "?forced=1")
        return self.get_response(request)


# Resolving the school of a request: here, not in tenancy, because it reads memberships and permissions.
# A school the user does not belong to answers exactly like a school that does not exist (404).


class SchoolScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.school = None
        request.api_token = None
        request.organisation = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        slug = match.kwargs.get("school_slug") if match else None
        org_slug = match.kwargs.get("org_slug") if match else None
        if org_slug is not None:
            return self._organisation_request(request, org_slug)
        if slug is None:
            with no_school_in_scope():
                return self.get_response(request)
        school, token = _school_and_token(request, slug)
        if school is None:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": "Not found."}, status=404)
            if not request.user.is_authenticated:
                # Every slug, real or not, asks a signed-out visitor to sign in: a bookmark works,
                # and nothing is learnt about which schools exist.
                return redirect_to_login(request.get_full_path())
            # Rendered by the normal 404 handler, which reads no school-owned data.
            raise Http404("No such school.")
        request.school = school
        request.api_token = token
        if token is not None:
            request.school_perms = SimpleLazyObject(lambda: _token_perms(token, school))
        else:
            request.school_perms = SimpleLazyObject(lambda: _perms(request.user, school))
        with scope(school=school), token_scope(token):
            return self.get_response(request)

    def _organisation_request(self, request, slug: str):
        """The trust console (/t/<org_slug>/): open to an organisation role over it, else answered like a
        school that is not yours. It runs scoped to the organisation's schools, so its set-based reads cover
        them all and nothing of another organisation."""
        found = organisation_for_user(request.user, slug)
        if found is None:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise Http404("No such organisation.")
        request.organisation, request.organisation_perms = found
        request.trust_schools = organisation_schools(organisation=request.organisation)
        with scope(school=list(request.trust_schools)):
            return self.get_response(request)


def _school_and_token(request, slug: str):
    """The school a request may open: by the session's user, or by a per-school API token."""
    school = school_for_user(request.user, slug)
    if school is not None or not request.path_info.startswith("/api/"):
        return school, None
    candidate = School.objects.filter(slug=slug, is_active=True).first()
    token = api_token_for_request(request, candidate) if candidate else None
    return (candidate, token) if token else (None, None)


def _token_perms(token, school: School):
    """A token may do what its roles allow and its creator still may, nothing more."""
    with token_scope(None):  # what its issuer may do now, as themselves
        return permissions_for_roles(token.role_codes) & _perms(token.account, school)


def _perms(user, school: School):
    if not user.is_authenticated:
        return frozenset()
    return permissions_for(school=school, account=user)
