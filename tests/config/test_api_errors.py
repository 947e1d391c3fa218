"""config.api.exception_handler: every API view answers a service's refusal the same way."""

from django.core.exceptions import PermissionDenied, ValidationError

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
