from django.urls import path

from assessments import views

urlpatterns = [
    path("", views.assessments_home, name="assessments_home"),
    path("<uuid:assessment_id>/", views.assessment_detail, name="assessment_detail"),
    path("<uuid:assessment_id>/start/", views.assessment_start, name="assessment_start"),
    path("<uuid:assessment_id>/take/", views.assessment_take, name="assessment_take"),
    path("certificates/<uuid:certificate_id>/", views.certificate_detail, name="certificate_detail"),
    path("certificates/<uuid:certificate_id>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    path("access/<uuid:membership_id>/", views.assessment_access, name="assessment_access"),
    path("progress/<uuid:membership_id>/", views.progress_user, name="progress_user"),
    path(
        "progress/<uuid:membership_id>/<uuid:assessment_id>/",
        views.progress_sections,
        name="progress_sections",
    ),
    path(
        "progress/<uuid:membership_id>/sections/<uuid:section_id>/answers/",
        views.progress_answers,
        name="progress_answers",
    ),
    path("summary/", views.user_summary, name="user_summary"),
    path("certificates/expiring/", views.certificates_expiring, name="certificates_expiring"),
    path("summary/user-summary.xlsx", views.user_summary_xlsx, name="user_summary_xlsx"),
    path("summary/certificates/", views.certificate_zip_start, name="certificate_zip_start"),
    path("summary/certificates/<uuid:job_id>/", views.certificate_zip_detail, name="certificate_zip_detail"),
    path(
        "summary/certificates/<uuid:job_id>/progress/",
        views.certificate_zip_progress,
        name="certificate_zip_progress",
    ),
    path(
        "summary/certificates/<uuid:job_id>/download/",
        views.certificate_zip_download,
        name="certificate_zip_download",
    ),
]
