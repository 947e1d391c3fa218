from django.apps import AppConfig

# What a sync job counts (SyncRun.counts: SyncRecord outcomes, "link_" + outcome for contact links).
SYNC_COUNT_LABELS = {
    "create": "People created",
    "update": "People updated",
    "transfer": "People transferred in",
    "archive": "People archived",
    "reactivate": "People reactivated",
    "skipped": "People skipped",
    "unchanged": "People unchanged",
    "link_create": "Contact links made",
    "link_update": "Contact links changed",
    "link_archive": "Contact links ended",
    "link_skipped": "Contact links skipped",
    "link_unchanged": "Contact links unchanged",
    "contacts_to_revoke": "Contacts moving to Ready to Revoke Access",
}


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning (upload and MIS sync)"

    def ready(self):
        # Imported here, not at the top: an AppConfig module loads before the models these import.
        from accounts import erasure, extensions
        from provisioning.account_history import sync_history_entries
        from provisioning.retention import files_naming_erase
        from provisioning.sync.oneroster_rest import PULL_COUNT_LABELS
        from provisioning.sync.services import sync_records_erase_for
        from tenancy.models import register_count_labels

        erasure.register(files_naming_erase)  # a deleted person's name leaves uploads, reports and code sheets
        # An erased account's sync records, in every school, keep their outcome but lose the personal values.
        erasure.on_account_erased(lambda *, account, actor: sync_records_erase_for(account=account))
        extensions.history_source(sync_history_entries)  # the account history shows what applied syncs did
        register_count_labels(SYNC_COUNT_LABELS)  # a sync job's page counts in words, not its outcome keys
        register_count_labels(PULL_COUNT_LABELS)
