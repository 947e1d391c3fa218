"""scim2-tester, an independent SCIM 2.0 compliance checker, against /scim/v2/: discovery, CRUD and PATCH."""

from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from accounts.models import AuditEvent
from scim.models import ScimUser
from tests.factories import OrganisationFactory, SchoolFactory
from tests.scim.conftest import BASE, wsgi_app


def _client(raw):
    return WSGISCIMClient(wsgi_app, base_url=BASE, headers={"Authorization": f"Bearer {raw}"})


def test_it_passes_every_check_of_scim2_tester(issue, db):
    # One school: a tester does not know the Rollcall extension, so the school a person joins goes without saying.
    organisation = OrganisationFactory(slug="maple")
    SchoolFactory(organisation=organisation, slug="maple-school")
    _, raw = issue(organisation, roles=["eo"])

    results = check_server(_client(raw), raise_exceptions=False)

    failed = [f"{r.title}: {r.reason}" for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    assert not failed, "\n".join(failed)
    tags = set().union(*(r.tags for r in results if r.status == Status.SUCCESS))
    assert {"discovery", "crud:create", "crud:read", "crud:update", "crud:delete", "patch:add", "patch:replace",
            "patch:remove"} <= tags  # fmt: skip
    # What it did went through accounts' services, each change audited with the token as its actor.
    assert ScimUser.objects.filter(organisation=organisation).exists()
    actors = set(AuditEvent.objects.filter(action__startswith="accounts.").values_list("actor_label", flat=True))
    assert actors == {"SCIM token Entra ID (rc_scim_" + raw[8:12] + "…)"}
