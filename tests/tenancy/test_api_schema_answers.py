"""The OpenAPI schema lists, for every operation, the refusals it can give, not just its happy answer."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    out = [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(out) > 15
    return schema, out


def _has_input(method, operation) -> bool:
    return (
        "requestBody" in operation
        or method in {"POST", "PUT", "PATCH", "DELETE"}
        or any(p["in"] == "query" for p in operation.get("parameters", []))
    )


def test_every_operation_with_input_lists_its_400(operations):
    _schema, ops = operations
    missing = [f"{m} {p}" for m, p, op in ops if _has_input(m, op) and "400" not in op["responses"]]
    assert missing == []


def test_every_operation_naming_a_school_or_an_object_lists_its_404(operations):
    _schema, ops = operations
    missing = [f"{m} {p}" for m, p, op in ops if "{" in p and "404" not in op["responses"]]
    assert missing == []


def test_every_school_operation_lists_401_and_403_and_each_refusal_describes_its_body(operations):
    schema, ops = operations
    assert "Error" in schema["components"]["schemas"]
    for method, path, op in ops:
        if "{school_slug}" in path:
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
        for code in {"400", "401", "403", "404"} & set(op["responses"]):
            assert op["responses"][code].get("content"), f"{method} {path} {code} says nothing of its body"


def test_an_api_path_nothing_answers_is_a_json_404(client, login, centre_admin, school_a):
    login(centre_admin)
    response = client.get(f"/api/s/{school_a.slug}/accounts/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    page = client.get(f"/s/{school_a.slug}/users/not-a-uuid/edit/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
