from allauth.account.signals import password_changed, password_reset, password_set
from allauth.socialaccount.signals import social_account_removed
from django.dispatch import receiver

from accounts import services


@receiver(password_changed)
@receiver(password_set)
@receiver(password_reset)
def _password_chosen(sender, request, user, **kwargs):
    services.account_password_changed_by_owner(account=user)


@receiver(social_account_removed)
def _sign_in_unlinked(sender, request, socialaccount, **kwargs):
    services.linked_sign_in_removed(actor=request.user, account=socialaccount.user, provider=socialaccount.provider)
