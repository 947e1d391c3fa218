"""The Bulk User Synchronise form: the labels are PRODUCT.md's, word for word."""

from django import forms

from accounts.forms import role_choices
from accounts.permissions import BULK_NEVER_GRANTS
from provisioning.models import RosterSource, SyncPolicy

YEARS = ["N", "R"] + [str(n) for n in range(1, 14)]
POLICY_FIELDS = [
    "username_method", "lowercase", "prepend_text", "postpend_text", "keep_usernames", "rename_existing",
    "password_method", "overwrite_existing", "archive_inactive", "date_order", "student_grace_days",
    "student_erase_days", "staff_grace_days", "staff_erase_days", "contact_grace_days", "contact_erase_days",
    "guard_threshold", "nightly_enabled", "nightly_time",
]  # fmt: skip


class SyncPolicyForm(forms.ModelForm):
    all_years = forms.BooleanField(label="All Years", required=False)
    year_groups = forms.MultipleChoiceField(
        label="Student Year Levels to Sync", required=False, widget=forms.CheckboxSelectMultiple
    )
    default_password = forms.CharField(
        label="Default password for all users",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Hashed when saved; people must change it at first sign-in. Leave empty to keep the current one.",
    )
    student_roles = forms.MultipleChoiceField(label="Students", required=False, widget=forms.CheckboxSelectMultiple)
    staff_roles = forms.MultipleChoiceField(label="Staff", required=False, widget=forms.CheckboxSelectMultiple)
    contact_roles = forms.MultipleChoiceField(label="Contacts", required=False, widget=forms.CheckboxSelectMultiple)
    confirm_student_admin_roles = forms.BooleanField(
        label="I confirm students should get an administrator role", required=False
    )

    class Meta:
        model = SyncPolicy
        fields = POLICY_FIELDS
        labels = {
            "username_method": "Username method",
            "password_method": "Password method",
            "student_grace_days": "Students: days leavers can still sign in",
            "student_erase_days": "Students: erase archived accounts after (days, 0 = never)",
            "staff_grace_days": "Staff: days leavers can still sign in",
            "staff_erase_days": "Staff: erase archived accounts after (days, 0 = never)",
            "contact_grace_days": "Contacts: days leavers can still sign in",
            "contact_erase_days": "Contacts: erase archived accounts after (days, 0 = never)",
            "guard_threshold": "Mass-change guard: confirm runs that archive or rename more than",
            "nightly_enabled": "Synchronise nightly",
            "nightly_time": "Nightly at (school time)",
        }
        help_texts = {
            "guard_threshold": "Empty: 10% of active accounts or 500, whichever is smaller.",
        }
        widgets = {
            "password_method": forms.RadioSelect,
            "date_order": forms.RadioSelect,
            "nightly_time": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, grantable=frozenset(), years=(), **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        # The school's year list (accounts.services.names: N, R, 1..13 spelled as its people are, then its own
        # names), then any year the policy holds that no one is in now.
        years = list(years or YEARS)
        years += [y for y in policy.year_groups or [] if y not in years]
        self.fields["year_groups"].choices = [(y, y) for y in years]
        self.initial.setdefault("year_groups", policy.year_groups)
        self.initial.setdefault("all_years", not policy.year_groups)
        for person_type in ("student", "staff", "contact"):
            key = f"{person_type}_roles"
            held = set(getattr(policy, key))
            offer = (set(grantable) | held) - BULK_NEVER_GRANTS
            self.fields[key].choices = role_choices(offer)
            self.initial.setdefault(key, list(held))
        self.fields["password_method"].choices = SyncPolicy.PasswordMethod.choices
        self.fields["date_order"].required = False  # a form sent without it keeps the school's choice

    def policy_values(self) -> dict:
        data = {name: self.cleaned_data[name] for name in POLICY_FIELDS}
        data["date_order"] = data["date_order"] or self.instance.date_order
        data["year_groups"] = [] if self.cleaned_data["all_years"] else list(self.cleaned_data["year_groups"])
        for key in ("student_roles", "staff_roles", "contact_roles"):
            data[key] = sorted(self.cleaned_data[key])
        return data


class SignInMethodsForm(forms.Form):
    """The school's "Sign in with Microsoft 365 or Google only" (tenancy School), shown on Bulk User Synchronise
    beside the Password method that decides what the sync issues."""

    sign_in_microsoft_google_only = forms.BooleanField(
        label="Sign in with Microsoft 365 or Google only",
        required=False,
        help_text="When ticked, people at this school sign in with the Microsoft 365 or Google button and their "
        "Rollcall passwords are refused. A starter code still lets a newcomer in once, to link their Microsoft 365 "
        "or Google sign-in. People with Override Network Authentication keep their Rollcall password. Someone "
        "who also belongs to a school that still uses passwords keeps theirs.",
    )


class FeedUploadForm(forms.Form):
    files = forms.FileField(
        label="MIS export",
        help_text="One .xlsx (sheets students, staff, contacts, relationships), a .zip of those CSV files, "
        "a OneRoster .zip bundle, or a Microsoft School Data Sync export (v2.1, or v1 in the UK format) as a .zip.",
    )


class RosterSourceForm(forms.ModelForm):
    """Feed source: a OneRoster 1.2 REST server the nightly pulls the feed from. The secret is never shown back."""

    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Kept encrypted and never shown again. Leave empty to keep the one kept.",
    )

    # https:// is assumed where a scheme is left out (the default Django 6 will have).
    base_url = forms.URLField(label="Server address", max_length=300, assume_scheme="https",
                              help_text=RosterSource._meta.get_field("base_url").help_text)  # fmt: skip
    token_url = forms.URLField(label="Token address", max_length=300, assume_scheme="https")

    class Meta:
        model = RosterSource
        fields = ["enabled", "base_url", "token_url", "client_id"]

    def source_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
