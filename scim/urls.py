from django.urls import path, re_path

from scim import views

app_name = "scim"

urlpatterns = [
    path("", views.NotFoundView.as_view(), name="root"),
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/.search", views.UsersSearchView.as_view(), name="users_search"),
    path(".search", views.SearchAllView.as_view(), name="search"),
    path("Users/<str:user_id>", views.UserView.as_view(), name="user"),
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="service_provider_config"),
    path("ResourceTypes", views.ResourceTypesView.as_view(), name="resource_types"),
    path("ResourceTypes/<str:name>", views.ResourceTypesView.as_view(), name="resource_type"),
    path("Schemas", views.SchemasView.as_view(), name="schemas"),
    path("Schemas/<str:urn>", views.SchemasView.as_view(), name="schema"),
    re_path(r"^(?P<rest>.+)$", views.NotFoundView.as_view(), name="not_found"),
]
