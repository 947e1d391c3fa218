"""Expired and revoked sign-on tokens are purged every hour (django-celery-beat)."""

from django.db import migrations

TASK_NAME = "Rollcall: purge expired sign-on tokens"


def schedule_purge(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME, defaults={"task": "signon.expired_tokens_purge", "interval": every, "enabled": True}
    )


def unschedule_purge(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("signon", "0001_connected_services"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_purge, unschedule_purge)]
