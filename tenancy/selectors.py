from django_scopes import scopes_disabled

from tenancy.models import ApiToken, Job, School


def schools_of(user) -> list[School]:
    """Schools the user may open: their non-archived memberships, or every active school for support."""
    if not user.is_authenticated:
        return []
    if user.is_staff:
        return list(School.objects.filter(is_active=True))
    from accounts.models import Membership

    with scopes_disabled():
        school_ids = set(
            Membership.objects.filter(account=user)
            .exclude(status=Membership.Status.ARCHIVED)
            .values_list("school_id", flat=True)
        )
    return list(School.objects.filter(id__in=school_ids, is_active=True))


def school_for_user(user, slug: str) -> School | None:
    if not user.is_authenticated:
        return None
    for school in schools_of(user):
        if school.slug == slug:
            return school
    return None


def job_get(*, school: School, job_id) -> Job:
    return Job.objects.get(school=school, id=job_id)


def latest_jobs(*, school: School, kinds, limit: int = 5):
    """The latest jobs of these kinds (those the viewer may open)."""
    return Job.objects.filter(school=school, kind__in=list(kinds)).select_related("created_by")[:limit]


def api_token_list(*, school: School):
    return ApiToken.objects.filter(school=school).select_related("account")


def api_token_get(*, school: School, token_id):
    return ApiToken.objects.select_related("account").get(school=school, id=token_id)
