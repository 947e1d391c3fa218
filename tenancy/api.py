"""The base for every school API view: the middleware has already resolved the school and
entered its scope; this checks the permission the view needs, from the one table in code.

Write API views as one class per operation:

    class AccountListApi(SchoolAPIView):
        required_perm = Perm.USERS_VIEW
        def get(self, request, school_slug): ...   # request.school is the school

Objects are looked up through request.school; another school's ids are simply not found (404).
"""

from rest_framework import authentication, exceptions, permissions, serializers
from rest_framework.views import APIView

from tenancy.authentication import SchoolTokenAuthentication
from tenancy.models import Job


class HasSchoolPermission(permissions.BasePermission):
    message = "Your roles at this school do not allow this."

    def has_permission(self, request, view):
        school = getattr(request._request, "school", None)
        if school is None:
            raise exceptions.NotFound()
        needed = getattr(view, "required_perm", None)
        return needed is None or needed in request._request.school_perms


class SchoolAPIView(APIView):
    authentication_classes = [SchoolTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, HasSchoolPermission]
    required_perm = None

    @property
    def school(self):
        return self.request._request.school


class JobSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    percent = serializers.IntegerField()
    # Running, but its worker stopped reporting (settings.JOB_STALLED_AFTER); retry_at: when it is taken up
    # again by itself, null when it must be started again.
    stalled = serializers.BooleanField(source="is_stalled")
    retry_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "kind_label",
            "state",
            "progress_done",
            "progress_total",
            "percent",
            "stalled",
            "retry_at",
            "counts",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
