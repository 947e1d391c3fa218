from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions

from accounts import urls as account_urls
from accounts import views as account_views
from outbound import urls as outbound_urls
from pages import urls as pages_urls
from pages import views as pages_views
from provisioning.contacts import urls as contacts_urls
from provisioning.sync import urls as sync_urls
from provisioning.upload import urls as upload_urls
from signon import urls as signon_urls


def health(request):
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    """A path nothing answers: JSON for an API client (a malformed id in /api/... matches no route), the
    page for a person."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI, as a page plus its start-up script as a file of its own (the CSP allows no inline script).
    Who may see it: config.api.SignedInUnlessDebug. A signed-out visitor is sent to sign in and back."""

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


# Support staff sign in through allauth too, so its rate limits protect the admin.
admin.site.login = login_required(admin.site.login)
admin.site.site_header = "Rollcall support"

# School screens, under /s/<school_slug>/ — one include per app.
school_patterns = [
    path("", include("pages.urls")),
    path("", include(account_urls.school_urlpatterns)),
    path("", include("provisioning.upload.urls")),
    path("", include("provisioning.sync.urls")),
    path("account-manager/", include("provisioning.contacts.urls")),
    path("assessments/", include("assessments.urls")),
    path("", include(signon_urls.school_urlpatterns)),
    path("", include(outbound_urls.school_urlpatterns)),
]

# School API, under /api/s/<school_slug>/ — one include per app's api_urlpatterns.
api_school_patterns = [
    path("", include(pages_urls.api_urlpatterns)),
    path("", include(account_urls.api_urlpatterns)),
    path("", include(upload_urls.api_urlpatterns)),
    path("", include(contacts_urls.api_urlpatterns)),
    path("", include(sync_urls.api_urlpatterns)),
    path("assessments/", include("assessments.urls_api")),
]

urlpatterns = [
    path("", pages_views.home, name="home"),
    path("health/", health, name="health"),
    path("switch/", pages_views.switch_school, name="switch_school"),
    path("welcome/<str:token>/", account_views.set_password_from_link, name="set_password_from_link"),
    path("verify/", include("assessments.urls_public")),
    path("accounts/", include("allauth.urls")),
    path("me/", include("accounts.urls")),
    path("me/", include(signon_urls.me_urlpatterns)),
    path("", include((signon_urls.provider_urlpatterns, "oauth2_provider"))),
    path("admin/", admin.site.urls),
    path("support/", include(sync_urls.support_urlpatterns)),
    path("api/support/", include(sync_urls.support_api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("s/<slug:school_slug>/", include(school_patterns)),
    # The trust console: an organisation's schools, for its Trust Admins and Trust Viewers.
    path("t/<slug:org_slug>/", include("pages.trust_urls")),
    path("api/s/<slug:school_slug>/", include(api_school_patterns)),
    # SCIM 2.0 in: an organisation's identity provider, by its bearer token (scim/views.py).
    path("scim/v2/", include("scim.urls")),
    path("ims/oneroster/rostering/v1p2/", include("rostering.urls")),
]
