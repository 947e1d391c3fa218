"""Forms for the Users screens. They shape input; the rules live in accounts.services."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html

from accounts import selectors, services
from accounts.models import Account, Membership, PersonType, Role, max_length
from accounts.permissions import AccountAction

SORT_CHOICES = [
    ("family_name", "Family Name"),
    ("given_name", "Given Names"),
    ("username", "User Name"),
    ("mis_code", "MIS Code"),
    ("email", "Email"),
]


class UserFilterForm(forms.Form):
    """The Users list's search, filters and sort, read from the query string (bad values are ignored)."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    person_type = forms.ChoiceField(label="Person type", required=False, choices=[("", "All"), *PersonType.choices])
    role = forms.ChoiceField(label="Role", required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Membership.Status.choices])
    year_group = forms.ChoiceField(label="Year group", required=False)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)
    desc = forms.BooleanField(label="Descending", required=False)
    per_page = forms.TypedChoiceField(
        label="Per page",
        required=False,
        coerce=int,
        empty_value=50,
        choices=[(n, n) for n in selectors.USER_LIST_PAGE_SIZES],
    )

    def __init__(self, data, *, roles, year_groups):
        super().__init__(data)
        self.fields["role"].choices = [("", "Any role"), *((r.code, r.label) for r in roles)]
        self.fields["year_group"].choices = [("", "Any year group"), *((y, y) for y in year_groups)]

    def filters(self) -> selectors.UserListFilters:
        self.is_valid()
        data = self.cleaned_data
        return selectors.UserListFilters(
            q=(data.get("q") or "").strip(),
            person_type=data.get("person_type") or "",
            role=data.get("role") or "",
            status=data.get("status") or "",
            year_group=data.get("year_group") or "",
            sort=data.get("sort") or "family_name",
            descending=bool(data.get("desc")),
        )

    def page_size(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("per_page") or 50


def role_choices(codes) -> list[tuple[str, str]]:
    """Tick boxes for roles: each role's label, with what it opens beside it (the role catalogue's description),
    on +Add, Edit and the sync policy alike."""
    roles = Role.objects.filter(code__in=codes).select_related("service").order_by("service__name", "sort_order")
    return [(r.code, role_choice_label(r)) for r in roles]


def role_choice_label(role: Role):
    if not role.description:
        return role.label
    return format_html('{} <span class="hint role-description">{}</span>', role.label, role.description)


class _PasswordFields(forms.Form):
    password = forms.CharField(label="Password", required=False, strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password (again)", required=False, strip=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password_method") == services.PASSWORD_SET and data.get("password") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class UserAddForm(_PasswordFields):
    """User Request (Single)."""

    required_css_class = "required"

    person_type = forms.ChoiceField(label="Person type", choices=PersonType.choices, widget=forms.RadioSelect)
    username = forms.CharField(
        label="User Name",
        max_length=max_length(Account, "username"),
        help_text="They sign in with this (or with their email).",
    )
    mis_code = forms.CharField(label="MIS Code", max_length=max_length(Membership, "mis_code"), required=False)
    family_name = forms.CharField(label="Family Name", max_length=max_length(Account, "family_name"))
    given_name = forms.CharField(label="Given Names", max_length=max_length(Account, "given_name"))
    email = forms.EmailField(
        label="Email",
        required=False,
        max_length=max_length(Account, "email"),
        help_text="Required for staff; use a centre email address where possible.",
    )
    upn = forms.CharField(
        label="UPN", max_length=max_length(Account, "upn"), required=False, help_text="Students only."
    )
    year_group = forms.CharField(
        label="Year group", max_length=max_length(Membership, "year_group"), required=False, help_text="Students only."
    )
    roles = forms.MultipleChoiceField(label="Roles", required=False, widget=forms.CheckboxSelectMultiple)
    password_method = forms.ChoiceField(
        label="Password",
        widget=forms.RadioSelect,
        initial=services.PASSWORD_STARTER_CODE,
        choices=[
            (services.PASSWORD_SET, "Set a password now (they must change it when they first sign in)"),
            (services.PASSWORD_STARTER_CODE, "Generate a one-time starter code (shown once, on the next page)"),
            (services.PASSWORD_INVITATION, "Send an invitation email with a link to choose their password"),
            (services.PASSWORD_NONE, "None: they sign in with Microsoft 365 or Google"),
        ],
    )
    consent = forms.BooleanField(label=services.CONSENT_TEXT)
    # Sent only by the "Add this person to your school" button, after a match was shown.
    add_existing = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # Sent only by "Different person: create a new account", after a possible match was shown.
    different_person = forms.UUIDField(required=False, widget=forms.HiddenInput)

    field_order = [
        "person_type",
        "username",
        "mis_code",
        "family_name",
        "given_name",
        "email",
        "upn",
        "year_group",
        "roles",
        "password_method",
        "password",
        "password2",
        "consent",
        "add_existing",
        "different_person",
    ]

    def __init__(self, data=None, *, grantable):
        super().__init__(data, label_suffix="")
        self.fields["roles"].choices = role_choices(grantable)

    def clean(self):
        data = super().clean()
        if data.get("person_type") != PersonType.STUDENT:
            data["year_group"] = data["upn"] = ""
        return data


class UserEditForm(_PasswordFields):
    required_css_class = "required"

    family_name = forms.CharField(label="Family Name", max_length=max_length(Account, "family_name"))
    given_name = forms.CharField(label="Given Names", max_length=max_length(Account, "given_name"))
    email = forms.EmailField(label="Email", required=False, max_length=max_length(Account, "email"))
    mis_code = forms.CharField(label="MIS Code", max_length=max_length(Membership, "mis_code"), required=False)
    year_group = forms.CharField(label="Year group", max_length=max_length(Membership, "year_group"), required=False)
    approved = forms.BooleanField(label="Approved", required=False)
    locked_out = forms.BooleanField(label="Locked Out", required=False)
    override_network_auth = forms.BooleanField(
        label="Override Network Authentication",
        required=False,
        help_text="Lets this person keep signing in with a Rollcall password where the school signs in with "
        "Microsoft 365 or Google only.",
    )
    roles = forms.MultipleChoiceField(label="Roles", required=False, widget=forms.CheckboxSelectMultiple)
    password_method = forms.ChoiceField(
        label="Password reset",
        required=False,
        widget=forms.RadioSelect,
        choices=[
            ("", "Leave the password as it is"),
            (services.RESET_SET, "Set a new password (they must change it when they next sign in)"),
            (services.RESET_STARTER_CODE, "Issue a one-time starter code (shown once, on the next page)"),
            (services.RESET_LINK, "Email them a link to choose a new password"),
        ],
    )

    # The password fields come from the base form, which would put them first: here they follow the Password
    # reset choices they belong to.
    field_order = [
        "family_name",
        "given_name",
        "email",
        "mis_code",
        "year_group",
        "approved",
        "locked_out",
        "override_network_auth",
        "roles",
        "password_method",
        "password",
        "password2",
    ]

    ACCOUNT_FIELDS = ("given_name", "family_name", "email", "approved", "locked_out", "override_network_auth")
    MEMBERSHIP_FIELDS = ("mis_code", "year_group")
    PASSWORD_FIELDS = ("password_method", "password", "password2")

    def __init__(self, data=None, *, membership, actor: services.Actor, grantable, held):
        account = membership.account
        initial = {name: getattr(account, name) for name in self.ACCOUNT_FIELDS}
        initial |= {name: getattr(membership, name) for name in self.MEMBERSHIP_FIELDS}
        initial["roles"] = sorted(held & grantable)
        super().__init__(data, initial=initial, label_suffix="")
        self.fields["roles"].choices = role_choices(grantable)
        # Someone whose roles (here or at another school) this person may not grant: their account is shown,
        # not changed; what the school holds about them (MIS code, year group) stays editable.
        self.refusal = services.refusal_for(actor=actor, account=account, action=AccountAction.DETAILS)
        self.email_refusal = self.refusal
        if self.refusal:
            # No password is set or shown for an account out of reach; a link to their own email may still be.
            link_refusal = services.refusal_for(actor=actor, account=account, action=AccountAction.LINK)
            for name in self.PASSWORD_FIELDS if link_refusal else ("password", "password2"):
                del self.fields[name]
            if not link_refusal:
                method = self.fields["password_method"]
                method.choices = [c for c in method.choices if c[0] in ("", services.RESET_LINK)]
            # Roles here follow their own rule: someone who also belongs to another school keeps a role here
            # that this school may grant, though their account (names, email, sign-in) is not this school's.
            roles_refusal = services.refusal_for(actor=actor, account=account, action=AccountAction.ROLES)
            for name, field in self.fields.items():
                if name in self.MEMBERSHIP_FIELDS or name == "password_method":  # the link is checked when sent
                    continue
                field.disabled = name != "roles" or bool(roles_refusal)
            return
        self.email_refusal = services.refusal_for(actor=actor, account=account, action=AccountAction.EMAIL)
        if self.email_refusal:
            # Read-only, with the reason beside it; a changed value posted anyway is refused by the service.
            self.fields["email"].widget.attrs["readonly"] = True
            self.fields["email"].help_text = self.email_refusal
        approval_refusal = services.refusal_for(actor=actor, account=account, action=AccountAction.APPROVE)
        if approval_refusal:
            self.fields["approved"].disabled = True
            self.fields["approved"].help_text = approval_refusal

    def clean(self):
        data = super().clean()
        if self.refusal and self._posted_beyond_reach():
            # A disabled field ignores what is posted: say so, rather than "saved" over a change not made.
            raise ValidationError(self.refusal)
        return data

    def _posted_beyond_reach(self) -> bool:
        if self.data.get("password") or self.data.get("password2"):
            return True
        offered = (
            {value for value, _ in self.fields["password_method"].choices} if "password_method" in self.fields else {""}
        )
        if self.data.get("password_method", "") not in offered:
            return True
        for name in self.ACCOUNT_FIELDS:
            posted, before = self.data.get(name), self.initial.get(name)
            if isinstance(before, bool):
                if posted and not before:
                    return True
            elif posted is not None and posted.strip() != (before or ""):
                return True
        return False

    def account_changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.ACCOUNT_FIELDS}

    def membership_changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.MEMBERSHIP_FIELDS}


class UserDeleteForm(forms.Form):
    confirm = forms.CharField(
        label="Please write 'DELETE' in the below textbox to delete an account", max_length=20, strip=True
    )

    def clean_confirm(self):
        if self.cleaned_data["confirm"] != "DELETE":
            raise ValidationError("Type DELETE (in capitals) to confirm.")
        return self.cleaned_data["confirm"]


def add_service_error(form: forms.Form, exc: ValidationError | PermissionDenied, field: str | None = None) -> None:
    """Show a refusal from the services on the form: field messages where the form has the field."""
    if isinstance(exc, PermissionDenied):
        form.add_error(field if field in form.fields else None, str(exc))
        return
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return
    form.add_error(field if field in form.fields else None, exc.messages)
