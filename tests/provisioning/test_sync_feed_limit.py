"""The feed size limit is one rule (feed_intake.feed_too_large), asked by the API's feed push and the upload
screen alike."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.services.tokens import api_token_issue
from provisioning.models import Feed
from provisioning.sync import feed_intake
from tests.provisioning.sync_helpers import feed_zip, student

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limit(monkeypatch):
    content = feed_zip(students=[student("S1")])
    monkeypatch.setattr(feed_intake, "MAX_FEED_BYTES", len(content) - 1)
    return content


def test_it_refuses_an_export_over_the_limit():
    assert feed_intake.feed_too_large(feed_intake.MAX_FEED_BYTES) is None
    assert feed_intake.feed_too_large(feed_intake.MAX_FEED_BYTES + 1) == "The export is larger than 200 MB."


def test_the_api_refuses_a_feed_over_the_limit(school_a, centre_admin, small_limit):
    _token, raw = api_token_issue(school=school_a, account=centre_admin, name="t", role_codes=["mis_agent"])
    upload = SimpleUploadedFile("feed.zip", small_limit)
    response = Client(HTTP_AUTHORIZATION=f"Token {raw}").post(f"/api/s/{school_a.slug}/sync/feeds/", {"file": upload})

    assert response.status_code == 400
    assert "The export is larger than 0 MB." in response.content.decode()  # whatever the error's JSON shape
    assert not Feed.objects.filter(school=school_a).exists()


def test_the_upload_screen_refuses_a_feed_over_the_limit(login, nominated_contact, school_a, small_limit):
    upload = SimpleUploadedFile("feed.zip", small_limit)
    url = reverse("sync_feed_upload", kwargs={"school_slug": school_a.slug})
    response = login(nominated_contact).post(url, {"files": upload})

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The export is larger than 0 MB. Split it or ask support."
    ]
    assert not Feed.objects.filter(school=school_a).exists()
