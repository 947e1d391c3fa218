from django.urls import path

from provisioning.upload import api, views

urlpatterns = [
    path("users/upload/", views.upload_start, name="upload_start"),
    path("users/upload/template/", views.upload_template, name="upload_template"),
    path("users/upload/<uuid:batch_id>/", views.upload_preview, name="upload_preview"),
    path("users/upload/<uuid:batch_id>/apply/", views.upload_apply, name="upload_apply"),
    path("users/upload/<uuid:batch_id>/result/", views.upload_result, name="upload_result"),
    path("users/upload/<uuid:batch_id>/report/", views.upload_report, name="upload_report"),
    path("users/upload/<uuid:batch_id>/credentials/", views.upload_credentials, name="upload_credentials"),
]

api_urlpatterns = [
    path("uploads/", api.UploadCreateApi.as_view(), name="api_upload_create"),
    path("uploads/<uuid:batch_id>/", api.UploadPreviewApi.as_view(), name="api_upload_preview"),
    path("uploads/<uuid:batch_id>/apply/", api.UploadApplyApi.as_view(), name="api_upload_apply"),
]
