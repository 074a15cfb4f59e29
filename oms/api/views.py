"""REST endpoints of the OMS (DESIGN.md §7). Thin: parse, call one service or selector, serialize."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from oms import roles, selectors
from oms.api import serializers as s
from oms.api.filters import AuditEventFilter, OrderFilter
from oms.api.permissions import CanReadAudit, HasRole
from oms.errors import DomainError, ValidationFailed
from oms.roles import Actor
from oms.services import audit_verify, order_cancel, order_submit, orders_submit

MAX_BULK = 5000


class TokenApi(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}), 400: s.ErrorSerializer},
    )
    def post(self, request):
        username, password = request.data.get("username"), request.data.get("password")
        if not username or not password:
            raise ValidationFailed({"username" if not username else "password": [{"code": "required", "detail": "username and password are required"}]})
        user = authenticate(request, username=username, password=password)
        if user is None or not user.is_active:
            raise DomainError("auth.invalid_credentials", "Unable to log in with these credentials", status=400)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    """Instruments a client may trade, with their reference figures."""

    serializer_class = s.InstrumentSerializer
    permission_classes = [HasRole]
    lookup_field = "symbol"
    filterset_fields = ["symbol", "currency"]

    def get_queryset(self):
        return selectors.instrument_list()


class PortfolioViewSet(viewsets.ReadOnlyModelViewSet):
    """Portfolios this user or client may trade (traders: all; compliance: all, read-only)."""

    serializer_class = s.PortfolioSerializer
    permission_classes = [HasRole]
    lookup_field = "code"

    def get_queryset(self):
        return roles.visible_portfolios(self.request.user).order_by("code")


def _result_response(result) -> Response:
    if result.error is not None:
        body = result.error.as_dict()
        if result.order is not None:
            body["order"] = s.OrderSerializer(result.order).data
        return Response(body, status=result.http_status)
    return Response(s.OrderSerializer(result.order).data, status=result.http_status)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders: submit (single and bulk, idempotent on client_order_id), list, detail, cancel."""

    permission_classes = [HasRole]
    filterset_class = OrderFilter

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
        responses={207: inline_serializer("BulkResult", {"results": s.BulkItemResultSerializer(many=True)})},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Submit a list of orders (up to 5000); each item is answered on its own (207 Multi-Status)."""
        items = request.data.get("orders") if isinstance(request.data, dict) else request.data
        if not isinstance(items, list) or not items:
            raise ValidationFailed({"orders": [{"code": "invalid", "detail": "Send a non-empty JSON list of orders"}]})
        if len(items) > MAX_BULK:
            raise ValidationFailed({"orders": [{"code": "too_many", "detail": f"At most {MAX_BULK} orders per request"}]})
        results = orders_submit(user=request.user, actor=Actor.for_user(request.user, "api"), items=items)
        out = []
        for r in results:
            row = {
                "index": r.index, "status": r.http_status,
                "id": r.order.id if r.order else None,
                "client_order_id": r.order.client_order_id if r.order else (items[r.index].get("client_order_id") if isinstance(items[r.index], dict) else None),
                "order_status": r.order.status if r.order else None,
            }
            if r.error is not None:
                row.update(r.error.as_dict())
            out.append(row)
        return Response({"results": out}, status=207)

    @extend_schema(request=None, responses={200: s.OrderSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel what is not yet filled."""
        order = order_cancel(user=request.user, actor=Actor.for_user(request.user, "api"), order_id=int(pk))
        return Response(s.OrderSerializer(order).data)


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail (compliance only), newest first."""

    serializer_class = s.AuditEventSerializer
    permission_classes = [HasRole, CanReadAudit]
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return selectors.audit_event_list()

    @extend_schema(responses={200: inline_serializer("AuditVerify", {
        "ok": serializers.BooleanField(), "checked": serializers.IntegerField(),
        "broken_seq": serializers.IntegerField(allow_null=True), "problem": serializers.CharField(),
    })})
    @action(detail=False, methods=["get"])
    def verify(self, request):
        """Recompute the hash chain: OK, or the first broken link."""
        return Response(audit_verify().as_dict(), status=status.HTTP_200_OK)


