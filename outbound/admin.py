"""Support's screens of the SCIM push: a service's endpoint and token (shown as set or not set, never back),
its runs with their counts and reconciliation plans (applied on confirmation), and the log of what was sent and
answered."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from accounts.support_admin import ReadOnlySupportAdmin, SupportAdmin
from outbound import services
from outbound.models import ScimExchange, ScimRun, ScimTarget


class ScimTargetForm(forms.ModelForm):
    endpoint = forms.URLField(
        label="SCIM endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="The service's SCIM 2.0 base URL, e.g. https://app.example/scim/v2",
    )
    token = forms.CharField(
        label="Bearer token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The token the service gave for Rollcall. Kept encrypted and never shown again; leave empty to "
        "keep the one already set.",
    )

    class Meta:
        model = ScimTarget
        fields = ["service", "endpoint", "push_groups", "enabled"]

    def clean(self):
        cleaned = super().clean()
        service = cleaned.get("service") or getattr(self.instance, "service", None)
        if service is not None and cleaned.get("endpoint"):
            try:
                services.target_check(service=service, endpoint=cleaned["endpoint"])
            except ValidationError as exc:
                self.add_error(None, exc)
        if self.instance._state.adding and not cleaned.get("token"):
            self.add_error("token", "Enter the token the service gave for Rollcall.")
        return cleaned


@admin.register(ScimTarget)
class ScimTargetAdmin(SupportAdmin):
    form = ScimTargetForm
    list_display = ("service", "endpoint", "token_state", "push_groups", "enabled", "last_run")
    list_filter = ("enabled", "service__organisation")
    readonly_fields = ("token_state",)
    actions = ["push_now", "reconcile_plan"]

    @admin.display(description="Bearer token")
    def token_state(self, obj):
        return "Set" if obj.token_is_set else "Not set"

    @admin.display(description="Last run")
    def last_run(self, obj):
        run = obj.runs.order_by("-created_at").first()
        return f"{run.get_kind_display()}: {run.get_state_display()}" if run else "None yet"

    def get_readonly_fields(self, request, obj=None):
        # The users the service holds are mapped to this service's endpoint: another service gets its own push.
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields + ("service",) if obj is not None else fields

    def save_model(self, request, obj, form, change):
        services.target_token_set(target=obj, token=form.cleaned_data.get("token", ""))
        super().save_model(request, obj, form, change)

    @admin.action(description="Push now (only what changed is sent)")
    def push_now(self, request, queryset):
        for target in queryset:
            services.run_start(target=target, kind=ScimRun.Kind.PUSH, actor=request.user)
        messages.success(request, f"A push was started for {queryset.count()} service(s).")

    @admin.action(description="Plan a reconciliation (compare with what the service holds)")
    def reconcile_plan(self, request, queryset):
        for target in queryset:
            services.run_start(target=target, kind=ScimRun.Kind.RECONCILE, actor=request.user)
        messages.success(request, "The plan is being made: it waits on the SCIM runs page for confirmation.")


@admin.register(ScimRun)
class ScimRunAdmin(ReadOnlySupportAdmin):
    list_display = ("target", "kind", "state", "progress", "counts_shown", "created_at", "finished_at")
    list_filter = ("kind", "state", "target")
    fields = ("target", "kind", "state", "progress", "counts_shown", "error", "plan_shown", "created_at")
    readonly_fields = fields
    actions = ["confirm", "cancel"]

    @admin.display(description="Progress")
    def progress(self, obj):
        return f"{obj.progress_done} / {obj.progress_total}"

    @admin.display(description="Counts")
    def counts_shown(self, obj):
        return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in obj.counts.items()) or "-"

    @admin.display(description="Plan")
    def plan_shown(self, obj):
        if not obj.plan:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    item["action"],
                    item["user_name"] or item["account_id"],
                    "; ".join(f"{k}: {b} → {a}" for k, (b, a) in item["changes"].items()),
                )
                for item in obj.plan
            ),
        )
        return format_html("<table><tr><th>Action</th><th>User</th><th>Changes</th></tr>{}</table>", rows)

    def has_change_permission(self, request, obj=None):
        # The actions below need it; the fields stay read-only.
        return request.user.is_active and request.user.is_staff

    @admin.action(description="Apply the planned reconciliation")
    def confirm(self, request, queryset):
        applied = sum(services.reconcile_confirm(run=run, actor=request.user) for run in queryset)
        messages.success(request, f"{applied} reconciliation(s) confirmed; they are applied in the background.")

    @admin.action(description="Cancel the planned reconciliation")
    def cancel(self, request, queryset):
        cancelled = sum(services.reconcile_cancel(run=run, actor=request.user) for run in queryset)
        messages.success(request, f"{cancelled} reconciliation(s) cancelled.")


@admin.register(ScimExchange)
class ScimExchangeAdmin(ReadOnlySupportAdmin):
    """What was sent and answered, per service: headers (the token) are never kept."""

    list_display = ("at", "target", "method", "path", "status")
    list_filter = ("target", "status")
    fields = ("at", "target", "run", "method", "path", "status", "sent", "answered")
    readonly_fields = fields
