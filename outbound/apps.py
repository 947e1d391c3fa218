from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "SCIM push to connected services"

    def ready(self):
        # An erased account's personal data leaves the push log too; its ScimUser row (no personal data) stays
        # until the service answered the DELETE.
        from accounts import erasure, extensions
        from outbound import services

        erasure.on_account_erased(services.exchanges_blank_for_erased)
        # Between sweeps: someone who may no longer sign in is deactivated (erased: deleted) at the services at
        # once. Other changes (names, roles, leavers) wait for the sweep, every five minutes.
        extensions.sign_in_ended_hook(services.push_soon)
        erasure.on_account_erased(services.push_erased_soon)
