"""config.api.exception_handler: every API view answers a service's refusal the same way."""

from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.test import APIClient

from config.api import exception_handler
from provisioning.upload.reader import UploadRefused


def test_it_words_a_field_refusal_with_its_field():
    response = exception_handler(ValidationError({"email": ["Bad.", "Worse."]}), {})
    assert response.status_code == 400
    assert response.data == {"detail": "Bad.; Worse.", "errors": {"email": ["Bad.", "Worse."]}}


def test_it_words_a_refusal_with_no_field_as_non_field_errors():
    response = exception_handler(UploadRefused("The file is empty."), {})
    assert response.status_code == 400
    assert response.data == {"detail": "The file is empty.", "errors": {"non_field_errors": ["The file is empty."]}}


def test_it_keeps_the_reason_of_a_refused_permission():
    response = exception_handler(PermissionDenied("Only a Centre Admin."), {})
    assert response.status_code == 403 and response.data == {"detail": "Only a Centre Admin."}


def test_a_serializers_refusal_comes_in_the_same_shape_each_message_named_by_its_field(school_a, nominated_contact):
    """Found by an outside pass: serializer errors kept DRF's own shape ({"contact_ids": {"0": [...]}}), so a
    client had to read two kinds of refusal. Now every 400 has "detail" (each message named by where it is)."""
    client = APIClient()
    client.force_authenticate(nominated_contact)
    client.force_login(nominated_contact)
    response = client.post(f"/api/s/{school_a.slug}/contacts/welcome-email/", {"contact_ids": ["x"]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "contact_ids 0: Must be a valid UUID."
    assert body["errors"] == {"contact_ids": {"0": ["Must be a valid UUID."]}}


def test_a_refusal_with_no_field_from_a_serializer_is_not_named():
    from rest_framework.exceptions import ValidationError as DRFValidationError

    response = exception_handler(DRFValidationError({"non_field_errors": ["Give contact_ids or a state."]}), {})
    assert response.data == {
        "detail": "Give contact_ids or a state.",
        "errors": {"non_field_errors": ["Give contact_ids or a state."]},
    }
