"""Bad input to the API's upload endpoints gets a 400 with a message, never a 500."""

import json

import pytest
from django.test import Client

from accounts.services.tokens import api_token_issue

# (URL path under the school, roles of the token that may use it)
FILE_ENDPOINTS = [
    pytest.param("sync/feeds/", ["mis_agent"], id="MIS feed push"),
    pytest.param("uploads/", ["centre_admin"], id="Upload Users"),
]


@pytest.fixture
def api(school_a, centre_admin):
    def _client(roles):
        _token, raw = api_token_issue(school=school_a, account=centre_admin, name="t", role_codes=roles)
        return Client(HTTP_AUTHORIZATION=f"Token {raw}")

    return _client


@pytest.mark.parametrize(("path", "roles"), FILE_ENDPOINTS)
@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"data": {"file": "not a file"}}, id="file as a text field"),
        pytest.param({"data": {}}, id="no file"),
        pytest.param({"data": json.dumps({"file": "abc"}), "content_type": "application/json"}, id="JSON body"),
        pytest.param({"data": json.dumps(["file"]), "content_type": "application/json"}, id="JSON list"),
        pytest.param({"data": "file=abc", "content_type": "application/x-www-form-urlencoded"}, id="form body"),
    ],
)
def test_a_file_endpoint_answers_bad_input_with_400_and_a_message(api, school_a, path, roles, how):
    response = api(roles).post(f"/api/s/{school_a.slug}/{path}", **how)

    assert response.status_code in (400, 415), response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"], body  # one shape for every refusal (config/api.py)
    assert set(body) <= {"detail", "errors"}, body
