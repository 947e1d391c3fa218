"""The registry in support staff's Django admin, across every school.

Account edits go through accounts.services.account_update like the school screens do (support staff
may change any email), and a new username through account_rename, which holds the old one for a year;
everything else is audited by accounts.support_admin.SupportAdmin. Tenancy's models (organisations, schools,
jobs, API tokens) are registered here too: their admin audits, and tenancy may not import the audit.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts.extensions import sign_in_ended
from accounts.models import (
    Account,
    AuditEvent,
    ContactLink,
    Membership,
    OrganisationRole,
    Role,
    RoleAssignment,
    Service,
    SetPasswordLink,
    StarterCode,
    UsernameHold,
)
from accounts.permissions import AccountAction
from accounts.services import (
    ACCOUNT_FIELDS,
    Actor,
    account_rename,
    account_update,
    check_may_act_on_account,
    check_username_free,
    organisation_role_grant,
    organisation_role_revoke,
)
from accounts.support_admin import ReadOnlySupportAdmin, SupportAdmin, plain
from tenancy.models import ApiToken, ErasureRecord, Job, Organisation, School

# Roles and support status replace Django's groups; an empty "Groups" page would only confuse.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("school", "person_type", "mis_code", "status", "year_group", "form")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AccountAdminForm(forms.ModelForm):
    def clean(self):
        # The service's own rule, asked here too, so a held username is refused on the form, not by a 500.
        cleaned = super().clean()
        if "username" in self.changed_data and cleaned.get("username"):
            try:
                check_username_free(cleaned["username"], account=self.instance)
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Account)
class AccountAdmin(SupportAdmin):
    form = AccountAdminForm
    list_display = (
        "username",
        "family_name",
        "given_name",
        "email",
        "home_school",
        "approved",
        "locked_out",
        "is_active",
        "is_staff",
    )
    list_filter = ("is_staff", "approved", "locked_out", "is_active", "must_change_password", "home_school")
    list_select_related = ("home_school",)
    search_fields = ("username", "email", "given_name", "family_name", "upn")
    fields = (
        "username",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "upn",
        "home_school",
        "approved",
        "locked_out",
        "override_network_auth",
        "must_change_password",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
        "deleted_at",
        "how_to_delete",
    )
    readonly_fields = ("email_verified", "date_joined", "last_login", "deleted_at", "how_to_delete")
    inlines = [MembershipInline]

    @admin.display(description="Deleting")
    def how_to_delete(self, obj):
        return (
            "Accounts are not deleted here. A Centre Admin deletes a person in the school's Users screen, "
            "which erases their personal data and keeps their certificates verifiable."
        )

    def has_add_permission(self, request):
        return False  # people are added at a school (+Add, upload, sync); support accounts by createsuperuser

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        stored = Account.objects.get(pk=obj.pk)
        actor = Actor(account=request.user)
        through_service = {n: form.cleaned_data[n] for n in form.changed_data if n in ACCOUNT_FIELDS}
        others = [n for n in form.changed_data if n not in ACCOUNT_FIELDS and n != "username"]
        if "username" in form.changed_data:
            # Recorded against the home school, like the admin's other events, so its History shows it.
            username = form.cleaned_data["username"]
            account_rename(actor=actor, account=stored, username=username, school=stored.home_school)
        if through_service:
            account_update(actor=actor, account=stored, **through_service)
        if others:
            changes = {n: [plain(getattr(stored, n)), plain(form.cleaned_data[n])] for n in others}
            for name in others:
                setattr(stored, name, form.cleaned_data[name])
            stored.save(update_fields=others)
            self.audit(request, stored, "changed", changes)
            if "is_active" in others and not stored.is_active:
                sign_in_ended(account_ids=[stored.pk], actor=request.user, reason="made inactive")
        obj.refresh_from_db()


@admin.register(Membership)
class MembershipAdmin(SupportAdmin):
    list_display = ("account", "school", "person_type", "mis_code", "status", "year_group", "form")
    list_filter = ("school", "person_type", "status", "portal_access")
    list_select_related = ("account", "school")
    search_fields = ("account__username", "account__family_name", "account__given_name", "mis_code")
    raw_id_fields = ("account",)


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SupportAdmin):
    """Roles changed here are acting on the account: asked of the one rule like everywhere else (support
    staff may act on anyone, so it is a formality that keeps a single place deciding)."""

    list_display = ("membership", "role", "school", "granted_at", "granted_by")
    list_filter = ("school", "role")
    list_select_related = ("membership__account", "membership__school", "role", "school", "granted_by")
    search_fields = ("membership__account__username", "membership__account__family_name", "role__name")
    raw_id_fields = ("membership", "granted_by")

    def _check(self, request, assignments) -> None:
        for assignment in assignments:
            check_may_act_on_account(
                actor=Actor(account=request.user), account=assignment.membership.account, action=AccountAction.ROLES
            )

    def save_model(self, request, obj, form, change):
        self._check(request, [obj])
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        self._check(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._check(request, queryset.select_related("membership__account"))
        super().delete_queryset(request, queryset)


@admin.register(OrganisationRole)
class OrganisationRoleAdmin(SupportAdmin):
    """Trust Admin and Trust Viewer: granted and taken back through the services, which audit them
    (accounts.organisation_role.granted / revoked) like a Trust Admin's grants on the trust console."""

    list_display = ("account", "organisation", "role", "granted_at", "granted_by")
    list_filter = ("organisation", "role")
    list_select_related = ("account", "organisation", "granted_by")
    search_fields = ("account__username", "account__family_name", "organisation__name")
    raw_id_fields = ("account",)
    fields = ("organisation", "account", "role")

    def get_readonly_fields(self, request, obj=None):
        # Another person or organisation is another grant: take this one back and add that.
        return ("organisation", "account") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = organisation_role_grant(
            organisation=obj.organisation, account=obj.account, role=obj.role, actor=request.user
        )
        obj.pk, obj.granted_at = saved.pk, saved.granted_at

    def delete_model(self, request, obj):
        organisation_role_revoke(organisation=obj.organisation, account=obj.account, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("organisation", "account"):
            self.delete_model(request, obj)


@admin.register(ContactLink)
class ContactLinkAdmin(SupportAdmin):
    list_display = ("contact", "student", "school", "relationship", "portal_access")
    list_filter = ("school", "portal_access")
    list_select_related = ("contact__account", "student__account", "school")
    search_fields = (
        "contact__account__username",
        "contact__account__family_name",
        "student__account__username",
        "student__account__family_name",
    )
    raw_id_fields = ("contact", "student")


@admin.register(Service)
class ServiceAdmin(SupportAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(Role)
class RoleAdmin(SupportAdmin):
    list_display = ("name", "short_name", "code", "service", "sort_order")
    list_filter = ("service",)
    list_select_related = ("service",)
    search_fields = ("name", "short_name", "code")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlySupportAdmin):
    list_display = ("at", "action", "actor_label", "school", "target_type", "target_label")
    list_filter = ("school", "target_type", "action")
    list_select_related = ("school",)
    search_fields = ("action", "actor_label", "target_label", "target_id")
    date_hierarchy = "at"


@admin.register(StarterCode)
class StarterCodeAdmin(ReadOnlySupportAdmin):
    list_display = ("account", "school", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = ("school",)
    list_select_related = ("account", "school")
    search_fields = ("account__username", "account__family_name")
    exclude = ("code_hash",)


@admin.register(SetPasswordLink)
class SetPasswordLinkAdmin(ReadOnlySupportAdmin):
    list_display = ("account", "purpose", "school", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = ("school", "purpose")
    list_select_related = ("account", "school")
    search_fields = ("account__username", "account__family_name")
    exclude = ("token_hash",)


@admin.register(UsernameHold)
class UsernameHoldAdmin(ReadOnlySupportAdmin):
    list_display = ("username_lower", "account", "released_at", "held_until")
    list_select_related = ("account",)
    search_fields = ("username_lower", "account__username")


# --- tenancy's models ------------------------------------------------------------------------------


@admin.register(Organisation)
class OrganisationAdmin(SupportAdmin):
    list_display = ("name", "slug", "kind", "support_contact", "trust_admins_act_as_centre_admin")
    list_filter = ("kind",)
    search_fields = ("name", "slug", "support_contact")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(School)
class SchoolAdmin(SupportAdmin):
    list_display = ("name", "organisation", "urn", "slug", "time_zone", "is_active")
    list_filter = ("is_active", "organisation")
    list_select_related = ("organisation",)
    search_fields = ("name", "urn", "slug", "email_domains")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Job)
class JobAdmin(ReadOnlySupportAdmin):
    list_display = ("kind", "school", "state", "progress_done", "progress_total", "created_by", "created_at")
    list_filter = ("state", "kind", "school")
    list_select_related = ("school", "created_by")
    search_fields = ("id", "error", "school__name", "created_by__username")
    date_hierarchy = "created_at"


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlySupportAdmin):
    """What was erased, how many and why, never who: the school's retention page reads the same rows."""

    list_display = ("at", "school", "kind", "person_type", "reason", "count")
    list_filter = ("kind", "school")
    list_select_related = ("school",)
    date_hierarchy = "at"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlySupportAdmin):
    list_display = ("name", "prefix", "school", "account", "created_at", "last_used_at", "revoked_at")
    list_filter = ("school",)
    list_select_related = ("school", "account")
    search_fields = ("name", "prefix", "account__username", "school__name")
    exclude = ("token_hash",)
