"""Scoping for requests, and the request's log context.

accounts.middleware.SchoolScopeMiddleware resolves the school in the URL (it needs the memberships and the
permission table, both above tenancy); requests outside /s/<school_slug>/ run in no_school_in_scope(), so
any school-owned query there raises rather than leaking rows.
"""

import re
import time
import uuid
from contextlib import contextmanager

import structlog
from django_scopes import scopes_disabled
from django_scopes.state import state as scope_state


@contextmanager
def no_school_in_scope():
    """Scoping on, and no school at all: any school-owned query raises ScopeError."""
    token = scope_state.set({"_enabled": True})
    try:
        yield
    finally:
        scope_state.reset(token)


class SupportAdminMiddleware:
    """Support staff's Django admin sees every school, scoping switched off for the whole request (on the
    allow-list of tests/tenancy/test_scopes_allow_list.py). Anyone else reaching /admin/ keeps the
    no-school scope and Django sends them to sign in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff and request.path_info.startswith(_admin_prefix()):
            with scopes_disabled():
                return self.get_response(request)
        return self.get_response(request)


def _admin_prefix() -> str:
    from django.urls import reverse

    return reverse("admin:index")


# An incoming X-Request-ID is kept only if it looks like an id: anything else could forge log lines.
_REQUEST_ID = re.compile(r"[\w.:+/=-]{1,128}", re.ASCII)
_request_log = structlog.stdlib.get_logger("rollcall.request")


class RequestIdMiddleware:
    """First in MIDDLEWARE: gives each request an id (the caller's X-Request-ID, or a new one), binds
    it to every log line written while the request runs, returns it as a response header, and logs
    one line for the request. That line names the URL pattern, never the path, which can hold a
    password-reset key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        with structlog.contextvars.bound_contextvars(request_id=request.request_id):
            response = self.get_response(request)
            # Kept for Django's own line about a 4xx response, written after this returns.
            request.log_context = {"request_id": request.request_id, **_request_context(request)}
            _request_log.info(
                "request",
                method=request.method,
                route=getattr(request.resolver_match, "route", None),
                status=response.status_code,
                duration_ms=round((time.monotonic() - started) * 1000),
                **request.log_context,
            )
        response.headers["X-Request-ID"] = request.request_id
        return response


class RequestContextMiddleware:
    """After SchoolScopeMiddleware: adds the school and the signed-in account to the log context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with structlog.contextvars.bound_contextvars(**_request_context(request)):
            return self.get_response(request)


def _request_context(request) -> dict[str, str]:
    context = {}
    school = getattr(request, "school", None)
    if school is not None:
        context["school"] = school.slug
    user = getattr(request, "user", None)
    token = getattr(request, "api_token", None)
    if user is not None and user.is_authenticated:
        context["user_id"] = str(user.pk)
    elif token is not None:
        context["user_id"] = str(token.account_id)
    return context
