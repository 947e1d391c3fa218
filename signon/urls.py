"""The provider's endpoints. One namespace, "oauth2_provider", as django-oauth-toolkit reverses its own names in
it (discovery names every endpoint); the discovery document sits at the site's root, as OIDC Discovery says."""

from django.urls import path, re_path
from oauth2_provider import views as dot

from signon import views

provider_urlpatterns = [
    re_path(r"^\.well-known/openid-configuration$", views.DiscoveryView.as_view(), name="oidc-connect-discovery-info"),
    path("o/authorize/", views.AuthorizeView.as_view(), name="authorize"),
    path("o/token/", dot.TokenView.as_view(), name="token"),
    path("o/revoke/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("o/jwks/", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("o/userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("o/logout/", views.LogoutView.as_view(), name="rp-initiated-logout"),
]

# Under /me/.
me_urlpatterns = [
    path("services/<uuid:service_id>/sign-out/", views.my_service_sign_out, name="signon_sign_out"),
]

# Under /s/<school_slug>/.
school_urlpatterns = [
    path("services/", views.school_services, name="signon_school_services"),
    path("services/<uuid:service_id>/switch/", views.school_service_switch, name="signon_school_service_switch"),
]
