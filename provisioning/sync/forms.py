"""The Bulk User Synchronise form: the labels are PRODUCT.md's, word for word."""

from django import forms

from accounts.forms import role_choices
from accounts.permissions import BULK_NEVER_GRANTS
from provisioning.models import SyncPolicy

YEARS = ["N", "R"] + [str(n) for n in range(1, 14)]
POLICY_FIELDS = [
    "username_method", "lowercase", "prepend_text", "postpend_text", "password_method", "overwrite_existing",
    "archive_inactive", "student_grace_days", "student_erase_days", "staff_grace_days", "staff_erase_days",
    "contact_grace_days", "contact_erase_days", "guard_threshold", "nightly_enabled", "nightly_time",
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
            "nightly_time": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, grantable=frozenset(), known_years=(), **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        years = list(YEARS) + sorted(set(known_years) - set(YEARS))
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

    def policy_values(self) -> dict:
        data = {name: self.cleaned_data[name] for name in POLICY_FIELDS}
        data["year_groups"] = [] if self.cleaned_data["all_years"] else list(self.cleaned_data["year_groups"])
        for key in ("student_roles", "staff_roles", "contact_roles"):
            data[key] = sorted(self.cleaned_data[key])
        return data


class FeedUploadForm(forms.Form):
    files = forms.FileField(
        label="MIS export",
        help_text="One .xlsx (sheets students, staff, contacts, relationships), a .zip of those CSV files, "
        "or a OneRoster .zip bundle.",
    )
