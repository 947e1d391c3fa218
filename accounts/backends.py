from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts.credentials import starter_code_redeem
from accounts.models import Account
from accounts.selectors import accounts_named_by, accounts_with_email
from accounts.services.signin import password_signin_refusal


class SignInMethodBackend(ModelBackend):
    """First in AUTHENTICATION_BACKENDS: a login naming someone whose schools sign in with Microsoft 365 or
    Google only (accounts.services.signin.password_signin_refusal) is decided here, and never reaches the
    password backends after it.

    Such a person's password is not even checked, so a right and a wrong one fail alike (and count alike
    toward allauth's failed-login limit). A starter code still works on their first sign-in. A family
    address shared with someone who may use a password tries that person's password or code as before.
    Django stops at PermissionDenied; the sign-in form then shows the refusal (accounts.adapters).
    Logins naming nobody refused return None: the other backends decide exactly as before.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        if not password or not (username or email):
            return None
        named = accounts_named_by(email or username)
        refused = {a.pk for a in named if password_signin_refusal(a)}
        if not refused:
            return None
        for account in named:
            if not self.user_can_authenticate(account):
                continue
            if account.pk not in refused and account.check_password(password):
                return account
            if account.has_usable_password():
                continue
            if account.pk in refused and password_signin_refusal(account, starter_code=True):
                continue
            # A password chosen now would be refused next time: they link Microsoft 365 or Google instead.
            if starter_code_redeem(account=account, code=password, choose_password=account.pk not in refused):
                return account
        raise PermissionDenied("Password sign-in refused by the school's sign-in methods.")


class StarterCodeBackend(ModelBackend):
    """Signs a person in with their one-time starter code, typed in the password box beside their
    username or email address (allauth passes an address as `email`, and as `username` too).

    Only accounts without a usable password have codes worth trying, so a real password is never
    shadowed. A family address shared by several accounts tries the code against each: a code
    belongs to one account only. The session that follows is held on the set-password form until
    they choose one.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        if not password or not (username or email):
            return None
        candidates = list(Account.objects.filter(username__iexact=username)[:1]) if username else []
        candidates += [a for a in accounts_with_email(email) if a not in candidates]
        for account in candidates:
            if account.has_usable_password() or not self.user_can_authenticate(account):
                continue
            if starter_code_redeem(account=account, code=password):
                return account
        return None


class EmailBackend(ModelBackend):
    """Signs in by email ignoring case; allauth's own lookup matches the stored case exactly.

    A family address shared by several accounts tries the password against each of them.
    """

    def authenticate(self, request, email=None, password=None, **kwargs):
        if not email or not password:
            return None
        for account in accounts_with_email(email):
            if account.check_password(password) and self.user_can_authenticate(account):
                return account
        return None
