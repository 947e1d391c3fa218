"""Resolves the school named in the URL and runs the request inside its scope.

A school the user does not belong to answers exactly like a school that does not exist (404).
Requests outside /s/<school_slug>/ run with no school in scope, so any school-owned query there
raises rather than leaking rows.
"""

from contextlib import contextmanager

from django.http import Http404
from django.urls import Resolver404, resolve
from django.utils.functional import SimpleLazyObject
from django_scopes import scope
from django_scopes.state import state as scope_state

from tenancy.models import School
from tenancy.selectors import school_for_user


class SchoolScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.school = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        slug = match.kwargs.get("school_slug") if match else None
        if slug is None:
            with no_school_in_scope():
                return self.get_response(request)
        school = school_for_user(request.user, slug)
        if school is None:
            # Rendered by the normal 404 handler, which reads no school-owned data.
            raise Http404("No such school.")
        request.school = school
        request.school_perms = SimpleLazyObject(lambda: _perms(request.user, school))
        with scope(school=school):
            return self.get_response(request)


def _perms(user, school: School):
    from accounts.selectors import permissions_for

    if not user.is_authenticated:
        return frozenset()
    return permissions_for(school=school, account=user)


@contextmanager
def no_school_in_scope():
    """Scoping on, and no school at all: any school-owned query raises ScopeError."""
    token = scope_state.set({"_enabled": True})
    try:
        yield
    finally:
        scope_state.reset(token)
