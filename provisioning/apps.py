from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning (upload and MIS sync)"

    def ready(self):
        # Imported here, not at the top: an AppConfig module loads before the models these import.
        from accounts import erasure, extensions
        from provisioning.account_history import sync_history_entries
        from provisioning.retention import files_naming_erase
        from provisioning.sync.services import sync_records_erase_for

        erasure.register(files_naming_erase)  # a deleted person's name leaves uploads, reports and code sheets
        # An erased account's sync records, in every school, keep their outcome but lose the personal values.
        erasure.on_account_erased(lambda *, account, actor: sync_records_erase_for(account=account))
        extensions.history_source(sync_history_entries)  # the account history shows what applied syncs did
