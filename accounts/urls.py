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
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<uuid:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
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
    path("api-tokens/", api.ApiTokenListCreateApi.as_view(), name="api_api_tokens"),
    path("api-tokens/<uuid:token_id>/", api.ApiTokenRevokeApi.as_view(), name="api_api_token"),
]
