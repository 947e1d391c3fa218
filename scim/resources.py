"""The SCIM shapes Rollcall serves and reads, built with scim2-models: the published User schema (only what
Rollcall keeps, so a client that fills every attribute it is shown gets each one back), Rollcall's own User
extension, the discovery documents, and the reading of a request body into StaffFields.

Rollcall's extension (EXTENSION_URN) says where a new member of staff goes: `school`, the slug of one of the
organisation's schools (required when the organisation has several; set once, immutable after), and `roles`,
role codes the token may grant (none by default).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    Extension,
    Filter,
    Mutability,
    Patch,
    Required,
    Resource,
    ResourceType,
    SchemaExtension,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
    User,
)

CORE_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
EXTENSION_URN = "urn:rollcall:params:scim:schemas:extension:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_RESULTS = 200
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # current_user's meta, dropped at once


class RollcallUser(Extension):
    """Where the person joins: one school of the organisation, with roles the token may grant."""

    __schema__ = URN(EXTENSION_URN)

    school: Annotated[str | None, Mutability.immutable, Required.true] = None
    roles: Annotated[list[str] | None, Mutability.read_write] = None


class StaffName(ComplexAttribute):
    given_name: str | None = None
    family_name: str | None = None


class StaffEmail(ComplexAttribute):
    value: Annotated[str | None, Required.true] = None


class StaffUser(Resource):
    """What Rollcall keeps of a User, as its schema publishes it. Requests are read with scim2-models' full User
    (RequestUser): attributes Rollcall does not keep (titles, phone numbers) are accepted and left aside."""

    __schema__ = URN(CORE_URN)

    user_name: Annotated[str | None, Required.true, Uniqueness.server] = None
    name: StaffName | None = None
    display_name: Annotated[str | None, Mutability.read_only] = None
    # Staff need an email (PRODUCT.md); Rollcall keeps one.
    emails: Annotated[list[StaffEmail] | None, Required.true] = None
    # Required here so that a client always says it: a deactivated person is one Rollcall keeps, not forgets.
    active: Annotated[bool | None, Required.true] = None


RequestUser = User[RollcallUser]


def user_schema() -> dict:
    schema = StaffUser.to_schema()
    schema.name, schema.description = "User", "A member of staff of the organisation's schools"
    return _dump(schema)


def extension_schema(*, school_slugs: list[str], role_codes: list[str]) -> dict:
    """The extension, with the organisation's schools and the token's roles as canonical values, so a client
    offers (and a tester picks) only values Rollcall takes."""
    schema = RollcallUser.to_schema()
    schema.name, schema.description = "Rollcall", "Where a member of staff joins, and their roles there"
    for attribute in schema.attributes:
        attribute.canonical_values = school_slugs if attribute.name == "school" else role_codes
    return _dump(schema)


def schemas(*, school_slugs: list[str], role_codes: list[str], base: str) -> list[dict]:
    found = [user_schema(), extension_schema(school_slugs=school_slugs, role_codes=role_codes)]
    for schema in found:
        schema["meta"] = {"resourceType": "Schema", "location": f"{base}Schemas/{schema['id']}"}
    return found


def resource_type(*, base: str) -> dict:
    found = ResourceType(
        id="User",
        name="User",
        description="Staff",
        endpoint="/Users",
        schema_=CORE_URN,
        schema_extensions=[SchemaExtension(schema_=EXTENSION_URN, required=True)],
    )
    return _dump(found) | {"meta": {"resourceType": "ResourceType", "location": f"{base}ResourceTypes/User"}}


def service_provider_config(*, base: str, documentation: str) -> dict:
    found = ServiceProviderConfig(
        documentation_uri=documentation,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="The organisation's SCIM token, issued by Rollcall support: Authorization: Bearer ...",
                primary=True,
            )
        ],
    )
    return _dump(found) | {
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}ServiceProviderConfig"}
    }


def _dump(model) -> dict:
    return model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


@dataclass(frozen=True)
class StaffFields:
    """A User as Rollcall keeps it: what a POST, a PUT or a patched resource asks for."""

    user_name: str
    given_name: str
    family_name: str
    email: str
    active: bool
    external_id: str
    school: str | None  # a school's slug; None: not said
    roles: tuple[str, ...]


def staff_fields(user) -> StaffFields:
    """A RequestUser (validated, or patched) as StaffFields. The first email, or the primary one, is the email."""
    emails = user.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    extension = user[RollcallUser]
    return StaffFields(
        user_name=(user.user_name or "").strip(),
        given_name=((user.name.given_name if user.name else None) or "").strip(),
        family_name=((user.name.family_name if user.name else None) or "").strip(),
        email=(str(primary.value) if primary and primary.value else "").strip(),
        active=user.active is not False,
        external_id=(user.external_id or "").strip(),
        school=(extension.school or None) if extension else None,
        roles=tuple(dict.fromkeys(extension.roles or [])) if extension else (),
    )


def staff_user(
    *, id: str, fields: StaffFields, display_name: str, created, modified, location: str, school: str
) -> dict:
    """The answer for one User: only what Rollcall keeps, empty values left out."""
    body = {"schemas": [CORE_URN, EXTENSION_URN], "id": id}
    if fields.external_id:
        body["externalId"] = fields.external_id
    body["userName"] = fields.user_name
    name = {k: v for k, v in (("givenName", fields.given_name), ("familyName", fields.family_name)) if v}
    if name:
        body["name"] = name
    if display_name:
        body["displayName"] = display_name
    if fields.email:
        body["emails"] = [{"value": fields.email}]
    body["active"] = fields.active
    body[EXTENSION_URN] = {"school": school, **({"roles": list(fields.roles)} if fields.roles else {})}
    body["meta"] = {
        "resourceType": "User",
        "created": created.isoformat(),
        "lastModified": modified.isoformat(),
        "location": location,
    }
    return body


def current_user(fields: StaffFields, *, id: str) -> "RequestUser":
    """The resource as it stands, as the full model a PATCH is applied to."""
    body = staff_user(
        id=id, fields=fields, display_name="", created=_EPOCH, modified=_EPOCH, location="", school=fields.school or ""
    )
    body.pop("meta")
    return RequestUser.model_validate(body)
