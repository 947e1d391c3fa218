"""Celery task names follow one pattern, "<app>.<task>": the nightly sync tick scheduled by 0004 is renamed from
"provisioning.tasks.sync_scheduled_tick", so beat keeps sending a task the worker knows."""

from django.db import migrations

OLD, NEW = "provisioning.tasks.sync_scheduled_tick", "provisioning.sync_scheduled_tick"


def rename(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=OLD).update(task=NEW)


def rename_back(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=NEW).update(task=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0012_purge_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
