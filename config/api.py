"""Who may read the API's schema and docs: anyone in development, signed-in people and API tokens in production.

(The docs view is in config/urls.py: drf-spectacular imports this module while its views load.)
"""

from django.conf import settings
from rest_framework import permissions


class SignedInUnlessDebug(permissions.BasePermission):
    """The schema maps every route and field of the API: in production only for someone who may use it.
    Read at request time, so tests (run with DEBUG off) see production's rule."""

    def has_permission(self, request, view):
        return settings.DEBUG or bool(request.user and request.user.is_authenticated)
