from tenancy.models import ApiToken, Job, School


def job_get(*, school: School, job_id) -> Job:
    return Job.objects.get(school=school, id=job_id)


def latest_jobs(*, school: School, kinds, limit: int = 5):
    """The latest jobs of these kinds (those the viewer may open)."""
    return Job.objects.filter(school=school, kind__in=list(kinds)).select_related("created_by")[:limit]


def api_token_list(*, school: School):
    return ApiToken.objects.filter(school=school).select_related("account")


def api_token_get(*, school: School, token_id):
    return ApiToken.objects.select_related("account").get(school=school, id=token_id)
