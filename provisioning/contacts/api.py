"""Account Manager API: list contacts by state, start Revoke Access and Send Welcome Email.

The same selectors and services as the screen; one class per operation.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from accounts.models import PersonType
from accounts.permissions import Perm
from provisioning.contacts import selectors, services
from provisioning.contacts.selectors import ContactStatus
from tenancy.api import JobSerializer, SchoolAPIView

MAX_PAGE = 500


class ContactSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField(source="account.username")
    given_name = serializers.CharField(source="account.given_name")
    family_name = serializers.CharField(source="account.family_name")
    email = serializers.CharField(source="account.email")
    mis_code = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    reason_label = serializers.SerializerMethodField()
    replacement_id = serializers.SerializerMethodField()

    def get_state_label(self, obj) -> str:
        return ContactStatus(obj.state).label

    def _reason(self, obj):
        return self.context["reasons"].get(obj.pk)

    def get_reason(self, obj) -> str:
        found = self._reason(obj)
        return found.reason if found else ""

    def get_reason_label(self, obj) -> str:
        found = self._reason(obj)
        return found.label if found else ""

    def get_replacement_id(self, obj) -> str | None:
        found = self._reason(obj)
        return str(found.replacement.pk) if found and found.replacement else None


class ContactPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = ContactSerializer(many=True)


class ContactListApi(SchoolAPIView):
    """The school's contacts with their state (and, for Ready to Revoke Access, the reason)."""

    required_perm = Perm.ACCOUNT_MANAGER_VIEW

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=[s.value for s in ContactStatus]),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int, description=f"At most {MAX_PAGE}."),
        ],
        responses=ContactPageSerializer,
    )
    def get(self, request, school_slug):
        state = request.query_params.get("state", "")
        if state and state not in ContactStatus.values:
            raise exceptions.ValidationError({"state": f"One of: {', '.join(ContactStatus.values)}."})
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = min(MAX_PAGE, max(1, int(request.query_params.get("limit", 100))))
        except ValueError as exc:
            raise exceptions.ValidationError({"offset": "offset and limit must be whole numbers."}) from exc
        qs = selectors.contact_list(school=self.school, state=state)
        rows = list(qs[offset : offset + limit])
        reasons = selectors.revoke_reasons(school=self.school, contacts=rows)
        data = ContactSerializer(rows, many=True, context={"reasons": reasons}).data
        return Response({"count": qs.count(), "offset": offset, "results": data})


class ContactSelectionSerializer(serializers.Serializer):
    contact_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=200_000)
    state = serializers.ChoiceField(
        choices=ContactStatus.choices, required=False, help_text="Instead of contact_ids: every contact in this state."
    )
    confirm_count = serializers.IntegerField(
        required=False, help_text="Revoke Access over 1,000 contacts: the number, to confirm."
    )

    def validate(self, attrs):
        if not attrs.get("contact_ids") and not attrs.get("state"):
            raise serializers.ValidationError("Give contact_ids or a state.")
        return attrs


def _selection(school, data) -> list:
    if data.get("contact_ids"):
        return list(selectors.selection(school=school, person_type=PersonType.CONTACT, ids=data["contact_ids"]))
    return list(selectors.selection(school=school, person_type=PersonType.CONTACT, state=data["state"]))


LEFT_OUT = (
    "The job's state, and `left_out`: how many of the selected people were left out because they hold roles "
    "(here or at another school) that you may not grant."
)


STARTED = OpenApiResponse(JobSerializer, description=LEFT_OUT)


def _started(job) -> dict:
    return JobSerializer(job).data | {"left_out": job.left_out}


class ContactRevokeStartApi(SchoolAPIView):
    """Start Revoke Access (a background job) for contacts that are Ready to Revoke Access."""

    required_perm = Perm.ACCOUNT_MANAGER_ACT

    @extend_schema(request=ContactSelectionSerializer, responses={202: STARTED})
    def post(self, request, school_slug):
        body = ContactSelectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.revoke_start(
            school=self.school,
            actor=request.user,
            memberships=_selection(self.school, body.validated_data),
            confirm_count=body.validated_data.get("confirm_count"),
        )
        return Response(_started(job), status=status.HTTP_202_ACCEPTED)


class ContactWelcomeEmailStartApi(SchoolAPIView):
    """Start Send Welcome Email (a background job) for Ready to Provision or Active contacts."""

    required_perm = Perm.WELCOME_EMAIL_SEND

    @extend_schema(request=ContactSelectionSerializer, responses={202: STARTED})
    def post(self, request, school_slug):
        body = ContactSelectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.welcome_email_start(
            school=self.school,
            actor=request.user,
            memberships=_selection(self.school, body.validated_data),
            base_url=request.build_absolute_uri("/"),
        )
        return Response(_started(job), status=status.HTTP_202_ACCEPTED)
