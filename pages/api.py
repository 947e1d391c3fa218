"""The job API: a background job of any app, for the API clients that started it."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from accounts.permissions import Perm, job_kinds_open_to
from tenancy.api import JobSerializer, SchoolAPIView
from tenancy.models import Job
from tenancy.selectors import job_get


class JobDetailApi(SchoolAPIView):
    """A background job's state and progress, for API clients that started one."""

    required_perm = Perm.JOBS_VIEW

    @extend_schema(responses=JobSerializer)
    def get(self, request, school_slug, job_id):
        try:
            job = job_get(school=self.school, job_id=job_id)
        except Job.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        if job.kind not in job_kinds_open_to(request._request.school_perms):
            raise exceptions.NotFound()  # as on the job page: a kind whose report the caller may not open
        return Response(JobSerializer(job).data)
