"""An invigilator takes an assessment in a real browser, passes, downloads the certificate PDF, and the
public verification page confirms it; an assessment hidden from them answers 404."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from assessments.models import AssessmentHidden, Certificate
from tests.assessments.conftest import make_assessment
from tests.browser.helpers import sign_in
from tests.factories import member

pytestmark = pytest.mark.browser


@pytest.fixture
def invigilator(school_a):
    return member(school_a, "inv", username="zoe.inv", given_name="Zoë", family_name="Ó'Brien").account


def test_inv_user_takes_an_assessment_passes_and_downloads_a_verifiable_certificate(
    page, invigilator, school_a, centre_admin
):
    make_assessment("core", title="Invigilator Training 2026/27: Core")
    hidden = make_assessment("aa", title="Access Arrangements for Invigilators", sections=1)
    AssessmentHidden.objects.create(school=school_a, account=invigilator, assessment=hidden, hidden_by=centre_admin)

    sign_in(page, invigilator)
    page.goto(f"/s/{school_a.slug}/assessments/")
    expect(page.get_by_role("link", name="Invigilator Training 2026/27: Core")).to_be_visible()
    expect(page.get_by_text("Access Arrangements for Invigilators")).to_have_count(0)

    page.get_by_role("link", name="Invigilator Training 2026/27: Core").click()
    page.get_by_role("button", name="Start").click()
    for number in (1, 2):
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Section {number} of 2")
        questions = page.locator("fieldset.question")
        for i in range(questions.count()):
            question = questions.nth(i)
            question.get_by_label("Right", exact=True).check()
            if "select all that apply" in question.inner_text():
                question.get_by_label("Also right", exact=True).check()
        page.get_by_role("button", name="Submit section").click()
    expect(page.get_by_text("You passed Invigilator Training 2026/27: Core")).to_be_visible()
    expect(page.locator(".status-passed")).to_have_text("Passed")

    page.get_by_role("link", name=re.compile("View your certificate")).click()
    certificate = Certificate.objects.get(account=invigilator)
    expect(page.locator(".cert-holder")).to_have_text("Zoë Ó'Brien")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"certificate-{certificate.code}.pdf"
    with open(download.path(), "rb") as fh:
        text = PdfReader(io.BytesIO(fh.read())).pages[0].extract_text()
    assert "Zoë Ó'Brien" in text
    assert certificate.code in text

    response = page.goto(f"/s/{school_a.slug}/assessments/{hidden.pk}/")
    assert response.status == 404

    # Whoever scans the QR code is not signed in.
    page.context.clear_cookies()
    page.goto(f"/verify/{certificate.code}/")
    expect(page.locator(".verify-status")).to_have_text("Valid")
    expect(page.locator("main").get_by_text("Zoë Ó'Brien")).to_be_visible()
