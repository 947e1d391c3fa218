from django.urls import path

from provisioning.sync import api, views

urlpatterns = [
    path("sync/", views.sync_policy, name="sync_policy"),
    path("sync/sign-in-methods/", views.sync_sign_in_methods, name="sync_sign_in_methods"),
    path("sync/preview-usernames/", views.sync_username_preview, name="sync_username_preview"),
    path("sync/feeds/", views.sync_feed_upload, name="sync_feed_upload"),
    path("sync/feed-source/", views.sync_feed_source, name="sync_feed_source"),
    path("sync/sample-export/", views.sync_sample_feed, name="sync_sample_feed"),
    path("sync/export-format/", views.sync_export_format, name="sync_export_format"),
    path("sync/start/", views.sync_start, name="sync_start"),
    path("sync/runs/", views.sync_history, name="sync_history"),
    path("sync/runs/<uuid:run_id>/", views.sync_run_detail, name="sync_run_detail"),
    path("sync/runs/<uuid:run_id>/status/", views.sync_run_status, name="sync_run_status"),
    path("sync/runs/<uuid:run_id>/apply/", views.sync_apply, name="sync_apply"),
    path("sync/runs/<uuid:run_id>/report/", views.sync_run_report, name="sync_run_report"),
    path("sync/runs/<uuid:run_id>/matches/", views.sync_match_decide, name="sync_match_decide"),
    path("sync/runs/<uuid:run_id>/credentials/", views.sync_credentials, name="sync_credentials"),
    path(
        "sync/runs/<uuid:run_id>/credentials/progress/",
        views.sync_credentials_progress,
        name="sync_credentials_progress",
    ),
    path(
        "sync/runs/<uuid:run_id>/credentials/download/",
        views.sync_credentials_download,
        name="sync_credentials_download",
    ),
]

api_urlpatterns = [
    path("sync/feeds/", api.FeedPushApi.as_view(), name="api_sync_feed_push"),
    path("sync/runs/", api.SyncRunStartApi.as_view(), name="api_sync_run_start"),
    path("sync/runs/<uuid:run_id>/", api.SyncRunDetailApi.as_view(), name="api_sync_run_detail"),
    path("sync/runs/<uuid:run_id>/records/", api.SyncRunRecordsApi.as_view(), name="api_sync_run_records"),
    path("sync/runs/<uuid:run_id>/confirm/", api.SyncRunConfirmApi.as_view(), name="api_sync_run_confirm"),
]

# Support staff's pages and API, outside any school (config/urls.py: /support/, /api/support/).
support_urlpatterns = [
    path("night/", views.night_progress_page, name="support_night"),
]

support_api_urlpatterns = [
    path("night/", api.NightProgressApi.as_view(), name="api_support_night"),
]
