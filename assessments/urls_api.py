"""School API for assessments, under /api/s/<school_slug>/assessments/."""

from django.urls import path

from assessments import api

urlpatterns = [
    path("", api.MyAssessmentsApi.as_view(), name="api_assessments"),
    path("progress/<uuid:membership_id>/", api.PersonProgressApi.as_view(), name="api_assessment_progress"),
    path("certificates/<uuid:certificate_id>/pdf/", api.CertificatePdfApi.as_view(), name="api_certificate_pdf"),
]
