"""REST endpoints of the OMS (DESIGN.md §7). Thin: parse, call one service or selector, serialize."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from oms import exports, roles, selectors
from oms.api import serializers as s
from oms.api.authentication import SignInLocked
from oms.api.constants import ID_REGEX, MAX_BULK, PORTFOLIO_CODE_REGEX, SYMBOL_REGEX
from oms.api.exports import EXPORT_PARAMETERS, FORMAT_PARAM, ExportMixin, export_responses
from oms.api.filters import AuditEventFilter, InstrumentFilter, OrderFilter
from oms.api.pagination import whole_number
from oms.api.permissions import CanReadAudit, HasRole
from oms.api.throttles import AuthTokenThrottle
from oms.audit_reading import audit_table
from oms.audit_signing import public_keys_hex
from oms.error_codes import AuditErrorCode, AuthErrorCode, FieldErrorCode
from oms.errors import DomainError, ValidationFailed
from oms.roles import Actor
from oms.services import audit_verify, order_cancel, order_submit, orders_submit
from oms.services.order_parse import CLIENT_ORDER_ID_RE, has_invalid_characters, replace_body
from oms.services.replace import order_replace
from oms.services.tokens import api_token_issue, token_expires_at
from oms.signin import client_ip, lockout_detail, lockout_retry_after


class TokenApi(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``) and its expiry.

    The user's current token is returned until it expires; then a new one is issued (oms.services.tokens).
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    # Per client address, before the password is hashed; lockouts per username and address: oms.signin.
    throttle_classes = [AuthTokenThrottle]

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}),
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField(allow_null=True)}),
            400: s.ErrorSerializer,
            429: OpenApiResponse(s.ErrorSerializer, description="`auth.locked_out` (too many failed sign-ins) or `throttled`; see Retry-After"),
        },
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        username, password = data.get("username"), data.get("password")
        for name, value in (("username", username), ("password", password)):
            if not value or not isinstance(value, str):
                raise ValidationFailed({name: [{"code": FieldErrorCode.REQUIRED, "detail": "username and password are required (strings)"}]})
            if has_invalid_characters(value):  # a NUL would fail in SQL, a lone surrogate in the password hasher
                raise ValidationFailed({name: [{"code": FieldErrorCode.INVALID_CHARACTERS, "detail": f"{name} must not contain control characters or invalid Unicode"}]})
        user = authenticate(request, username=username, password=password)
        if getattr(request, "axes_locked_out", False):
            retry_after = lockout_retry_after(username, client_ip(request))
            raise SignInLocked(lockout_detail(retry_after), retry_after)
        if user is None or not user.is_active:
            raise DomainError(AuthErrorCode.INVALID_CREDENTIALS, "Unable to log in with these credentials", status=400)
        token = api_token_issue(user=user, actor=Actor.for_user(user, "api"))
        return Response({"token": token.key, "expires_at": token_expires_at(token)})


@extend_schema_view(
    list=extend_schema(summary="Instruments", responses={200: s.InstrumentSerializer(many=True)}),
    retrieve=extend_schema(summary="One instrument by symbol", responses={200: s.InstrumentSerializer}),
)
class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    """Instruments a client may trade, with their reference figures."""

    serializer_class = s.InstrumentSerializer
    permission_classes = [HasRole]
    lookup_field = "symbol"
    lookup_value_regex = SYMBOL_REGEX
    filterset_class = InstrumentFilter

    def get_queryset(self):
        return selectors.instrument_catalogue()


@extend_schema_view(
    list=extend_schema(summary="Portfolios you may see", responses={200: s.PortfolioSerializer(many=True)}),
    retrieve=extend_schema(summary="One portfolio by code", responses={200: s.PortfolioSerializer}),
)
class PortfolioViewSet(viewsets.ReadOnlyModelViewSet):
    """Portfolios this user or client may trade (traders: all; compliance: all, read-only)."""

    serializer_class = s.PortfolioSerializer
    permission_classes = [HasRole]
    lookup_field = "code"
    lookup_value_regex = PORTFOLIO_CODE_REGEX

    def get_queryset(self):
        return roles.visible_portfolios(self.request.user).order_by("code")


def _echoed_client_order_id(item) -> str | None:
    # Echo the item's id only when it is a valid one: a lone surrogate cannot even be encoded in the answer.
    coid = item.get("client_order_id") if isinstance(item, dict) else None
    return coid if isinstance(coid, str) and CLIENT_ORDER_ID_RE.fullmatch(coid) else None


def _result_response(result) -> Response:
    if result.error is not None:
        body = result.error.as_dict()
        if result.order is not None:
            body["order"] = s.OrderSerializer(result.order).data
        return Response(body, status=result.http_status)
    return Response(s.OrderSerializer(result.order).data, status=result.http_status)


@extend_schema_view(
    list=extend_schema(summary="Orders you may see, newest first", responses={200: s.OrderSerializer(many=True)}),
    retrieve=extend_schema(summary="One order with its fills, allocations and audit events", responses={200: s.OrderDetailSerializer}),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders: submit (single and bulk, idempotent on client_order_id), list, detail, cancel."""

    permission_classes = [HasRole]
    filterset_class = OrderFilter
    lookup_value_regex = ID_REGEX
    parser_classes = [JSONParser]  # the API takes JSON; a form body is a 415, as the schema says

    def get_queryset(self):
        return selectors.order_list(user=self.request.user)

    def get_serializer_class(self):
        return s.OrderDetailSerializer if self.action == "retrieve" else s.OrderSerializer

    @extend_schema(
        request=s.OrderInputSerializer,
        responses={
            201: s.OrderSerializer,
            200: OpenApiResponse(s.OrderSerializer, description="Same client_order_id and content as an earlier order: that order"),
            400: OpenApiResponse(s.ErrorSerializer, description="Invalid input (code validation_error, errors by field)"),
            403: s.ErrorSerializer,
            409: OpenApiResponse(s.ErrorSerializer, description="client_order_id already used for a different order"),
            422: OpenApiResponse(s.ErrorSerializer, description="Denied by pre-trade risk; code risk.*, the stored order under `order`"),
        },
    )
    def create(self, request):
        result = order_submit(user=request.user, actor=Actor.for_user(request.user, "api"), data=request.data)
        return _result_response(result)

    @extend_schema(
        request=s.OrderInputSerializer(many=True),
        responses={
            207: inline_serializer("BulkResult", {"results": s.BulkItemResultSerializer(many=True)}),
            400: OpenApiResponse(s.ErrorSerializer, description="Not a list of 1 to 5000 orders (each item is answered on its own in the 207)"),
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Submit a list of orders (up to 5000); each item is answered on its own (207 Multi-Status)."""
        items = request.data.get("orders") if isinstance(request.data, dict) else request.data
        if not isinstance(items, list) or not items:
            raise ValidationFailed({"orders": [{"code": FieldErrorCode.INVALID, "detail": "Send a non-empty JSON list of orders"}]})
        if len(items) > MAX_BULK:
            raise ValidationFailed({"orders": [{"code": FieldErrorCode.TOO_MANY, "detail": f"At most {MAX_BULK} orders per request"}]})
        results = orders_submit(user=request.user, actor=Actor.for_user(request.user, "api"), items=items)
        out = []
        for r in results:
            row = {
                "index": r.index, "status": r.http_status,
                "id": r.order.id if r.order else None,
                "client_order_id": r.order.client_order_id if r.order else _echoed_client_order_id(items[r.index]),
                "order_status": r.order.status if r.order else None,
            }
            if r.error is not None:
                row.update(r.error.as_dict())
            out.append(row)
        return Response({"results": out}, status=207)

    @extend_schema(request=None, responses={
        200: s.OrderSerializer,
        403: OpenApiResponse(s.ErrorSerializer, description="You may see this order but not cancel it"),
        404: OpenApiResponse(s.ErrorSerializer, description="No such order among those you may see"),
        409: OpenApiResponse(s.ErrorSerializer, description="order.not_cancellable: the order is no longer open"),
    })
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel what is not yet filled."""
        order = order_cancel(user=request.user, actor=Actor.for_user(request.user, "api"), order_id=int(pk))
        return Response(s.OrderSerializer(order).data)

    @extend_schema(request=s.OrderReplaceSerializer, responses={
        200: OpenApiResponse(s.OrderSerializer, description="The order with its new terms (unchanged if they were its terms already)"),
        400: OpenApiResponse(s.ErrorSerializer, description="Invalid input (code validation_error, errors by field)"),
        403: OpenApiResponse(s.ErrorSerializer, description="You may see this order but not amend it"),
        404: OpenApiResponse(s.ErrorSerializer, description="No such order among those you may see"),
        409: OpenApiResponse(s.ErrorSerializer, description="order.not_replaceable (not open, or its cancel is pending); "
                             "order.replace_in_parent (a parent works it: only a reduction); "
                             "order.replace_below_working (below what is filled or at the venues)"),
        422: OpenApiResponse(s.ErrorSerializer, description="Denied by pre-trade risk (code risk.*); the order is unchanged"),
    })
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        """Cancel/replace: a new quantity and/or limit price, through pre-trade risk again (docs/api.md#amend)."""
        body = replace_body(request.data)
        order = order_replace(user=request.user, actor=Actor.for_user(request.user, "api"), order_id=int(pk),
                              quantity=body.get("quantity"), limit_price=body.get("limit_price"))
        return Response(s.OrderSerializer(order).data)


# One class, an instance per field: a serializer bound under two field names keeps only the last.
_AuditCheckpoint = type(inline_serializer("AuditCheckpoint", {
    "id": serializers.IntegerField(), "seq": serializers.IntegerField(), "head_hash": serializers.CharField(),
    "event_count": serializers.IntegerField(),
    "high_water": serializers.IntegerField(help_text="The highest audit seq ever handed out when it was signed"),
    "created_at": serializers.DateTimeField(),
}))


@extend_schema_view(list=extend_schema(
    summary="Audit events (compliance only); the search as a file with ?format=csv|xlsx",
    parameters=EXPORT_PARAMETERS,
    responses=export_responses(s.AuditEventSerializer(many=True), extra={400: OpenApiResponse(s.ErrorSerializer, description=(
        "`validation_error` (a filter or `format`) or `audit.xlsx_too_large` (more events than EXPORT_XLSX_MAX_ROWS: "
        "use ?format=csv or narrow the search)"))}),
))
class AuditEventViewSet(ExportMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail (compliance only), newest first; ``?format=csv|xlsx`` exports the whole search, each
    event with its chain position (seq) and hashes (a CSV streams; an XLSX holds at most EXPORT_XLSX_MAX_ROWS)."""

    serializer_class = s.AuditEventSerializer
    permission_classes = [HasRole, CanReadAudit]
    filterset_class = AuditEventFilter
    export_actions = frozenset({"list"})
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return selectors.audit_event_list()

    def list(self, request, *args, **kwargs):
        fmt = self.export_format()
        if not fmt:
            return super().list(request, *args, **kwargs)
        events = self.filter_queryset(self.get_queryset())
        if fmt == exports.XLSX and events[settings.EXPORT_XLSX_MAX_ROWS:settings.EXPORT_XLSX_MAX_ROWS + 1].exists():
            raise DomainError(AuditErrorCode.XLSX_TOO_LARGE, f"More than {settings.EXPORT_XLSX_MAX_ROWS:,} events: export CSV "
                              "(?format=csv) or narrow the search (period, event, object)", field=FORMAT_PARAM)
        rows = events.iterator(chunk_size=exports.CSV_CHUNK_ROWS) if fmt == exports.CSV else events
        search = self.filterset_class(request.query_params, queryset=self.get_queryset(), request=request)
        search.is_valid()  # filter_queryset above refused an invalid search
        cleaned = search.form.cleaned_data
        given = {k: request.query_params[k] for k in search.form.fields if request.query_params.get(k)}
        return self.export_file([audit_table(rows)], report="Audit trail", stem="audit-trail", stream=True, filters=given,
                                period=exports.instants(cleaned.get("since"), cleaned.get("until")))

    @extend_schema(responses={200: inline_serializer("AuditVerify", {
        "ok": serializers.BooleanField(), "checked": serializers.IntegerField(),
        "broken_seq": serializers.IntegerField(allow_null=True),
        "code": serializers.CharField(help_text="Stable code of the primary problem, e.g. audit.tail_truncated; empty when ok"),
        "problem": serializers.CharField(), "head_seq": serializers.IntegerField(allow_null=True),
        "checkpoints": serializers.IntegerField(help_text="Validly signed checkpoints the chain was checked against"),
        "last_good_checkpoint": _AuditCheckpoint(allow_null=True), "checkpoint_written": _AuditCheckpoint(allow_null=True),
        "not_signed": serializers.CharField(help_text="Why this run wrote no checkpoint (a run that finds any problem signs nothing); empty when it wrote one"),
        "problems": inline_serializer("AuditProblem", {
            "code": serializers.CharField(), "seq": serializers.IntegerField(allow_null=True), "detail": serializers.CharField(),
        }, many=True),
        "problem_count": serializers.IntegerField(),
        "orphans": inline_serializer("AuditOrphans", {
            "object_type": serializers.CharField(), "count": serializers.IntegerField(), "ids": serializers.ListField(child=serializers.CharField()),
        }, many=True),
        "tree_size": serializers.IntegerField(help_text="Events sealed in the Merkle tree"),
        "tree_heads": serializers.IntegerField(help_text="Signed tree heads checked"),
        "latest_head": inline_serializer("AuditTreeHead", {
            "tree_size": serializers.IntegerField(), "root_hash": serializers.CharField(), "timestamp": serializers.IntegerField(),
            "key_id": serializers.CharField(), "signature": serializers.CharField(),
        }, allow_null=True),
        "unsealed": serializers.IntegerField(help_text="Events not sealed yet (a problem, audit.event_unsealed, past AUDIT_SEAL_BOUND_S)"),
    })})
    @action(detail=False, methods=["get"])
    def verify(self, request):
        """Verify the hash chain against every signed checkpoint and cross-check creation events.

        A run that finds no problem anchors the head in a new checkpoint (when the head has moved); one that
        finds any signs nothing, and ``not_signed`` says why.
        """
        return Response(audit_verify().as_dict(), status=status.HTTP_200_OK)

    @extend_schema(
        summary="An event's inclusion proof and the signed tree head, as a file to check offline (compliance only)",
        parameters=[OpenApiParameter("from_size", int, description=(
            "Also prove that the latest head extends the signed head of this many events (an older head you kept)"))],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description=(
                "The proof bundle (`python -m oms.audit_proof verify FILE` checks it, docs/audit.md), as an attachment "
                "`audit-proof-<id>-<tree size>.json`")),
            400: OpenApiResponse(s.ErrorSerializer, description="`validation_error`: `from_size` is not a whole number naming a signed head"),
            404: OpenApiResponse(s.ErrorSerializer, description="`audit.event_not_found`"),
            409: OpenApiResponse(s.ErrorSerializer, description=(
                "`audit.not_sealed` (the sealer has not reached the event yet: retry within AUDIT_SEAL_BOUND_S) or "
                "`audit.proof_unavailable` (a stored subtree is gone: run the verification)")),
        },
    )
    @action(detail=True, methods=["get"])
    def proof(self, request, pk=None):
        """Download an event's proof bundle: the event, its leaf index, the latest signed head, the inclusion path and
        the public keys; with ``from_size`` also the head of that size and the consistency proof."""
        raw = request.query_params.get("from_size")
        from_size = None if raw is None else whole_number(raw)
        if raw is not None and from_size is None:
            raise ValidationFailed({"from_size": [{"code": FieldErrorCode.INVALID, "detail": "from_size must be a whole number (a signed head's tree size)"}]})
        proof = selectors.audit_proof(event_id=int(pk), from_size=from_size)
        response = Response(proof.bundle)
        response["Content-Disposition"] = f'attachment; filename="audit-proof-{proof.event_id}-{proof.tree_size}.json"'
        return response

    @extend_schema(summary="The signed tree heads of the audit log, newest first, with the public keys (compliance only)",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=(
                       "Paginated: `count`, `next`, `previous`, `results` (each head: `tree_size`, `root_hash`, `timestamp` in ms, "
                       "`time`, `key_id`, `signature`), and `public_keys` (key id -> Ed25519 public key, hex)"))})
    @action(detail=False, methods=["get"], url_path="tree-heads")
    def tree_heads(self, request):
        """The signed tree heads, newest first, and the public keys that check them."""
        page = self.paginate_queryset(selectors.audit_tree_head_list())
        response = self.get_paginated_response(selectors.audit_tree_head_rows(page))
        response.data["public_keys"] = public_keys_hex()
        return response


