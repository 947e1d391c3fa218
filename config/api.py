"""Who may read the API's schema and docs: anyone in development, signed-in people and API tokens in production;
and how every API view words a service's refusal (exception_handler).

(The docs view is in config/urls.py: drf-spectacular imports this module while its views load.)
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, permissions, views
from rest_framework.response import Response


class SignedInUnlessDebug(permissions.BasePermission):
    """The schema maps every route and field of the API: in production only for someone who may use it.
    Read at request time, so tests (run with DEBUG off) see production's rule."""

    def has_permission(self, request, view):
        return settings.DEBUG or bool(request.user and request.user.is_authenticated)


# The answers every school operation can give besides its own, described once: {"detail": "..."} (not found,
# no permission, not signed in), and for bad input also "errors", the messages per field (exception_handler).
ERROR_SCHEMA = {
    "type": "object",
    "description": 'Why the request was refused: {"detail": "..."}; bad input adds "errors", the messages per field.',
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail"],
}
ERROR_ANSWERS = {
    "400": "Bad input: a field missing, of the wrong type or refused, with a message for each.",
    "401": "No valid session or API token.",
    "403": "Your roles at this school, or the token's, do not allow this.",
    "404": "No such school for you, or no such object in it.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation lists the 400, 401, 403 and 404 it can answer.

    400 where the request carries input (a body, query parameters) or changes something (a refused write);
    404 where the path names something (the school's slug, an object's id); 401 and 403 on every school route.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            codes = {"401", "403"} if "{school_slug}" in path else set()
            if "requestBody" in operation or method in WRITE_METHODS or any(p["in"] == "query" for p in parameters):
                codes.add("400")
            if "{" in path:
                codes.add("404")
            for code in sorted(codes):
                answer = operation["responses"].setdefault(code, {"description": ERROR_ANSWERS[code]})
                answer.setdefault("content", ref)  # a view's own 404 may say why, but not what body it sends
    return result


def exception_handler(exc, context):
    """Every API view's answer to a service's refusal, in one place (REST_FRAMEWORK's EXCEPTION_HANDLER).

    Services raise Django's ValidationError and PermissionDenied, which DRF does not know: a ValidationError
    becomes a 400 of {"detail": "all messages", "errors": {field: [messages]}} (messages with no field under
    "non_field_errors"), and PermissionDenied a 403 that keeps the service's reason (DRF's own handler drops it).
    Everything else is DRF's default handling.
    """
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": "; ".join(sum(errors.values(), [])), "errors": errors}, status=400)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        # A serializer's refusal in the same shape: its messages ("This field is required.") say which field.
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        detail = "; ".join(_messages(errors))
        return Response({"detail": detail, "errors": errors}, status=exc.status_code)
    return views.exception_handler(exc, context)


def _messages(errors, field: str = ""):
    """Each message of DRF's nested errors ({"contact_ids": {"0": ["..."]}}), named by where it is."""
    if isinstance(errors, dict):
        for name, value in errors.items():
            inner = name if name != "non_field_errors" else ""
            yield from _messages(value, f"{field} {inner}".strip() if field else inner)
    elif isinstance(errors, list):
        for value in errors:
            yield from _messages(value, field)
    else:
        yield f"{field}: {errors}" if field else str(errors)
