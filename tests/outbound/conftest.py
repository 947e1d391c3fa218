"""The downstream service of the SCIM push tests: scim2-server (python-scim's SCIM 2.0 server, independent of
Rollcall) running in its own process on a local port, one tenant (its own users and groups) per test.

The tests read what it holds with plain HTTP and JSON, not through Rollcall's code, so a push is judged by the
server's state alone."""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2
import pytest

from outbound.models import ScimTarget
from outbound.secrets import token_encrypt

TOKEN = "scim-test-token-9f3c1e7a55d2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def scim_server():
    port = _free_port()
    command = Path(sys.executable).with_name("scim2-server")
    process = subprocess.Popen(
        [str(command), "--port", str(port), "--bearer-token", TOKEN, "--dynamic-tenants"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx2.get(f"{base}/probe/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {TOKEN}"})
            break
        except httpx2.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("scim2-server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


class Downstream:
    """One tenant of the server: its SCIM base URL, and what it holds, read with plain HTTP."""

    def __init__(self, base: str):
        self.endpoint = f"{base}/t{uuid.uuid4().hex[:12]}/v2"
        self.http = httpx2.Client(headers={"Authorization": f"Bearer {TOKEN}"})

    def users(self) -> dict[str, dict]:
        """Every user the service holds, by userName."""
        answer = self.http.get(f"{self.endpoint}/Users", params={"count": 1000}).json()
        return {u["userName"]: u for u in answer.get("Resources", [])}

    def groups(self) -> dict[str, dict]:
        answer = self.http.get(f"{self.endpoint}/Groups", params={"count": 1000}).json()
        return {g["displayName"]: g for g in answer.get("Resources", [])}

    def delete(self, remote_id: str) -> None:
        assert self.http.delete(f"{self.endpoint}/Users/{remote_id}").status_code == 204

    def patch(self, remote_id: str, path: str, value) -> None:
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": value}],
        }
        assert self.http.patch(f"{self.endpoint}/Users/{remote_id}", json=body).status_code in (200, 204)

    def create(self, user_name: str, **extra) -> dict:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, **extra}
        answer = self.http.post(f"{self.endpoint}/Users", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def downstream(scim_server):
    return Downstream(scim_server)


@pytest.fixture
def service_of(db):
    """service_of(organisation, roles) -> a connected service of that organisation (signon)."""
    from signon import services
    from tests.factories import AccountFactory

    def make(organisation, roles=("eo", "student_portal"), name="Homework Hub"):
        support = AccountFactory(username=f"support.{uuid.uuid4().hex[:6]}", is_staff=True)
        service, _ = services.service_register(
            actor=support,
            name=name,
            organisation=organisation,
            redirect_uris=["https://hub.example.org/callback"],
            role_codes=list(roles),
            scopes=["profile"],
        )
        return service

    return make


@pytest.fixture
def target_for():
    def make(service, downstream, *, token=TOKEN, push_groups=False):
        return ScimTarget.objects.create(
            service=service,
            endpoint=downstream.endpoint,
            token_encrypted=token_encrypt(token),
            push_groups=push_groups,
        )

    return make
