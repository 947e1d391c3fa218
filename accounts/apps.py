from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from tenancy.models import register_count_labels

        from . import receivers  # noqa: F401
        from .models import PersonType

        # The census report counts people by person type.
        register_count_labels({t.value: t.label for t in PersonType})
