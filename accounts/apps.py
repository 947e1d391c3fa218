from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from tenancy.models import register_count_labels

        from . import receivers  # noqa: F401
        from .models import PersonType
        from .support_admin import audit_other_admins

        audit_other_admins()

        # The census report counts people by person type.
        register_count_labels({t.value: t.label for t in PersonType})
        post_migrate.connect(_write_catalogue, sender=self)


def _write_catalogue(sender, using="default", **kwargs):
    """After every migrate, and after a flush: the role catalogue as accounts.catalogue lists it."""
    from accounts.catalogue import catalogue_write

    catalogue_write(using=using)
