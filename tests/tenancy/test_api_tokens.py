from accounts.services import census_report_start
from accounts.services.tokens import api_token_issue, api_token_revoke


def _job(school, actor):
    return census_report_start(school=school, actor=actor)


def test_it_reads_a_job_with_a_school_token(client, school_a, nominated_contact):
    job = _job(school_a, nominated_contact)
    _, raw = api_token_issue(school=school_a, account=nominated_contact, name="s", role_codes=["nominated_contact"])
    response = client.get(f"/api/s/{school_a.slug}/jobs/{job.pk}/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200
    assert response.json()["kind"] == "demo"


def test_a_token_of_one_school_opens_nothing_at_another(
    client, school_a, school_b, nominated_contact, other_school_admin
):
    job_b = _job(school_b, other_school_admin)
    _, raw = api_token_issue(school=school_a, account=nominated_contact, name="s", role_codes=["nominated_contact"])
    response = client.get(f"/api/s/{school_b.slug}/jobs/{job_b.pk}/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 404


def test_a_token_is_limited_to_its_roles(client, school_a, nominated_contact):
    job = _job(school_a, nominated_contact)
    _, raw = api_token_issue(school=school_a, account=nominated_contact, name="agent", role_codes=["mis_agent"])
    response = client.get(f"/api/s/{school_a.slug}/jobs/{job.pk}/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 403


def test_a_revoked_token_is_refused(client, school_a, nominated_contact):
    job = _job(school_a, nominated_contact)
    token, raw = api_token_issue(school=school_a, account=nominated_contact, name="s", role_codes=["nominated_contact"])
    api_token_revoke(school=school_a, token=token, actor=nominated_contact)
    response = client.get(f"/api/s/{school_a.slug}/jobs/{job.pk}/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 404


def test_the_session_api_answers_json_404_for_another_school(login, other_school_admin, school_a, nominated_contact):
    job = _job(school_a, nominated_contact)
    response = login(other_school_admin).get(f"/api/s/{school_a.slug}/jobs/{job.pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
