"""/scim/v2/: SCIM 2.0 (RFC 7643, 7644) for an organisation's identity provider, authenticated by its bearer token.

The token names the organisation: the base URL is the same for every organisation, and nothing outside the
token's organisation is found. Every answer is SCIM JSON, a refusal included (status, scimType, detail),
never a page or a 500 for something the client sent.
"""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError as PydanticError
from scim2_models import Context, PatchOp, SCIMException

from scim import resources, selectors, services
from scim.resources import RequestUser, StaffFields

CONTENT_TYPE = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
DEFAULT_COUNT = 100


class ScimProblem(Exception):
    def __init__(self, status: int, detail: str, scim_type: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def answer(body: dict | None, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body) if body is not None else b"", status=status, content_type=CONTENT_TYPE if body else None
    )
    for name, value in headers.items():
        response[name] = value
    return response


def error(status: int, detail: str, scim_type: str = "") -> HttpResponse:
    body = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return answer(body, status)


@method_decorator(csrf_exempt, name="dispatch")  # a bearer token, never a cookie: nothing to forge
class ScimView(View):
    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch(self, request, *args, **kwargs):
        self.token = selectors.scim_token_for(request.META.get("HTTP_AUTHORIZATION", ""))
        if self.token is None:
            response = error(401, "Send the organisation's SCIM token: Authorization: Bearer rc_scim_...")
            response["WWW-Authenticate"] = 'Bearer realm="Rollcall SCIM"'
            return response
        self.organisation = self.token.organisation
        try:
            return super().dispatch(request, *args, **kwargs)
        except ScimProblem as exc:
            return error(exc.status, exc.detail, exc.scim_type)
        except SCIMException as exc:
            return error(exc.status, exc.detail, exc.scim_type)
        except PydanticError as exc:
            return error(400, _pydantic_detail(exc), "invalidValue")
        except PermissionDenied as exc:
            return error(403, str(exc) or "This token may not do that.")
        except IntegrityError:
            # Two requests for one new username or person at once: the database's unique constraint decided.
            return error(409, "Someone with this userName was created at the same moment.", "uniqueness")
        except ValidationError as exc:
            scim_type = exc.code if getattr(exc, "code", None) in (services.UNIQUENESS, services.MUTABILITY) else ""
            status = 409 if scim_type == services.UNIQUENESS else 400
            return error(status, " ".join(exc.messages), scim_type or "invalidValue")

    def http_method_not_allowed(self, request, *args, **kwargs):
        allowed = [m.upper() for m in self.http_method_names if hasattr(self, m)]
        response = error(405, f"{request.method} is not supported here.")
        response["Allow"] = ", ".join(allowed)
        return response

    def base(self) -> str:
        return self.request.build_absolute_uri(reverse("scim:root"))

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScimProblem(400, "The body is not JSON.", "invalidSyntax") from exc
        if not isinstance(data, dict):
            raise ScimProblem(400, "The body must be a JSON object.", "invalidSyntax")
        return data

    def user_body(self, link, fields: StaffFields | None = None) -> dict:
        membership = services.staff_membership(link) if fields is None else None
        fields = fields or _fields_of(link, membership)
        return resources.staff_user(
            id=str(link.pk),
            fields=fields,
            display_name=link.account.full_name if link.account.given_name or link.account.family_name else "",
            created=link.created_at,
            modified=max(link.updated_at, membership.updated_at) if membership else link.updated_at,
            location=f"{self.base()}Users/{link.pk}",
            school=link.school.slug,
        )


def _fields_of(link, membership) -> StaffFields:
    account = link.account
    roles = sorted(ra.role_id for ra in membership.role_assignments.all()) if membership else []
    live = membership is not None and membership.status == membership.Status.ACTIVE
    return StaffFields(
        user_name=account.username,
        given_name=account.given_name,
        family_name=account.family_name,
        email=account.email,
        active=live and not account.locked_out,
        external_id=link.external_id,
        school=link.school.slug,
        roles=tuple(roles),
    )


def _pydantic_detail(exc: PydanticError) -> str:
    parts = []
    for problem in exc.errors()[:5]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if not isinstance(p, int))
        parts.append(f"{where}: {problem.get('msg', 'invalid')}" if where else problem.get("msg", "invalid"))
    return "; ".join(parts) or "Invalid value."


def _request_user(data: dict, context: Context):
    """The body as scim2-models' full User with Rollcall's extension; other extensions are left aside."""
    known = {resources.CORE_URN, resources.EXTENSION_URN}
    data = {k: v for k, v in data.items() if not k.lower().startswith("urn:") or k in known}
    if isinstance(data.get("schemas"), list):
        data["schemas"] = [s for s in data["schemas"] if s in known] or [resources.CORE_URN]
    return RequestUser.model_validate(data, scim_ctx=context)


def _paths(text) -> list[tuple[str, str | None]]:
    """`attributes` / `excludedAttributes` (a comma-separated text, or a list) as lower-case (attribute,
    sub-attribute) pairs; the extension's attributes are sub-attributes of its URN."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    return [_path(item) for item in (str(i).strip().lower() for i in items) if item]


def _path(item: str) -> tuple[str, str | None]:
    extension, core = resources.EXTENSION_URN.lower(), resources.CORE_URN.lower()
    if item == extension or item.startswith(extension + ":"):
        return extension, item[len(extension) + 1 :] or None
    top, _, sub = item.removeprefix(core + ":").partition(".")
    return top, sub or None


ALWAYS = {"schemas", "id"}


def project(body: dict, *, attributes=None, excluded=None) -> dict:
    """RFC 7644 §3.9: only the attributes asked for (and id), or all but the excluded ones."""
    wanted, unwanted = _paths(attributes), _paths(excluded)
    if not wanted and not unwanted:
        return body
    out = {}
    for key, value in body.items():
        name = key.lower()
        if name in ALWAYS:
            out[key] = value
            continue
        if wanted:
            subs = [sub for top, sub in wanted if top == name]
            if not subs:
                continue
            if None in subs or not isinstance(value, dict):
                out[key] = value
            else:
                kept = {k: v for k, v in value.items() if k.lower() in subs}
                if kept:
                    out[key] = kept
            continue
        subs = [sub for top, sub in unwanted if top == name]
        if None in subs:
            continue
        if subs and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k.lower() not in subs}
        out[key] = value
    return out


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError as exc:
        raise ScimProblem(400, f"{value!r} is not a number.", "invalidValue") from exc


class UsersView(ScimView):
    def get(self, request):
        return self.listed(request.GET)

    def listed(self, query):
        try:
            lookup = selectors.filter_parse(query.get("filter"))
        except ValueError as exc:
            raise ScimProblem(400, str(exc), "invalidFilter") from exc
        start = max(_int(query.get("startIndex"), 1), 1)
        count = min(max(_int(query.get("count"), DEFAULT_COUNT), 0), resources.MAX_RESULTS)
        found = selectors.scim_users(organisation=self.organisation, lookup=lookup)
        total = found.count()
        page = list(found[start - 1 : start - 1 + count]) if count else []
        memberships = selectors.staff_memberships(links=page)
        shown = {"attributes": query.get("attributes"), "excluded": query.get("excludedAttributes")}
        users = [
            project(self.user_body(link, _fields_of(link, memberships.get((link.school_id, link.account_id)))), **shown)
            for link in page
        ]
        return answer(
            {
                "schemas": [resources.LIST_URN],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(users),
                "Resources": users,
            }
        )

    def post(self, request):
        user = _request_user(self.body(), Context.RESOURCE_CREATION_REQUEST)
        link = services.scim_user_create(token=self.token, fields=resources.staff_fields(user))
        body = self.user_body(link)
        return answer(body, 201, Location=body["meta"]["location"])


class UsersSearchView(UsersView):
    """POST /Users/.search (RFC 7644 §3.4.3): the query in a body rather than in the URL."""

    http_method_names = ["post"]

    def post(self, request):
        return self.listed(self.body())


class UserView(ScimView):
    def link(self, user_id):
        link = selectors.scim_user_get(organisation=self.organisation, user_id=user_id)
        if link is None:
            raise ScimProblem(404, "No such User.")
        return link

    def get(self, request, user_id):
        shown = {"attributes": request.GET.get("attributes"), "excluded": request.GET.get("excludedAttributes")}
        return answer(project(self.user_body(self.link(user_id)), **shown))

    def put(self, request, user_id):
        link = self.link(user_id)
        user = _request_user(self.body(), Context.RESOURCE_REPLACEMENT_REQUEST)
        services.scim_user_change(token=self.token, link=link, fields=resources.staff_fields(user))
        return answer(self.user_body(self.link(user_id)))

    def patch(self, request, user_id):
        link = self.link(user_id)
        patch = PatchOp[RequestUser].model_validate(self.body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        current = _fields_of(link, services.staff_membership(link))
        user = resources.current_user(current, id=str(link.pk))
        patch.patch(user)
        services.scim_user_change(token=self.token, link=link, fields=resources.staff_fields(user))
        return answer(self.user_body(self.link(user_id)))

    def delete(self, request, user_id):
        services.scim_user_remove(token=self.token, link=self.link(user_id))
        return answer(None, 204)


class ServiceProviderConfigView(ScimView):
    def get(self, request):
        docs = request.build_absolute_uri("/") + "#scim"
        return answer(resources.service_provider_config(base=self.base(), documentation=docs))


class ResourceTypesView(ScimView):
    def get(self, request, name=None):
        found = [resources.resource_type(base=self.base())]
        return _one_or_list(found, name, "ResourceType")


class SchemasView(ScimView):
    def get(self, request, urn=None):
        schools = [school.slug for school in selectors.organisation_schools(organisation=self.organisation)]
        found = resources.schemas(school_slugs=schools, role_codes=list(self.token.role_codes), base=self.base())
        return _one_or_list(found, urn, "Schema")


def _one_or_list(found: list[dict], wanted: str | None, kind: str) -> HttpResponse:
    if wanted is not None:
        for item in found:
            if item["id"] == wanted:
                return answer(item)
        raise ScimProblem(404, f"No such {kind}.")
    return answer(
        {
            "schemas": [resources.LIST_URN],
            "totalResults": len(found),
            "startIndex": 1,
            "itemsPerPage": len(found),
            "Resources": found,
        }
    )


class SearchAllView(ScimView):
    http_method_names = ["post"]

    def post(self, request):
        raise ScimProblem(501, "Search Users at /Users/.search: Rollcall serves no other resource type.")


class NotFoundView(ScimView):
    """Any other path under /scim/v2/: a SCIM 404, not the site's page."""

    def get(self, request, rest=""):
        raise ScimProblem(404, "No such endpoint.")

    post = put = patch = delete = get
