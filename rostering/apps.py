from django.apps import AppConfig


class RosteringConfig(AppConfig):
    """OneRoster 1.2 rostering REST, served: an organisation's people to its roster-reading services."""

    name = "rostering"
    default_auto_field = "django.db.models.BigAutoField"
