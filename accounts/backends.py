from django.contrib.auth.backends import ModelBackend

from accounts.credentials import starter_code_redeem
from accounts.models import Account
from accounts.selectors import accounts_with_email


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
