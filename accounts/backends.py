from django.contrib.auth.backends import ModelBackend

from accounts.credentials import starter_code_redeem
from accounts.models import Account


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
