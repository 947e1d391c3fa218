"""Every page of support staff's Django admin is audited, Django's, allauth's and celery-beat's own included.

Found by an outside pass: /admin/sites/ edits left no trace, and the same was true of the pages that decide who
may sign in as whom (verified email addresses, linked Microsoft/Google accounts, their apps' secrets) and when
every school's night runs (celery-beat's schedules).
"""

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialApp
from django.contrib import admin
from django.contrib.sites.models import Site
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.audit import MASK
from accounts.models import AuditEvent
from accounts.support_admin import AuditedAdmin
from tests.accounts.test_admin import form_data


def _url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


@pytest.fixture
def support(login, support_user):
    return login(support_user)


def test_every_registered_admin_page_is_audited():
    plain = [model._meta.label for model, page in admin.site._registry.items() if not isinstance(page, AuditedAdmin)]
    assert plain == []


def test_a_site_edit_is_audited_with_before_and_after(support, support_user, db):
    site = Site.objects.get_current()
    data = form_data(support.get(_url(site)))
    old = data["domain"]
    data["domain"] = "rollcall.example.org"

    assert support.post(_url(site), data).status_code == 302

    event = AuditEvent.objects.get(action="admin.site.changed", target_id=str(site.pk))
    assert event.actor == support_user
    assert event.changes["domain"] == [old, "rollcall.example.org"]


def test_marking_an_email_verified_is_audited_at_the_accounts_school(support, eo_user, school_a):
    address = EmailAddress.objects.create(user=eo_user, email=eo_user.email, verified=False, primary=True)
    data = form_data(support.get(_url(address)))
    data["verified"] = "on"

    assert support.post(_url(address), data).status_code == 302

    event = AuditEvent.objects.get(action="admin.emailaddress.changed", target_id=str(address.pk))
    assert event.changes["verified"] == [False, True]
    assert event.school == eo_user.home_school == school_a


def test_a_sign_in_apps_secret_is_masked_in_the_audit(support, db):
    app = SocialApp.objects.create(provider="microsoft", name="Microsoft 365", client_id="abc", secret="old-secret")
    data = form_data(support.get(_url(app)))
    data["secret"] = "new-secret"

    assert support.post(_url(app), data).status_code == 302

    event = AuditEvent.objects.get(action="admin.socialapp.changed", target_id=str(app.pk))
    assert event.changes["secret"] == [MASK, MASK]
    assert "new-secret" not in str(event.changes)


def test_switching_off_a_scheduled_task_is_audited(support, db):
    every = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="Nightly tick", task="provisioning.nightly_tick", interval=every)
    data = form_data(support.get(_url(task)))
    data.pop("enabled", None)

    assert support.post(_url(task), data).status_code == 302

    task.refresh_from_db()
    assert task.enabled is False
    assert AuditEvent.objects.get(action="admin.periodictask.changed").changes["enabled"] == [True, False]


def test_a_bulk_action_of_another_apps_admin_is_audited_for_each_row(support, eo_user, centre_admin):
    """allauth's "Mark as verified" writes with queryset.update: each address it verifies is audited."""
    addresses = [
        EmailAddress.objects.create(user=account, email=account.email, verified=False, primary=True)
        for account in (eo_user, centre_admin)
    ]
    url = reverse("admin:account_emailaddress_changelist")
    data = {"action": "make_verified", "_selected_action": [str(a.pk) for a in addresses]}

    assert support.post(url, data).status_code == 302

    assert all(a.verified for a in EmailAddress.objects.filter(pk__in=[a.pk for a in addresses]))
    events = AuditEvent.objects.filter(action="admin.emailaddress.make_verified")
    assert {e.target_id for e in events} == {str(a.pk) for a in addresses}
