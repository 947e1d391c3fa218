from django.contrib.auth.backends import ModelBackend

from accounts.credentials import starter_code_redeem
from accounts.models import Account
from accounts.selectors import accounts_with_email


class StarterCodeBackend(ModelBackend):
    """Signs a person in with their one-time starter code, typed in the password box.

    Only accounts without a usable password have codes worth trying, so a real password is never
    shadowed. The session that follows is held on the set-password form until they choose one.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password:
            return None
        account = Account.objects.filter(username__iexact=username).first()
        if account is None or account.has_usable_password() or not self.user_can_authenticate(account):
            return None
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
