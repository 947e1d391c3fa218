from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning (upload and MIS sync)"

    def ready(self):
        from accounts import erasure
        from provisioning.retention import files_naming_erase

        erasure.register(files_naming_erase)  # a deleted person's name leaves uploads, reports and code sheets
