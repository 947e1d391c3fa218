from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Assessments"

    def ready(self):
        # Imported here, not at the top: an AppConfig module loads before the models these import.
        from accounts import erasure, extensions
        from assessments.retention import certificate_zips_naming_erase
        from assessments.selectors import started_membership_ids
        from assessments.services import certificates_revoke_for_deleted_holder

        erasure.register(certificate_zips_naming_erase)  # a deleted person's name leaves the certificate zips
        erasure.on_account_erased(certificates_revoke_for_deleted_holder)  # revoked, still verifiable
        extensions.started_assessments_source(started_membership_ids)  # the Users list's Info link
