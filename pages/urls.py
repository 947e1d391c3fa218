from django.urls import path

from pages import api, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/census/", views.census_start, name="census_start"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress_fragment, name="job_progress"),
    path("jobs/<uuid:job_id>/report/", views.job_report, name="job_report"),
]

api_urlpatterns = [
    path("jobs/<uuid:job_id>/", api.JobDetailApi.as_view(), name="api_job_detail"),
]
