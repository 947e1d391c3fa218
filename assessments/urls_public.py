"""Pages anyone may open without signing in."""

from django.urls import path

from assessments import views

urlpatterns = [
    path("<str:code>/", views.certificate_verify, name="certificate_verify"),
]
