from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from accounts.services import sign_in_refusal

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
            if user.must_change_password and not request.path.startswith(_OPEN_PREFIXES):
                return redirect(reverse("account_change_password") + "?forced=1")
        return self.get_response(request)
