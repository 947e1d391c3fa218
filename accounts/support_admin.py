"""Support staff's Django admin: every school at once, every change audited.

Admin requests by support staff run with scoping switched off (tenancy.middleware.SupportAdminMiddleware,
one of the short allow-list of scopes_disabled() uses). Every ModelAdmin (accounts/admin.py, which registers
tenancy's models too, and assessments/admin.py) derives from SupportAdmin, which writes one audit event per
add, change or delete. It lives in accounts, not tenancy, because the audit record does.
"""

import datetime
import functools
import uuid
from decimal import Decimal

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.audit import audit_record
from tenancy.models import School, SchoolOwned


def support_admin_login(request, extra_context=None):
    """The admin's own password form is never offered: support staff sign in on Rollcall's sign-in page
    (allauth's rate limits and refusals apply), and anyone else signed in is refused outright."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect_to_login(next_url)
    if request.user.is_active and request.user.is_staff:
        return redirect(next_url)
    raise PermissionDenied("The support admin is for Rollcall support staff only.")


admin.site.login = support_admin_login


def plain(value):
    """A value as the audit log's JSON can hold it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.date | datetime.time | datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, list | tuple | set | models.QuerySet):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "all"):  # a related manager (many-to-many)
        return [str(v) for v in value.all()]
    return str(value)


def audit_school(obj) -> School | None:
    if isinstance(obj, School):
        return obj
    # An email address or a linked Microsoft/Google account belongs to an account: its home school sees it.
    owner = getattr(obj, "user", None)
    return getattr(obj, "school", None) or getattr(obj, "home_school", None) or getattr(owner, "home_school", None)


class AuditedAdmin(admin.ModelAdmin):
    """Each change leaves an audit event `admin.<model>.added|changed|deleted` with the changed fields before and
    after (secrets masked by accounts.audit). With audit_actions, each bulk action of the changelist ("Mark as
    verified", "Disable selected tasks") leaves `admin.<model>.<action>` for every row it was run on: the other
    apps' admin actions write with queryset.update, which no save_model sees. Rollcall's own actions call
    services, which audit."""

    audit_actions = False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.audit_actions:
            for name, (func, action_name, description) in list(actions.items()):
                if name != "delete_selected":  # audited by delete_queryset
                    actions[name] = (_audited_action(func, name), action_name, description)
        return actions

    def audit(self, request, obj, verb: str, changes: dict) -> None:
        audit_record(
            action=f"admin.{obj._meta.model_name}.{verb}",
            actor=request.user,
            school=audit_school(obj),
            target_type=obj._meta.model_name,
            target_id=str(obj.pk),
            target_label=str(obj)[:200],
            changes=changes,
        )

    def save_model(self, request, obj, form, change):
        # The admin's change view already runs in a transaction, so the event commits with the change.
        before = type(obj)._base_manager.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        changes = {
            name: [plain(getattr(before, name)) if before else None, plain(form.cleaned_data.get(name))]
            for name in form.changed_data
        }
        self.audit(request, obj, "changed" if change else "added", changes)

    def delete_model(self, request, obj):
        self.audit(request, obj, "deleted", {"deleted": [str(obj), None]})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.audit(request, obj, "deleted", {"deleted": [str(obj), None]})
        super().delete_queryset(request, queryset)


class SupportAdmin(AuditedAdmin):
    """Any support staff member (is_staff) may use it, and each change is audited (AuditedAdmin)."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # Moving a row to another school would strand what hangs off it at the old one.
        if obj is not None and isinstance(obj, SchoolOwned):
            fields += ("school",)
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not issubclass(self.model, SchoolOwned):
            return form

        class SameSchoolForm(form):
            def clean(self):
                cleaned = super().clean()
                school = cleaned.get("school") or getattr(self.instance, "school", None)
                for name, value in list(cleaned.items()):
                    if isinstance(value, SchoolOwned) and school is not None and value.school_id != school.pk:
                        self.add_error(name, f"This belongs to {value.school}, not {school}.")
                return cleaned

        return SameSchoolForm


def _audited_action(func, name: str):
    @functools.wraps(func)
    def run(modeladmin, request, queryset):
        with transaction.atomic():  # the events and the action's writes together, or neither
            for obj in queryset:
                modeladmin.audit(request, obj, name, {"action": [None, name]})
            return func(modeladmin, request, queryset)

    return run


def audit_other_admins(site=admin.site) -> None:
    """Django's, allauth's and celery-beat's own admin pages (sites, email addresses, linked Microsoft/Google
    accounts and their apps, the schedules of every nightly task) change who may sign in as whom and when each
    school's night runs: each is registered again with AuditedAdmin in front of its own ModelAdmin, so support
    staff's changes there are audited like every other (secrets masked by accounts.audit). Called from
    AccountsConfig.ready(), after the admin has imported every app's admin module."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, AuditedAdmin):
            continue
        own = type(model_admin)  # its own permissions (Django's model permissions) kept: only the audit is added
        audited = type(f"Audited{own.__name__}", (AuditedAdmin, own), {"__module__": __name__, "audit_actions": True})
        site.unregister(model)
        site.register(model, audited)


class ReadOnlySupportAdmin(SupportAdmin):
    """Records that only services write (audit, credentials, jobs): support may look, not touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
