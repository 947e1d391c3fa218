from django.urls import path

from pages import trust

urlpatterns = [
    path("", trust.trust_console, name="trust_console"),
    path("people/", trust.trust_people, name="trust_people"),
    path("viewers/", trust.trust_viewers, name="trust_viewers"),
    path("viewers/add/", trust.trust_viewer_add, name="trust_viewer_add"),
    path("viewers/remove/", trust.trust_viewer_remove, name="trust_viewer_remove"),
]
