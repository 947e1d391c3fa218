from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts.permissions import OrgPerm, Perm


def require_perm(*perms: Perm):
    """A school view that needs every one of `perms` at the school in the URL (else 403)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            held = getattr(request, "school_perms", frozenset())
            if request.school is None or any(p not in held for p in perms):
                raise PermissionDenied("Your roles at this school do not allow this.")
            return view(request, *args, **kwargs)

        wrapper.required_perms = perms
        return wrapper

    return decorate


def require_org_perm(*perms: OrgPerm):
    """A trust console view that needs every one of `perms` over the organisation in the URL (else 403)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            held = getattr(request, "organisation_perms", frozenset())
            if getattr(request, "organisation", None) is None or any(p not in held for p in perms):
                raise PermissionDenied("Your role in this organisation does not allow this.")
            return view(request, *args, **kwargs)

        wrapper.required_perms = perms
        return wrapper

    return decorate
