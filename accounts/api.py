"""The accounts REST API, per school: the same services as the Users screens, errors as JSON.

A resource is a person at the school: its id is the membership id (one account may be, say, staff
and contact at the same school).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from accounts import selectors, services
from accounts.forms import UserFilterForm
from accounts.models import Account, Membership, PersonType, Role, max_length
from accounts.permissions import Perm
from tenancy import selectors as tenancy_selectors
from tenancy.api import SchoolAPIView
from tenancy.models import ApiToken


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class AccountSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="pk")
    account_id = serializers.UUIDField(source="account.pk")
    username = serializers.CharField(source="account.username")
    given_name = serializers.CharField(source="account.given_name")
    family_name = serializers.CharField(source="account.family_name")
    email = serializers.CharField(source="account.email")
    person_type = serializers.CharField()
    mis_code = serializers.CharField()
    status = serializers.CharField()
    year_group = serializers.CharField()
    roles = serializers.SerializerMethodField()
    approved = serializers.BooleanField(source="account.approved")
    locked_out = serializers.BooleanField(source="account.locked_out")
    override_network_auth = serializers.BooleanField(source="account.override_network_auth")
    linked_signins = serializers.SerializerMethodField()

    def get_roles(self, membership) -> list[str]:
        return sorted(ra.role_id for ra in membership.role_assignments.all())

    def get_linked_signins(self, membership) -> bool:
        if hasattr(membership, "has_linked_signin"):
            return membership.has_linked_signin
        return bool(selectors.linked_signins(account=membership.account))


class AccountPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next_after = serializers.CharField(help_text="Send as `after` (with page+1) for the next page; empty at the end")
    previous_before = serializers.CharField(help_text="Send as `before` (with page-1) for the previous page")
    results = AccountSerializer(many=True)


class AccountCreateSerializer(serializers.Serializer):
    person_type = serializers.ChoiceField(choices=PersonType.choices)
    username = serializers.CharField(
        max_length=max_length(Account, "username"), required=False, allow_blank=True, default=""
    )
    given_name = serializers.CharField(max_length=max_length(Account, "given_name"))
    family_name = serializers.CharField(max_length=max_length(Account, "family_name"))
    email = serializers.EmailField(
        max_length=max_length(Account, "email"), required=False, allow_blank=True, default=""
    )
    mis_code = serializers.CharField(
        max_length=max_length(Membership, "mis_code"), required=False, allow_blank=True, default=""
    )
    upn = serializers.CharField(max_length=max_length(Account, "upn"), required=False, allow_blank=True, default="")
    year_group = serializers.CharField(
        max_length=max_length(Membership, "year_group"), required=False, allow_blank=True, default=""
    )
    roles = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    password_method = serializers.ChoiceField(choices=services.PASSWORD_METHODS)
    password = serializers.CharField(required=False, allow_blank=True, write_only=True, default="")
    consent = serializers.BooleanField(
        help_text="The consent acknowledgement: you have the person's permission (recorded in the audit log)."
    )
    add_existing = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="After a 409 naming an existing account, send its id here to add that person to the school.",
    )
    different_person = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="After a 409 naming a possible match (possible_match true), send its id here to create a new "
        "account for a different person.",
    )


class AccountCreatedSerializer(AccountSerializer):
    starter_code = serializers.CharField(allow_null=True, help_text="Shown once, when password_method=starter_code.")
    warnings = serializers.ListField(child=serializers.CharField())
    added_existing = serializers.BooleanField()


class AccountUpdateSerializer(serializers.Serializer):
    given_name = serializers.CharField(max_length=max_length(Account, "given_name"), required=False)
    family_name = serializers.CharField(max_length=max_length(Account, "family_name"), required=False)
    email = serializers.EmailField(max_length=max_length(Account, "email"), required=False, allow_blank=True)
    approved = serializers.BooleanField(required=False)
    locked_out = serializers.BooleanField(required=False)
    override_network_auth = serializers.BooleanField(required=False)
    mis_code = serializers.CharField(max_length=max_length(Membership, "mis_code"), required=False, allow_blank=True)
    year_group = serializers.CharField(
        max_length=max_length(Membership, "year_group"), required=False, allow_blank=True
    )


class AccountUpdatedSerializer(AccountSerializer):
    warnings = serializers.ListField(child=serializers.CharField())


class RoleAssignSerializer(serializers.Serializer):
    role = serializers.SlugField()


class _AccountsApi(SchoolAPIView):
    """Per-method permissions; a refusal that names an existing account is a 409 that names it."""

    method_perms: dict[str, Perm] = {}

    @property
    def required_perm(self):
        return self.method_perms.get(self.request.method)

    def handle_exception(self, exc):
        # Only this API offers the existing account to add instead; other refusals: config.api.exception_handler.
        if isinstance(exc, services.ExistingAccountFound):
            account = exc.account
            return Response(
                {
                    "detail": exc.messages[0],
                    "existing_account": {"id": str(account.pk), "username": account.username},
                    "possible_match": isinstance(exc, services.PossibleMatchFound),
                },
                status=status.HTTP_409_CONFLICT,
            )
        return super().handle_exception(exc)

    def actor(self) -> services.Actor:
        return services.Actor(account=self.request.user, school=self.school)

    def membership(self, membership_id) -> Membership:
        try:
            membership = (
                Membership.objects.select_related("account")
                .prefetch_related("role_assignments")
                .get(school=self.school, id=membership_id, account__deleted_at__isnull=True)
            )
        except Membership.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        return membership


LIST_PARAMETERS = [
    OpenApiParameter("q", str, description="Search: name, username, email or MIS code"),
    OpenApiParameter("person_type", str, enum=PersonType.values),
    OpenApiParameter("role", str, description="Role code, e.g. eo"),
    OpenApiParameter("status", str, enum=Membership.Status.values),
    OpenApiParameter("year_group", str),
    OpenApiParameter("sort", str, enum=list(selectors.USER_LIST_SORTS)),
    OpenApiParameter("desc", bool),
    OpenApiParameter("page", int),
    OpenApiParameter(
        "after",
        str,
        description="The previous page's `next_after`: the page is read by seeking past that person, as fast on page "
        "1,000 as on page 2 (a page by number alone far into a large school sorts everything before it)",
    ),
    OpenApiParameter("before", str, description="The next page's `previous_before`: the page before it"),
    OpenApiParameter("per_page", int, enum=list(selectors.USER_LIST_PAGE_SIZES)),
]
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Refused: field messages in `errors`"),
    403: OpenApiResponse(ErrorSerializer, description="Your roles do not allow this; `detail` says why"),
    404: OpenApiResponse(ErrorSerializer, description="No such person at this school"),
}


class AccountListCreateApi(_AccountsApi):
    method_perms = {"GET": Perm.USERS_VIEW, "POST": Perm.USERS_ADD}

    @extend_schema(
        operation_id="accounts_list",
        parameters=LIST_PARAMETERS,
        responses={200: AccountPageSerializer, 403: ERRORS[403]},
    )
    def get(self, request, school_slug):
        form = UserFilterForm(
            request.query_params, roles=list(Role.objects.all()), year_groups=selectors.year_groups(school=self.school)
        )
        page = selectors.user_list_page(
            school=self.school,
            filters=form.filters(),
            page=request.query_params.get("page"),
            per_page=form.page_size(),
            after=request.query_params.get("after"),
            before=request.query_params.get("before"),
        )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "next_after": page.next_after,
                "previous_before": page.previous_before,
                "results": AccountSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        operation_id="accounts_create",
        request=AccountCreateSerializer,
        responses={
            201: AccountCreatedSerializer,
            409: OpenApiResponse(
                inline_serializer(
                    "ExistingAccount",
                    {
                        "detail": serializers.CharField(),
                        "existing_account": inline_serializer(
                            "ExistingAccountRef", {"id": serializers.UUIDField(), "username": serializers.CharField()}
                        ),
                        "possible_match": serializers.BooleanField(),
                    },
                ),
                description="The person already has an account: resend with add_existing=<id>. A possible match "
                "(an unverified email in your organisation) may instead be resent with different_person=<id>.",
            ),
            **ERRORS,
        },
    )
    def post(self, request, school_slug):
        incoming = AccountCreateSerializer(data=request.data)
        if not incoming.is_valid():
            return _invalid(incoming)
        data = incoming.validated_data
        membership = services.account_add(
            school=self.school, actor=self.actor(), data=data, base_url=request.build_absolute_uri("/")
        )
        body = AccountSerializer(self.membership(membership.pk)).data
        body |= {
            "starter_code": membership.starter_code,
            "warnings": membership.warnings,
            "added_existing": membership.added_existing,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AccountDetailApi(_AccountsApi):
    method_perms = {"GET": Perm.USERS_VIEW, "PATCH": Perm.USERS_EDIT, "DELETE": Perm.USERS_DELETE}

    @extend_schema(operation_id="accounts_retrieve", responses={200: AccountSerializer, 404: ERRORS[404]})
    def get(self, request, school_slug, membership_id):
        return Response(AccountSerializer(self.membership(membership_id)).data)

    @extend_schema(
        operation_id="accounts_update",
        request=AccountUpdateSerializer,
        responses={200: AccountUpdatedSerializer, **ERRORS},
    )
    def patch(self, request, school_slug, membership_id):
        membership = self.membership(membership_id)
        incoming = AccountUpdateSerializer(data=request.data, partial=True)
        if not incoming.is_valid():
            return _invalid(incoming)
        data = dict(incoming.validated_data)
        membership_fields = {k: data.pop(k) for k in ("mis_code", "year_group") if k in data}
        with transaction.atomic():
            warnings = services.account_update(
                actor=self.actor(), account=membership.account, school=self.school, **data
            )
            services.membership_update(
                school=self.school, actor=self.actor(), membership=membership, **membership_fields
            )
        body = AccountSerializer(self.membership(membership_id)).data | {"warnings": warnings}
        return Response(body)

    @extend_schema(
        operation_id="accounts_delete",
        responses={
            200: inline_serializer(
                "AccountDeleted",
                {"erased": serializers.BooleanField(help_text="False: only removed from this school")},
            ),
            **ERRORS,
        },
    )
    def delete(self, request, school_slug, membership_id):
        membership = self.membership(membership_id)
        erased = services.account_delete(school=self.school, actor=self.actor(), account=membership.account)
        return Response({"erased": erased})


class AccountRoleAssignApi(_AccountsApi):
    method_perms = {"POST": Perm.USERS_EDIT}

    @extend_schema(
        operation_id="accounts_roles_assign", request=RoleAssignSerializer, responses={200: AccountSerializer, **ERRORS}
    )
    def post(self, request, school_slug, membership_id):
        membership = self.membership(membership_id)
        incoming = RoleAssignSerializer(data=request.data)
        if not incoming.is_valid():
            return _invalid(incoming)
        code = incoming.validated_data["role"]
        if not Role.objects.filter(code=code).exists():
            raise DjangoValidationError({"role": f"There is no role {code}."})
        services.role_assign(school=self.school, actor=self.actor(), membership=membership, role_code=code)
        return Response(AccountSerializer(self.membership(membership_id)).data)


class AccountRoleRemoveApi(_AccountsApi):
    method_perms = {"DELETE": Perm.USERS_EDIT}

    @extend_schema(
        operation_id="accounts_roles_remove",
        parameters=[OpenApiParameter("role_code", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: AccountSerializer, **ERRORS},
    )
    def delete(self, request, school_slug, membership_id, role_code):
        membership = self.membership(membership_id)
        services.role_remove(school=self.school, actor=self.actor(), membership=membership, role_code=role_code)
        return Response(AccountSerializer(self.membership(membership_id)).data)


def _invalid(incoming: serializers.Serializer) -> Response:
    errors = {field: [str(m) for m in messages] for field, messages in incoming.errors.items()}
    return Response({"detail": "Some fields are not valid.", "errors": errors}, status=400)


# --- API tokens -------------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's first characters, to tell tokens apart.")
    scope = serializers.SerializerMethodField()
    issued_by = serializers.CharField(source="account.username")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_scope(self, token) -> str:
        return ",".join(token.role_codes)


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.CharField(help_text='"mis_agent" for a school\'s MIS agent, or a role code.')


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="Shown once: Rollcall keeps only its hash.")


class _ApiTokensApi(_AccountsApi):
    method_perms = {"GET": Perm.API_TOKENS_MANAGE, "POST": Perm.API_TOKENS_MANAGE, "DELETE": Perm.API_TOKENS_MANAGE}

    def refuse_token_callers(self, request):
        # A token that could mint tokens would outlive its own revocation: issuing and revoking need a
        # person signed in.
        if isinstance(request.auth, ApiToken):
            raise exceptions.PermissionDenied("API tokens are managed by a person signed in, not with a token.")


class ApiTokenListCreateApi(_ApiTokensApi):
    @extend_schema(operation_id="api_tokens_list", responses={200: ApiTokenSerializer(many=True), 403: ERRORS[403]})
    def get(self, request, school_slug):
        self.refuse_token_callers(request)
        tokens = tenancy_selectors.api_token_list(school=self.school)
        return Response(ApiTokenSerializer(tokens, many=True).data)

    @extend_schema(
        operation_id="api_tokens_issue",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenIssuedSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    )
    def post(self, request, school_slug):
        self.refuse_token_callers(request)
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.api_token_create(school=self.school, account=request.user, **data.validated_data)
        return Response({**ApiTokenSerializer(token).data, "token": raw}, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(_ApiTokensApi):
    @extend_schema(
        operation_id="api_tokens_revoke",
        responses={204: None, 403: ERRORS[403], 404: OpenApiResponse(ErrorSerializer, description="No such token")},
    )
    def delete(self, request, school_slug, token_id):
        self.refuse_token_callers(request)
        try:
            token = tenancy_selectors.api_token_get(school=self.school, token_id=token_id)
        except ApiToken.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        services.api_token_withdraw(school=self.school, token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
