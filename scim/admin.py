"""Support issues an organisation's SCIM token here (shown once) and revokes it; provisioned people are listed."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.support_admin import ReadOnlySupportAdmin, SupportAdmin
from scim import services
from scim.models import ScimToken, ScimUser


class ScimTokenForm(forms.ModelForm):
    role_codes = forms.MultipleChoiceField(
        label="Roles it may give",
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The identity provider gives its staff only these roles (never Centre Admin); none: no role.",
    )

    class Meta:
        model = ScimToken
        fields = ["name", "organisation"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role_codes"].choices = services.scim_token_roles()


@admin.register(ScimToken)
class ScimTokenAdmin(SupportAdmin):
    form = ScimTokenForm
    list_display = ("name", "organisation", "prefix", "role_codes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organisation",)
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False  # a token's roles are fixed when issued: issue another, revoke this one

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the audit log keeps pointing at it

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        token, raw = services.scim_token_issue(
            organisation=data["organisation"], actor=request.user, name=data["name"], role_codes=data["role_codes"]
        )
        obj.pk, obj._state.adding, obj._state.db = token.pk, False, "default"
        request.scim_token = (token, raw)  # shown on the next page once, never stored in clear

    def response_add(self, request, obj, post_url_continue=None):
        token, raw = request.scim_token
        return TemplateResponse(
            request,
            "scim/admin_token_issued.html",
            {
                **self.admin_site.each_context(request),
                "token": token,
                "raw": raw,
                "base_url": request.build_absolute_uri(reverse("scim:root")),
                "title": f"SCIM token for {token.organisation}",
            },
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.scim_token_revoke(token=token, actor=request.user)
        messages.success(request, "Revoked: the identity provider's requests are refused from now on.")


@admin.register(ScimUser)
class ScimUserAdmin(ReadOnlySupportAdmin):
    list_display = ("account", "organisation", "school", "external_id", "created_at", "removed_at")
    list_filter = ("organisation",)
    search_fields = ("account__username", "external_id")
