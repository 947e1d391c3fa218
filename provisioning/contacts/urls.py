from django.urls import path

from provisioning.contacts import api, views

urlpatterns = [
    path("", views.account_manager, name="account_manager"),
    path("confirm/", views.account_manager_confirm, name="account_manager_confirm"),
    path("revoke/", views.account_manager_revoke, name="account_manager_revoke"),
    path("welcome-email/", views.account_manager_welcome, name="account_manager_welcome"),
    path("starter-codes/", views.account_manager_starter_codes, name="account_manager_starter_codes"),
]

api_urlpatterns = [
    path("contacts/", api.ContactListApi.as_view(), name="api_contact_list"),
    path("contacts/revoke/", api.ContactRevokeStartApi.as_view(), name="api_contact_revoke"),
    path("contacts/welcome-email/", api.ContactWelcomeEmailStartApi.as_view(), name="api_contact_welcome_email"),
]
