from django.urls import path

from outbound import views

# Under /s/<school_slug>/.
school_urlpatterns = [
    path("services/accounts-pushed/", views.school_pushes, name="outbound_school_pushes"),
]
