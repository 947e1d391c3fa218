"""Support registers connected services here. django-oauth-toolkit's own admin pages (applications, tokens) are
taken away: they are not audited, and token rows are nobody's business to read."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken

from accounts.support_admin import ReadOnlySupportAdmin, SupportAdmin
from signon import services
from signon.models import ROSTER_SCOPE, SERVICE_SCOPES, ConnectedService, ServiceSignIn, ServiceSwitchedOff

for model in (Application, AccessToken, Grant, IDToken, RefreshToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").split() if line.strip()]


class ConnectedServiceForm(forms.ModelForm):
    redirect_uris = forms.CharField(
        label="Redirect URIs",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One address a line. Leave empty for a service that only reads rosters (OneRoster scope): it "
        "gets a client ID and secret for the client-credentials grant.",
    )
    post_logout_redirect_uris = forms.CharField(
        label="After sign-out URIs", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    scope_choices = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(s, settings.OAUTH2_PROVIDER["SCOPES"][s]) for s in SERVICE_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the service may learn beyond who the person is.",
    )
    confidential = forms.BooleanField(
        label="Has a client secret",
        required=False,
        initial=True,
        help_text="On for a service with a server. Off for an app on a phone or in a browser (PKCE alone).",
    )

    class Meta:
        model = ConnectedService
        fields = ["name", "organisation", "roles"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].required = False  # a roster reader signs nobody in; clean() asks the others
        if not self.instance._state.adding:
            app = self.instance.application
            self.initial.update(
                redirect_uris="\n".join(_lines(app.redirect_uris)),
                post_logout_redirect_uris="\n".join(_lines(app.post_logout_redirect_uris)),
                scope_choices=self.instance.scopes.split(),
                confidential=app.client_type == Application.CLIENT_CONFIDENTIAL,
            )
            self.fields["confidential"].disabled = True

    def clean(self):
        cleaned = super().clean()
        if not _lines(cleaned.get("redirect_uris", "")):
            if ROSTER_SCOPE not in cleaned.get("scope_choices", []):
                self.add_error("redirect_uris", "Give at least one, or tick the OneRoster scope for a roster reader.")
            return cleaned
        if "roles" in cleaned and not cleaned["roles"]:
            self.add_error("roles", "Choose the roles whose people may sign in to it.")
        probe = Application(
            redirect_uris=" ".join(_lines(cleaned.get("redirect_uris", ""))),
            post_logout_redirect_uris=" ".join(_lines(cleaned.get("post_logout_redirect_uris", ""))),
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            client_type=Application.CLIENT_CONFIDENTIAL,
            algorithm=Application.RS256_ALGORITHM,
        )
        try:
            probe.clean()
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(ConnectedService)
class ConnectedServiceAdmin(SupportAdmin):
    form = ConnectedServiceForm
    list_display = ("name", "organisation", "client_id", "created_at")
    list_filter = ("organisation",)
    search_fields = ("name", "application__client_id")
    readonly_fields = ("client_id",)
    filter_horizontal = ("roles",)

    @admin.display(description="Client ID")
    def client_id(self, obj):
        return "Given when saved" if obj._state.adding else obj.application.client_id

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            app = obj.application
            app.name = data["name"][:255]
            app.redirect_uris = " ".join(_lines(data["redirect_uris"]))
            app.post_logout_redirect_uris = " ".join(_lines(data["post_logout_redirect_uris"]))
            app.save(update_fields=["name", "redirect_uris", "post_logout_redirect_uris"])
            obj.scopes = " ".join(data["scope_choices"])
            return super().save_model(request, obj, form, change)
        service, secret = services.service_register(
            actor=request.user,
            name=data["name"],
            organisation=data["organisation"],
            redirect_uris=_lines(data["redirect_uris"]),
            post_logout_redirect_uris=_lines(data["post_logout_redirect_uris"]),
            role_codes=[role.code for role in data["roles"]],
            scopes=data["scope_choices"],
            confidential=data["confidential"],
        )
        obj.pk, obj.application_id, obj.created_at = service.pk, service.application_id, service.created_at
        obj._state.adding, obj._state.db = False, "default"
        request.signon_secret = (service, secret)  # shown on the next page once, never stored in clear

    def response_add(self, request, obj, post_url_continue=None):
        service, secret = request.signon_secret
        return TemplateResponse(
            request,
            "signon/admin_service_secret.html",
            {
                **self.admin_site.each_context(request),
                "service": service,
                "client_id": service.application.client_id,
                "secret": secret,
                "title": f"{service.name} is registered",
            },
        )


@admin.register(ServiceSwitchedOff)
class ServiceSwitchedOffAdmin(ReadOnlySupportAdmin):
    """Which school switched which service off: a Centre Admin's choice, changed on their school's page."""

    list_display = ("service", "school", "switched_off_at", "switched_off_by")
    list_filter = ("school",)


@admin.register(ServiceSignIn)
class ServiceSignInAdmin(ReadOnlySupportAdmin):
    list_display = ("account", "service", "first_at", "last_at", "signed_out_at")
    list_filter = ("service",)
    search_fields = ("account__username",)
