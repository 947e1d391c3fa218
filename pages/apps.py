from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The top app: pages that compose several apps (home, dashboard, job pages). Nothing imports it."""

    name = "pages"
    verbose_name = "Pages"

    def ready(self):
        from pages.school_export import TABLES
        from tenancy.models import register_count_labels

        # The school export's job counts the rows of each table it wrote, in words ("Contact links: rows").
        register_count_labels({f"{table.name}_rows": f"{table.title}: rows" for table in TABLES})
