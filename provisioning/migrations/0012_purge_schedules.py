"""Every purge of provisioning's files runs on a schedule (django-celery-beat), hourly: upload credentials
sheets (24 hours), uploaded spreadsheets (UPLOAD_FILE_RETENTION_DAYS) and MIS feeds (FEED_RETENTION_DAYS)."""

from django.db import migrations

PURGES = {
    "Rollcall: purge upload credentials sheets": "provisioning.upload_credentials_purge",
    "Rollcall: purge uploaded spreadsheets": "provisioning.upload_files_purge",
    "Rollcall: purge old MIS feeds": "provisioning.feeds_purge",
}


def schedule_purges(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    for name, task in PURGES.items():
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "enabled": True})


def unschedule_purges(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=list(PURGES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0011_restore_sync_record_fks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_purges, unschedule_purges)]
