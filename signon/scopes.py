"""Which scopes a service may ask for: the ones support gave it (openid always), not every scope there is."""

from oauth2_provider.scopes import SettingsScopes

from signon.selectors import service_for_application


class ServiceScopes(SettingsScopes):
    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        every = super().get_available_scopes(application, request, *args, **kwargs)
        if application is None:
            return [scope for scope in every if scope != "introspection"]  # discovery's scopes_supported
        service = service_for_application(application)
        allowed = service.scope_list if service else ["openid"]
        return [scope for scope in every if scope in allowed]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return ["openid"]
