from django.urls import path

from pages import api, data_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/census/", views.census_start, name="census_start"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress_fragment, name="job_progress"),
    path("jobs/<uuid:job_id>/report/", views.job_report, name="job_report"),
    path("data/export/", data_views.school_export_page, name="school_export"),
    path("data/export/start/", data_views.school_export_start, name="school_export_start"),
    path("data/audit/", data_views.audit_log_page, name="audit_log"),
    path("data/audit/audit-log.xlsx", data_views.audit_log_export, name="audit_log_export"),
    path("data/retention/", data_views.retention_page, name="retention"),
    path("data/retention/erasure-report.csv", data_views.erasure_report_csv, name="erasure_report"),
    path(
        "users/<uuid:membership_id>/subject-access/",
        data_views.subject_access_download,
        name="subject_access",
    ),
]

api_urlpatterns = [
    path("jobs/<uuid:job_id>/", api.JobDetailApi.as_view(), name="api_job_detail"),
]
