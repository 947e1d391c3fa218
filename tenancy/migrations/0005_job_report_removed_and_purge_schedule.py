"""Job report files expire (JOB_REPORT_RETENTION_DAYS): the job says why its report is gone, and the purge
that removes them runs every hour (django-celery-beat)."""

from django.db import migrations, models

TASK_NAME = "Rollcall: purge expired job reports"


def schedule_purge(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME, defaults={"task": "tenancy.job_reports_purge", "interval": every, "enabled": True}
    )


def unschedule_purge(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0004_job_heartbeat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="report_removed",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(schedule_purge, unschedule_purge),
    ]
