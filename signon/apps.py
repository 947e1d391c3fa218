from django.apps import AppConfig


class SignonConfig(AppConfig):
    name = "signon"
    verbose_name = "Sign-on (connected services)"

    def ready(self):
        # Locking, approving off, revoking access or erasing an account (accounts' services, provisioning's
        # Revoke Access) ends its sign-ins to every service at once: accounts calls these without importing us.
        from accounts import erasure, extensions
        from signon import selectors, services

        extensions.sign_in_ended_hook(services.tokens_revoke_for_accounts)
        extensions.signed_in_services_source(selectors.signed_in_services_listed)
        erasure.on_account_erased(services.tokens_revoke_for_erased)
