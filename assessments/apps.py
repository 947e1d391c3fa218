from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Assessments"

    def ready(self):
        from accounts import erasure
        from assessments.retention import certificate_zips_naming_erase

        erasure.register(certificate_zips_naming_erase)  # a deleted person's name leaves the certificate zips
