"""The upload over the API: POST the file (-> preview id), GET the preview, POST apply (-> job).

The same services as the screens, so the same rules: grantable roles, consent, all or nothing.
"""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.permissions import Perm
from provisioning.models import UploadBatch
from provisioning.upload import selectors, services
from provisioning.upload.reader import check_size
from tenancy.api import SchoolAPIView


class ProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    message = serializers.CharField()
    warning = serializers.BooleanField()


class RowSerializer(serializers.Serializer):
    row = serializers.IntegerField(source="number")
    outcome = serializers.CharField()
    username = serializers.SerializerMethodField()
    message = serializers.CharField()
    problems = ProblemSerializer(many=True)
    changes = serializers.SerializerMethodField()

    def get_username(self, row) -> str:
        return row.clean.get("username", "")

    def get_changes(self, row) -> dict:
        return {
            **row.account_changes,
            **row.membership_changes,
            **({"roles": list(row.roles_to_add)} if row.roles_to_add else {}),
        }


class PreviewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    file_name = serializers.CharField()
    state = serializers.CharField()
    mode = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    ignored_columns = serializers.ListField(child=serializers.CharField())
    rows = RowSerializer(many=True)


def _preview_data(batch: UploadBatch, plan: services.UploadPlan) -> dict:
    return PreviewSerializer(
        {
            "id": batch.pk,
            "file_name": batch.file_name,
            "state": batch.state,
            "mode": plan.mode,
            "counts": plan.counts,
            "ignored_columns": plan.headers.ignored,
            "rows": plan.rows,
        }
    ).data


class _UploadApi(SchoolAPIView):
    required_perm = Perm.USERS_UPLOAD

    def batch(self, batch_id) -> UploadBatch:
        try:
            return selectors.upload_batch_get(school=self.school, batch_id=batch_id)
        except UploadBatch.DoesNotExist as exc:
            raise exceptions.NotFound() from exc


class UploadCreateApi(_UploadApi):
    """Upload a spreadsheet (.xlsx, .xls, .ods, .csv): answers with its preview and id."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("UploadFile", {"file": serializers.FileField()})},
        responses={201: PreviewSerializer},
    )
    def post(self, request, school_slug):
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"detail": "Send the spreadsheet in a form field named file."})
        check_size(upload.size)
        batch = services.upload_receive(school=self.school, actor=request.user, file_name=upload.name,
                                        data=upload.read())  # fmt: skip
        plan = services.upload_preview(school=self.school, account=request.user, batch=batch)
        return Response(_preview_data(batch, plan), status=status.HTTP_201_CREATED)


class UploadPreviewApi(_UploadApi):
    """The preview of an upload, against the registry as it is now; `mode` shows another mode's plan."""

    @extend_schema(
        parameters=[OpenApiParameter("mode", str, enum=UploadBatch.Mode.values, required=False)],
        responses=PreviewSerializer,
    )
    def get(self, request, school_slug, batch_id):
        batch = self.batch(batch_id)
        mode = request.query_params.get("mode")
        if mode is not None and mode not in UploadBatch.Mode.values:
            raise exceptions.ValidationError({"mode": f"Use one of {', '.join(UploadBatch.Mode.values)}."})
        plan = services.upload_preview(school=self.school, account=request.user, batch=batch, mode=mode)
        return Response(_preview_data(batch, plan))


class ApplySerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=UploadBatch.Mode.choices, default=UploadBatch.Mode.ADD_NEW)
    password_method = serializers.ChoiceField(
        choices=UploadBatch.PasswordMethod.choices, default=UploadBatch.PasswordMethod.STARTER_CODES
    )
    add_existing = serializers.BooleanField(default=True)
    consent = serializers.BooleanField(
        help_text="Required: you have each person's permission to create their account and use their email."
    )


class UploadApplyApi(_UploadApi):
    """Apply an upload as a background job (all or nothing); poll the job for its progress."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=ApplySerializer,
        responses={
            202: inline_serializer(
                "UploadApplied", {"job_id": serializers.UUIDField(), "job_url": serializers.CharField()}
            )
        },  # fmt: skip
    )
    def post(self, request, school_slug, batch_id):
        batch = self.batch(batch_id)
        params = ApplySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        base_url = request.build_absolute_uri("/")
        job = services.upload_apply_start(
            school=self.school, actor=request.user, batch=batch, base_url=base_url, **params.validated_data
        )
        url = reverse("api_job_detail", kwargs={"school_slug": school_slug, "job_id": job.pk})
        return Response({"job_id": job.pk, "job_url": url}, status=status.HTTP_202_ACCEPTED)
