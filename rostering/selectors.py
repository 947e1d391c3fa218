"""What a roster-reading service sees: its organisation's schools (those that did not switch it off) and the
people with a current place there, as OneRoster 1.2 rostering records.

- A user's sourcedId is the account's id: one person, one user, with one role per place (a teacher who is a
  parent at the same or another school has two roles), the same id the sign-on gives as `sub`.
- Only active places are served: a leaver is simply absent, which a bulk reader takes as leaving.
- Roles: a student's place is `student`, a staff place `teacher`, a contact's `parent` or `guardian` (as the
  MIS recorded the relationship). The first place (student, then staff, then contact; then by school) is the
  primary role and gives primaryOrg, identifier (its MIS code) and grades.
- Agents: a student's linked contacts, and a contact's linked students, as OneRoster links them both ways.
- Orgs: the organisation as a `district`, each school as a `school` under it, identifier its URN.

Each school is read inside its own scope (a handful of queries a school, whatever its size).
"""

from datetime import UTC

from django.db.models import QuerySet
from django.utils import timezone
from django_scopes import scope

from accounts.models import ContactLink, Membership, PersonType
from signon.models import ConnectedService, ServiceSwitchedOff
from tenancy.models import Organisation, School

USER_FIELDS = (
    "sourcedId", "status", "dateLastModified", "metadata", "username", "userIds", "enabledUser", "givenName",
    "familyName", "middleName", "roles", "identifier", "email", "agents", "grades", "primaryOrg",
)  # fmt: skip
# Fields whose value is text (or a list of text): what filter and sort accept.
USER_SIMPLE = {"sourcedId", "status", "dateLastModified", "username", "enabledUser", "givenName", "familyName",
               "middleName", "identifier", "email", "grades", "role"}  # fmt: skip
ORG_FIELDS = ("sourcedId", "status", "dateLastModified", "metadata", "name", "type", "identifier", "parent",
              "children")  # fmt: skip
ORG_SIMPLE = {"sourcedId", "status", "dateLastModified", "name", "type", "identifier"}
_KIND_ORDER = {PersonType.STUDENT: 0, PersonType.STAFF: 1, PersonType.CONTACT: 2}
_RELATIONSHIPS = {"parent", "guardian"}


def service_schools(service: ConnectedService) -> list[School]:
    """The schools whose rosters the service may read: its organisation's, less those that switched it off. A
    service support shares with every organisation reads no organisation's rosters."""
    if service.organisation_id is None:
        return []
    schools = list(
        School.objects.filter(organisation_id=service.organisation_id, is_active=True)
        .select_related("organisation")
        .order_by("name", "pk")
    )
    with scope(school=schools):  # the organisation's schools, all of them: a scope over that list
        off = set(ServiceSwitchedOff.objects.filter(service=service).values_list("school_id", flat=True))
    return [school for school in schools if school.pk not in off]


def _iso(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ref(base: str, kind: str, sourced_id) -> dict:
    path = "users" if kind == "user" else "orgs"
    return {"href": f"{base}/{path}/{sourced_id}", "sourcedId": str(sourced_id), "type": kind}


_PLACE_COLUMNS = ("pk", "account_id", "person_type", "mis_code", "year_group", "updated_at", "account__username",
                  "account__given_name", "account__family_name", "account__email", "account__is_active",
                  "account__approved", "account__locked_out")  # fmt: skip


def _places(school: School) -> tuple[QuerySet, dict]:
    """The school's active places (rows of plain values with their accounts': a roster is read whole, and
    model instances cost several times as much) and, per place, the accounts it is linked to."""
    places = (
        Membership.objects.filter(school=school, status=Membership.Status.ACTIVE, account__deleted_at__isnull=True)
        .order_by("pk")
        .values_list(*_PLACE_COLUMNS, named=True)
    )
    links: dict = {}
    # Both ends current: an agent is always a user this service is also given.
    current = Membership.Status.ACTIVE
    rows = ContactLink.objects.filter(school=school, contact__status=current, student__status=current).values_list(
        "contact_id", "student_id", "contact__account_id", "student__account_id", "relationship"
    )
    for contact, student, contact_account, student_account, relationship in rows:
        links.setdefault(contact, []).append((student_account, ""))
        links.setdefault(student, []).append((contact_account, relationship))
    return places, links


def _role(person_type: str, relationships: list[str]) -> str:
    if person_type == PersonType.STUDENT:
        return "student"
    if person_type == PersonType.STAFF:
        return "teacher"
    named = next((r.strip().lower() for r in relationships if r.strip().lower() in _RELATIONSHIPS), "")
    return named or "parent"


def roster_users(*, service: ConnectedService, base: str) -> list[dict]:
    """Every person with a current place at the service's schools, one OneRoster user each."""
    people: dict = {}
    for school in service_schools(service):
        with scope(school=school):
            places, links = _places(school)
            for place in places:
                linked = links.get(place.pk, [])
                entry = people.setdefault(place.account_id, {"account": place, "places": [], "agents": []})
                role = _role(place.person_type, [r for _, r in linked if r])
                entry["places"].append((place, role, school))
                entry["agents"].extend(account_id for account_id, _ in linked)
    return [_user(entry, base) for entry in people.values()]


def _user(entry: dict, base: str) -> dict:
    account = entry["account"]  # the first place's row: the account's columns are the same on every one
    places = sorted(entry["places"], key=lambda p: (_KIND_ORDER[p[0].person_type], p[2].name, p[0].pk))
    first, first_school = places[0][0], places[0][2]
    roles = [
        {"roleType": "primary" if i == 0 else "secondary", "role": role, "org": _ref(base, "org", school.pk)}
        for i, (_place, role, school) in enumerate(places)
    ]
    agents = list(dict.fromkeys(entry["agents"]))
    return {
        "sourcedId": str(account.account_id),
        "status": "active",
        "dateLastModified": _iso(max(place.updated_at for place, _, _ in places)),
        "metadata": {},
        "username": account.account__username,
        "userIds": [{"type": "Rollcall", "identifier": account.account__username}],
        "enabledUser": bool(
            account.account__is_active and account.account__approved and not account.account__locked_out
        ),
        "givenName": account.account__given_name,
        "familyName": account.account__family_name,
        "middleName": "",
        "roles": roles,
        "identifier": first.mis_code,
        "email": account.account__email,
        "agents": [_ref(base, "user", agent) for agent in agents],
        "grades": [first.year_group] if first.person_type == PersonType.STUDENT and first.year_group else [],
        "primaryOrg": _ref(base, "org", first_school.pk),
        # Not one of the record's fields: lets filter and sort say role='student' (the /students endpoint).
        "role": places[0][1],
    }


def roster_orgs(*, service: ConnectedService, base: str) -> list[dict]:
    schools = service_schools(service)
    if not schools:
        return []
    organisation: Organisation = schools[0].organisation
    now = _iso(timezone.now())
    district = {
        "sourcedId": str(organisation.pk),
        "status": "active",
        "dateLastModified": now,
        "metadata": {},
        "name": organisation.name,
        "type": "district",
        "identifier": organisation.slug,
        "parent": None,
        "children": [_ref(base, "org", school.pk) for school in schools],
    }
    return [district] + [
        {
            "sourcedId": str(school.pk),
            "status": "active",
            "dateLastModified": now,
            "metadata": {},
            "name": school.name,
            "type": "school",
            "identifier": school.urn,
            "parent": _ref(base, "org", organisation.pk),
            "children": [],
        }
        for school in schools
    ]


def as_served(record: dict) -> dict:
    """The record as served: without the helper key."""
    return {k: v for k, v in record.items() if k != "role"}
