"""The wire: scim2-client (with its pydantic models from scim2-models) talking to one service, every exchange
recorded for the service's log without its headers (the bearer token never leaves the Authorization header).

Errors are sorted once, here, into what the push does about them:
- Transient: the network, a 5xx or a 429. The run stops and is retried later with back-off.
- Refused (401, 403): the service refuses Rollcall itself (token wrong or expired). The run stops, failed.
- NotFound (404), Conflict (409): the caller decides (re-create, adopt).
- Rejected: any other 4xx, about this one user. The push notes it and goes on with the next.
"""

import json
from dataclasses import dataclass

import httpx2
from django.conf import settings
from scim2_client import RequestNetworkException, SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Email,
    Group,
    GroupMember,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    SCIMException,
    ScimProvider,
    SearchRequest,
    User,
)

from outbound.models import ScimTarget
from outbound.secrets import token_decrypt
from outbound.selectors import DesiredGroup, DesiredUser

BODY_LIMIT = 4000
PAGE_SIZE = 100


class PushError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Transient(PushError):
    pass


class Refused(PushError):
    pass


class NotFound(PushError):
    pass


class Conflict(PushError):
    pass


class Rejected(PushError):
    pass


@dataclass
class Exchange:
    method: str
    path: str
    status: int | None
    sent: str
    answered: str


def _trim(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "…"


class ScimConnection:
    """One service's SCIM endpoint. `recorded` collects the exchanges until the caller stores them."""

    def __init__(self, target: ScimTarget, *, transport=None):
        token = token_decrypt(target.token_encrypted)
        self.recorded: list[Exchange] = []
        self._base_path = httpx2.URL(target.endpoint.rstrip("/") + "/").path
        self.http = httpx2.Client(
            base_url=target.endpoint.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=settings.SCIM_PUSH_TIMEOUT_SECONDS,
            event_hooks={"response": [self._record]},
            transport=transport,
        )
        self.client = SyncSCIMClient(self.http, provider=ScimProvider(models=[User, Group]), raise_scim_errors=True)

    def close(self) -> None:
        self.http.close()

    def _record(self, response) -> None:
        response.read()
        request = response.request
        path = request.url.path
        if path.startswith(self._base_path):
            path = "/" + path[len(self._base_path) :]
        if request.url.query:
            path += "?" + request.url.query.decode()
        self.recorded.append(
            Exchange(
                method=request.method,
                path=path[:500],
                status=response.status_code,
                sent=_trim(request.content.decode("utf-8", "replace")),
                answered=_trim(_listed_summary(response) or response.text),
            )
        )

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RequestNetworkException as exc:
            self.recorded.append(Exchange(method=what, path="", status=None, sent="", answered="No answer: network"))
            raise Transient(f"The service could not be reached ({what}).") from exc
        except (SCIMException, SCIMClientException) as exc:
            status = getattr(getattr(exc, "source", None), "status_code", None) or getattr(exc, "status", None)
            raise _sorted(status, what, exc) from exc

    # --- Users -------------------------------------------------------------------------------------------

    def user_create(self, user: DesiredUser) -> str:
        created = self._call("create", self.client.create, _user_resource(user))
        return created.id

    def user_patch(self, remote_id: str, user: DesiredUser) -> None:
        operations = [
            PatchOperation(op="replace", path="userName", value=user.user_name),
            PatchOperation(op="replace", path="displayName", value=user.display_name),
            PatchOperation(op="replace", path="name", value=_name(user)),
            PatchOperation(op="replace", path="active", value=user.active),
        ]
        operations.append(
            PatchOperation(op="replace", path="emails", value=_emails(user))
            if user.email
            else PatchOperation(op="remove", path="emails")
        )
        self._call("change", self.client.modify, User, remote_id, PatchOp[User](operations=operations))

    def user_deactivate(self, remote_id: str) -> None:
        patch = PatchOp[User](operations=[PatchOperation(op="replace", path="active", value=False)])
        self._call("deactivate", self.client.modify, User, remote_id, patch)

    def user_delete(self, remote_id: str) -> None:
        self._call("delete", self.client.delete, User, remote_id)

    def user_find(self, account_id: str, user_name: str) -> User | None:
        """The user the service holds for this account: by externalId, else by userName (a create whose answer
        was lost, or a user made before Rollcall pushed)."""
        for query in (f'externalId eq "{account_id}"', f'userName eq "{_quoted(user_name)}"'):
            page = self._call("find", self.client.query, User, query_parameters=SearchRequest(filter=query, count=2))
            if page.resources:
                return page.resources[0]
        return None

    def users_list(self):
        """Every user the service holds, page by page (startIndex and count, RFC 7644 §3.4.2.4)."""
        start = 1
        while True:
            page: ListResponse = self._call(
                "list", self.client.query, User, query_parameters=SearchRequest(start_index=start, count=PAGE_SIZE)
            )
            resources = page.resources or []
            yield from resources
            start += len(resources)
            if not resources or start > (page.total_results or 0):
                return

    # --- Groups ------------------------------------------------------------------------------------------

    def group_create(self, group: DesiredGroup, member_ids: list[str]) -> str:
        created = self._call("create group", self.client.create, _group_resource(group, member_ids))
        return created.id

    def group_replace(self, remote_id: str, group: DesiredGroup, member_ids: list[str]) -> None:
        resource = _group_resource(group, member_ids)
        resource.id = remote_id
        self._call("change group", self.client.replace, resource)

    def group_delete(self, remote_id: str) -> None:
        self._call("delete group", self.client.delete, Group, remote_id)


def _listed_summary(response) -> str:
    """A list's answer is kept as its counts only: its pages name many people at once, so no one person's
    erasure could blank them (an answer about one user is kept with that account, and blanked with it)."""
    if response.request.method != "GET" or "ListResponse" not in response.text[:300]:
        return ""
    try:
        page = response.json()
    except ValueError:
        return ""
    keep = {k: page.get(k) for k in ("totalResults", "startIndex", "itemsPerPage")}
    return json.dumps({**keep, "Resources": f"{len(page.get('Resources') or [])} not kept in the log"})


def _sorted(status: int | None, what: str, exc: Exception) -> PushError:
    detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
    if status is None or status >= 500 or status == 429:
        return Transient(f"The service failed to {what} ({status or 'no answer'}).", status)
    if status in (401, 403):
        return Refused(f"The service refused Rollcall's SCIM token ({status}): check the token.", status)
    if status == 404:
        return NotFound(f"The service does not hold it ({what}).", status)
    if status == 409:
        return Conflict(f"The service already holds it ({what}).", status)
    return Rejected(f"The service refused to {what} ({status}): {detail}"[:500], status)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _name(user: DesiredUser) -> Name:
    return Name(given_name=user.given_name or None, family_name=user.family_name or None, formatted=user.display_name)


def _emails(user: DesiredUser) -> list[Email]:
    return [Email(value=user.email, primary=True, type="work")]


def _user_resource(user: DesiredUser) -> User:
    return User(
        user_name=user.user_name,
        external_id=user.account_id,
        display_name=user.display_name,
        name=_name(user),
        emails=_emails(user) if user.email else None,
        active=user.active,
    )


def _group_resource(group: DesiredGroup, member_ids: list[str]) -> Group:
    return Group(
        display_name=group.display_name,
        external_id=group.key,
        members=[GroupMember(value=remote_id, type="User") for remote_id in sorted(member_ids)] or None,
    )


def user_attributes(user: User) -> dict:
    """A user the service holds, in DesiredUser.attributes()'s shape, for a reconciliation's comparison."""
    emails = user.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    return {
        "userName": user.user_name or "",
        "givenName": (user.name.given_name if user.name else None) or "",
        "familyName": (user.name.family_name if user.name else None) or "",
        "email": (str(primary.value) if primary and primary.value else "").lower(),
        "active": bool(user.active) if user.active is not None else True,
    }


def dumped(value) -> str:
    return json.dumps(value, sort_keys=True)
