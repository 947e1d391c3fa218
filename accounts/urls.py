from django.urls import path

from accounts import api, views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
]

# Under /s/<school_slug>/ (config/urls.py includes these in its school patterns).
school_urlpatterns = [
    path("users/", views.users_list, name="users_list"),
    path("users/add/", views.user_add, name="user_add"),
    path("users/<uuid:membership_id>/edit/", views.user_edit, name="user_edit"),
    path("users/<uuid:membership_id>/delete/", views.user_delete, name="user_delete"),
]

# Under /api/s/<school_slug>/.
api_urlpatterns = [
    path("accounts/", api.AccountListCreateApi.as_view(), name="api_accounts"),
    path("accounts/<uuid:membership_id>/", api.AccountDetailApi.as_view(), name="api_account"),
    path("accounts/<uuid:membership_id>/roles/", api.AccountRoleAssignApi.as_view(), name="api_account_roles"),
    path(
        "accounts/<uuid:membership_id>/roles/<slug:role_code>/",
        api.AccountRoleRemoveApi.as_view(),
        name="api_account_role",
    ),
]
