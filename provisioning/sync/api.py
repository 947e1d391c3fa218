"""The MIS sync over the API: the school's MIS agent pushes feeds; people (or scripts acting for them)
start dry runs, read a run's plan and report, and confirm a run the mass-change guard stopped.

The same services as the screens, so the same rules.
"""

from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Perm
from provisioning.models import Feed, SyncRecord, SyncRun
from provisioning.sync import selectors, services
from provisioning.sync.feed_intake import feed_receive, feed_too_large
from provisioning.sync.night import night_progress
from tenancy.api import SchoolAPIView


class FeedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feed
        fields = ["id", "file_name", "file_format", "source", "state", "row_counts", "modes", "errors", "warnings",
                  "received_at", "applied_at"]  # fmt: skip


class RowProblemSerializer(serializers.Serializer):
    file = serializers.CharField()
    row = serializers.IntegerField(allow_null=True)
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class RunSerializer(serializers.ModelSerializer):
    feed = serializers.UUIDField(source="feed_id", allow_null=True)
    job = serializers.UUIDField(source="job_id", allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    warnings = serializers.SerializerMethodField()
    rows_left_out = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = ["id", "feed", "job", "trigger", "state", "dry_run", "counts", "guard_count", "guard_threshold",
                  "warnings", "rows_left_out", "message", "created_at", "planned_at", "applied_at",
                  "duration_seconds"]  # fmt: skip

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, run) -> list[str]:
        return selectors.run_warnings(run)

    @extend_schema_field(serializers.ListField(child=RowProblemSerializer()))
    def get_rows_left_out(self, run) -> list[dict]:
        """The feed's rows with errors, left out of this run (their people kept as they are)."""
        return RowProblemSerializer(selectors.run_rows_left_out(run), many=True).data


class RecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRecord
        fields = ["entity", "outcome", "person_type", "mis_code", "membership_id", "account_id", "username",
                  "before", "after", "reason"]  # fmt: skip


def _run(view, run_id) -> SyncRun:
    try:
        return selectors.run_get(school=view.school, run_id=run_id)
    except SyncRun.DoesNotExist as exc:
        raise exceptions.NotFound() from exc


class FeedPushApi(SchoolAPIView):
    """The MIS agent (AutoUpdate) pushes the nightly export: multipart field "file", or the raw body with
    a Content-Disposition filename. A feed with rows in error is accepted (201) with those rows in its
    errors, left out of every run; one that cannot be read as a whole is stored as rejected (422)."""

    required_perm = Perm.FEEDS_PUSH
    parser_classes = [MultiPartParser, FileUploadParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("FeedPush", {"file": serializers.FileField()})},
        responses={201: FeedSerializer, 422: FeedSerializer},
    )
    def post(self, request, school_slug):
        upload = request.data.get("file")
        if not isinstance(upload, UploadedFile):  # missing, or sent as a text field
            raise exceptions.ValidationError({"file": "Send the export as a file, in the multipart field file."})
        if too_large := feed_too_large(upload.size):
            raise exceptions.ValidationError({"file": too_large})
        feed = feed_receive(
            school=self.school, actor=request.user, name=upload.name or "feed.zip", content=upload.read(),
            source=Feed.Source.API,
        )  # fmt: skip
        code = status.HTTP_201_CREATED if feed.state == Feed.State.VALID else status.HTTP_422_UNPROCESSABLE_ENTITY
        return Response(FeedSerializer(feed).data, status=code)


class SyncRunStartApi(SchoolAPIView):
    """Start a dry run on the newest accepted feed; poll the run, then confirm or apply in the browser."""

    required_perm = Perm.SYNC_MANAGE

    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request, school_slug):
        run = services.sync_start(school=self.school, actor=request.user, trigger=SyncRun.Trigger.API,
                                  dry_run=True)  # fmt: skip
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetailApi(SchoolAPIView):
    """A run: state, counts per outcome, guard figures, duration."""

    required_perm = Perm.SYNC_HISTORY_VIEW

    @extend_schema(responses=RunSerializer)
    def get(self, request, school_slug, run_id):
        return Response(RunSerializer(_run(self, run_id)).data)


class SyncRunRecordsApi(SchoolAPIView):
    """The run's plan and report: one record per person or link (unchanged ones are only counted)."""

    required_perm = Perm.SYNC_HISTORY_VIEW

    @extend_schema(
        parameters=[OpenApiParameter("outcome", str), OpenApiParameter("page", int)],
        responses=inline_serializer(
            "SyncRecordPage",
            {
                "count": serializers.IntegerField(),
                "page": serializers.IntegerField(),
                "pages": serializers.IntegerField(),
                "results": RecordSerializer(many=True),
            },  # fmt: skip
        ),
    )
    def get(self, request, school_slug, run_id):
        run = _run(self, run_id)
        records = selectors.run_records(school=self.school, run=run, outcome=request.query_params.get("outcome", ""))
        page = Paginator(records, 500).get_page(request.query_params.get("page"))
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "results": RecordSerializer(page.object_list, many=True).data,
            }  # fmt: skip
        )


class SyncRunConfirmApi(SchoolAPIView):
    """Apply a previewed run, confirming it when the mass-change guard stopped it."""

    required_perm = Perm.SYNC_MANAGE

    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request, school_slug, run_id):
        run = _run(self, run_id)
        run = services.sync_apply_start(school=self.school, actor=request.user, run=run, confirm=True)
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class NightSchoolSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    failure = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


class NightProgressSerializer(serializers.Serializer):
    schools = serializers.IntegerField(help_text="Active schools.")
    not_sent = serializers.IntegerField(help_text="Schools whose night has not come (or was not sent) yet.")
    waiting = serializers.IntegerField()
    running = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    guarded = serializers.IntegerField(help_text="Stopped by the mass-change guard: a person must confirm.")
    first_sent_at = serializers.DateTimeField(allow_null=True)
    last_finished_at = serializers.DateTimeField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    slowest_seconds = serializers.FloatField(allow_null=True)
    failed_schools = NightSchoolSerializer(many=True)
    guarded_schools = NightSchoolSerializer(many=True)


class NightProgressApi(APIView):
    """Support staff only: the progress of the night across every school (provisioning.sync.night)."""

    permission_classes = [permissions.IsAuthenticated, permissions.IsAdminUser]

    @extend_schema(responses=NightProgressSerializer)
    def get(self, request):
        return Response(NightProgressSerializer(night_progress()).data)
