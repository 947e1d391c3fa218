"""OneRoster 1.2 rostering REST, read endpoints: one view per kind of collection and one per record.

Who may read: a connected service holding a client-credentials access token with the roster scope; it reads
its own organisation's schools (rostering.selectors). Answers and errors follow the REST binding: the
collection under its plural name, one record under its singular, paging in X-Total-Count and Link headers, and
every refusal as an imsx status-info body (401 no or bad token, 403 no roster scope, 404 unknown record, 400 a
bad parameter)."""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from oauth2_provider.oauth2_backends import get_oauthlib_core

from rostering import selectors
from rostering.query import RosterError, collection, select_fields, wanted_fields
from signon.models import ROSTER_SCOPE
from signon.selectors import service_for_application

PREFIX = "/ims/oneroster/rostering/v1p2"


def status_info(status: int, code_minor: str, description: str) -> JsonResponse:
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        },
    }
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="oneroster", error="invalid_token"'
    return response


def _service(request):
    """The connected service the request's token was given to, or a RosterError."""
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        raise RosterError(401, "unauthorisedrequest", "An access token is required (OAuth 2 client credentials).")
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        raise RosterError(401, "unauthorisedrequest", "The access token is not valid or has expired.")
    token = oauth_request.access_token
    if token.user_id is not None or not token.allow_scopes([ROSTER_SCOPE]):
        raise RosterError(403, "forbidden", f"The token needs the {ROSTER_SCOPE} scope, from client credentials.")
    service = service_for_application(token.application)
    if service is None:
        raise RosterError(403, "forbidden", "The token's client is not a connected service.")
    return service


def _base(request) -> str:
    return request.build_absolute_uri(PREFIX)


def _links(request, page) -> str:
    def at(offset: int) -> str:
        params = request.GET.copy()
        params["offset"], params["limit"] = str(offset), str(page.limit)
        return f"<{request.build_absolute_uri(request.path)}?{urlencode(sorted(params.items()))}>"

    last = max(0, (page.total - 1) // page.limit * page.limit)
    links = [f'{at(0)}; rel="first"', f'{at(last)}; rel="last"']
    if page.offset + page.limit < page.total:
        links.append(f'{at(page.offset + page.limit)}; rel="next"')
    if page.offset > 0:
        links.append(f'{at(max(0, page.offset - page.limit))}; rel="prev"')
    return ", ".join(links)


def _answer(read):
    """Runs the read; a RosterError becomes its status-info answer."""

    def view(request, **kwargs):
        try:
            return read(request, _service(request), **kwargs)
        except RosterError as exc:
            return status_info(exc.status, exc.code_minor, exc.description)

    view.__name__ = read.__name__
    view.__doc__ = read.__doc__
    return require_GET(view)


def _records(kind: str, request, service) -> tuple[list[dict], set[str], tuple]:
    if kind == "users":
        return (
            selectors.roster_users(service=service, base=_base(request)),
            selectors.USER_SIMPLE,
            selectors.USER_FIELDS,
        )
    return selectors.roster_orgs(service=service, base=_base(request)), selectors.ORG_SIMPLE, selectors.ORG_FIELDS


def _list(kind: str, plural: str, keep=lambda record: True):
    def read(request, service, **kwargs):
        records, simple, fields = _records(kind, request, service)
        records = [r for r in records if keep(r, **kwargs)]
        page = collection(records, request.GET, filterable=simple, known=set(fields))
        response = JsonResponse({plural: [selectors.as_served(r) for r in page.records]})
        response["X-Total-Count"] = str(page.total)
        response["Link"] = _links(request, page)
        return response

    read.__name__ = f"{plural}_list"
    return _answer(read)


def _one(kind: str, singular: str, keep=lambda record: True):
    def read(request, service, sourced_id):
        records, _simple, fields = _records(kind, request, service)
        found = next((r for r in records if r["sourcedId"] == sourced_id and keep(r)), None)
        if found is None:
            raise RosterError(404, "unknownobject", f"No {singular} {sourced_id} here.")
        return JsonResponse(
            {singular: selectors.as_served(select_fields(found, wanted_fields(request.GET, set(fields))))}
        )

    read.__name__ = f"{singular}_detail"
    return _answer(read)


def _empty(plural: str):
    """A collection Rollcall keeps none of (classes, enrollments, sessions): an empty page, not an error, so a
    client walking every endpoint carries on."""

    def read(request, service):
        response = JsonResponse({plural: []})
        response["X-Total-Count"] = "0"
        return response

    read.__name__ = f"{plural}_list"
    return _answer(read)


def _is(role):
    return lambda record, **kwargs: record.get("role") == role


def _at_school(role):
    def keep(record, school_id):
        return any(r["role"] == role and r["org"]["sourcedId"] == school_id for r in record["roles"])

    return keep


users_list = _list("users", "users")
user_detail = _one("users", "user")
students_list = _list("users", "users", _is("student"))
student_detail = _one("users", "user", _is("student"))
teachers_list = _list("users", "users", _is("teacher"))
teacher_detail = _one("users", "user", _is("teacher"))
orgs_list = _list("orgs", "orgs")
org_detail = _one("orgs", "org")
schools_list = _list("orgs", "orgs", lambda record: record["type"] == "school")
school_detail = _one("orgs", "org", lambda record: record["type"] == "school")
school_students = _list("users", "users", _at_school("student"))
school_teachers = _list("users", "users", _at_school("teacher"))
classes_list = _empty("classes")
enrollments_list = _empty("enrollments")
academic_sessions_list = _empty("academicSessions")
