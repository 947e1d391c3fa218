"""Forms of the pages that compose several apps."""

from django import forms

from accounts import audit_log


class AuditFilterForm(forms.Form):
    person = forms.CharField(required=False, max_length=150, label="About (User Name)")
    actor = forms.CharField(required=False, max_length=150, label="By (User Name)")
    action = forms.ChoiceField(required=False, label="What")
    job = forms.UUIDField(required=False, label="Job")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any")] + actions

    def filters(self) -> audit_log.AuditFilters:
        if not self.is_valid():
            return audit_log.AuditFilters()
        data = self.cleaned_data
        return audit_log.AuditFilters(
            person=data["person"].strip(),
            actor=data["actor"].strip(),
            action=data["action"],
            job=data["job"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
