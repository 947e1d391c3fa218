from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The top app: pages that compose several apps (home, dashboard, job pages). Nothing imports it."""

    name = "pages"
    verbose_name = "Pages"
