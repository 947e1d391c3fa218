from allauth.account.signals import password_changed, password_reset, password_set
from django.dispatch import receiver

from accounts import services


@receiver(password_changed)
@receiver(password_set)
@receiver(password_reset)
def _password_chosen(sender, request, user, **kwargs):
    services.account_password_changed_by_owner(account=user)
