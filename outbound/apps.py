from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "SCIM push to connected services"

    def ready(self):
        # An erased account's personal data leaves the push log too; the service itself is told by the next
        # sweep (its ScimUser row, which holds no personal data, stays until the DELETE was answered).
        from accounts import erasure
        from outbound import services

        erasure.on_account_erased(services.exchanges_blank_for_erased)
