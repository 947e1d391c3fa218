"""Assessments REST API, per school: the same selectors as the screens. One class per operation."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from accounts.models import Membership
from accounts.permissions import Perm
from accounts.selectors import membership_get
from assessments import selectors
from assessments.models import Certificate
from tenancy.api import SchoolAPIView


class AssessmentRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="assessment.pk")
    code = serializers.CharField(source="assessment.code")
    title = serializers.CharField(source="assessment.title")
    type = serializers.CharField(source="assessment.kind")
    duration_minutes = serializers.IntegerField(source="assessment.duration_minutes", allow_null=True)
    status = serializers.CharField(source="status_label")
    sections_passed = serializers.IntegerField()
    section_total = serializers.IntegerField()
    result = serializers.CharField()
    hidden = serializers.BooleanField()
    certificate = serializers.SerializerMethodField()

    def get_certificate(self, row) -> dict | None:
        c = row.certificate
        if c is None:
            return None
        return {
            "id": str(c.pk),
            "code": c.code,
            "issued_at": c.issued_at.isoformat(),
            "expires_at": c.expires_at.isoformat(),
            "pdf_ready": bool(c.pdf),
        }


class MyAssessmentsApi(SchoolAPIView):
    """The assessments open to the signed-in person here, with their status and current certificate."""

    required_perm = Perm.ASSESSMENTS_TAKE

    @extend_schema(responses=AssessmentRowSerializer(many=True))
    def get(self, request, school_slug):
        rows = selectors.progress_rows(school=self.school, account=request.user)
        return Response(AssessmentRowSerializer(rows, many=True).data)


class PersonProgressApi(SchoolAPIView):
    """One person's progress per assessment (the Info screen): Status, Result, certificate."""

    required_perm = Perm.ASSESSMENTS_PROGRESS

    @extend_schema(responses=AssessmentRowSerializer(many=True))
    def get(self, request, school_slug, membership_id):
        try:
            membership = membership_get(school=self.school, membership_id=membership_id)
        except Membership.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        rows = selectors.progress_rows(school=self.school, account=membership.account, include_hidden=True)
        return Response(AssessmentRowSerializer(rows, many=True).data)


class CertificatePdfApi(SchoolAPIView):
    """The stored PDF of a certificate: the holder's own, or any here with Certificates. 409 until rendered."""

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such certificate here"),
            409: OpenApiResponse(description="The PDF is still being rendered"),
        }
    )
    def get(self, request, school_slug, certificate_id):
        try:
            certificate = selectors.certificate_get(school=self.school, certificate_id=certificate_id)
        except Certificate.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        own = certificate.account_id == request.user.pk
        if not (own or Perm.CERTIFICATES_VIEW in request._request.school_perms):
            raise exceptions.NotFound()
        if not certificate.pdf:
            return Response({"detail": "The PDF is being rendered; try again in a few seconds."}, status=409)
        return FileResponse(
            certificate.pdf.open("rb"), filename=certificate.pdf_filename, content_type="application/pdf"
        )
