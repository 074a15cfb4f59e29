"""REST endpoints of the RFQ platform (DESIGN.md §7): request quotes for a parent, read the ladder, click a
quote, cancel, and the liquidity providers with their scorecards. Thin: parse, call one service or
selector, serialize.

Roles: traders (and admins) request, accept and cancel; compliance reads everything and changes nothing;
a PM or an API client neither reads nor acts (403 ``permission.desk_only`` on a read, ``permission.trader_only``
on a write): an RFQ is the desk's action on a whole parent, which may pool several portfolios' orders, so its
quantity, ladder sizes and execution are whole-parent figures; what came of it for a PM is in the fills
allocated to them (``/api/fills/``, the shared-parent rule of docs/security.md). The liquidity providers'
profiles and scorecards are for the desk too.

A last-look rejection is not an exception: ``quote_accept`` commits the rejected quote (and any next
quote it tried) and reports ``executed=False``; this view then answers 409 with the result's code,
after that commit, so the rejection is kept.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from ems import selectors as ems_selectors
from ems.api.permissions import IsTraderForWrites
from ems.error_codes import ParentOrderErrorCode
from oms import roles
from oms.api.constants import ID_REGEX
from oms.api.permissions import HasRole
from oms.api.serializers import ErrorSerializer
from oms.api.validation import ClosedBodySchema, validated_body
from oms.error_codes import PermissionErrorCode
from oms.errors import NotFound
from oms.roles import Actor
from rfq import scoring, selectors, services
from rfq.api import serializers as s
from rfq.api.filters import RfqFilter
from rfq.error_codes import RfqErrorCode
from rfq.models import LiquidityProvider


class IsTraderForRfqWrites(IsTraderForWrites):
    """Reads follow HasRole; requesting, accepting and cancelling are for traders (compliance included: 403)."""

    message = {"code": PermissionErrorCode.TRADER_ONLY, "detail": "Only a trader may request quotes, accept a quote or cancel an RFQ"}


class IsDeskForRfqReads(BasePermission):
    """Reading RFQs is the desk's (traders, compliance, admins): a PM or an API client reads their share of a
    parent as the fills allocated to them. Writes are left to ``IsTraderForRfqWrites`` (its code first)."""

    message = {"code": PermissionErrorCode.DESK_ONLY,
               "detail": "RFQs are the trading desk's: the fills allocated to your orders are in /api/fills/"}

    def has_permission(self, request, view):
        return request.method not in SAFE_METHODS or roles.role_of(request.user) in roles.DESK_WIDE


class IsDeskRole(BasePermission):
    """Traders, compliance and admins: the providers' profiles and scorecards are the desk's business."""

    message = {"code": PermissionErrorCode.DESK_ONLY, "detail": "Liquidity providers and their scorecards are for the trading desk"}

    def has_permission(self, request, view):
        return roles.role_of(request.user) in roles.DESK_WIDE



_WRITE_403 = OpenApiResponse(ErrorSerializer, description="`permission.trader_only`: only a trader requests quotes, accepts or cancels")
_RFQ_404 = OpenApiResponse(ErrorSerializer, description="`not_found`: no such RFQ among those you may see")


_READ_403 = OpenApiResponse(ErrorSerializer, description="`permission.desk_only`: RFQs are read by traders, compliance and admins")


@extend_schema_view(
    list=extend_schema(summary="RFQs, newest first (the desk's)", responses={200: s.RfqSerializer(many=True), 403: _READ_403}),
    retrieve=extend_schema(summary="One RFQ: the ladder of quotes (best first), the window, the providers asked, the execution",
                           responses={200: s.RfqDetailSerializer, 403: _READ_403, 404: _RFQ_404}),
)
class RfqViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Requests for quote: create for a parent, read the ladder, accept a quote, cancel."""

    permission_classes = [IsTraderForRfqWrites, HasRole, IsDeskForRfqReads]
    schema = ClosedBodySchema()
    filterset_class = RfqFilter
    lookup_value_regex = ID_REGEX
    parser_classes = [JSONParser]

    def get_queryset(self):
        qs = selectors.rfq_list(user=self.request.user).select_related("requested_by")
        if self.action != "list":
            qs = qs.select_related("executed_quote__provider")
        return qs

    def get_serializer_class(self):
        return s.RfqSerializer if self.action == "list" else s.RfqDetailSerializer

    def _detail(self, rfq_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        rfq = self.get_queryset().get(pk=rfq_id)
        return Response(s.RfqDetailSerializer(rfq, context={"request": self.request}).data, status=status_code)

    @extend_schema(
        summary="Request quotes for (part of) a working parent order, or for a multi-leg package (with `legs`)",
        description="With `parent`: quotes for (part of) that parent. With `legs` (1-4 `{instrument, side, ratio}`), `portfolio` and "
                    "`quantity` (packages): a package priced as one net price (what we pay per package; negative = we receive), "
                    "one intake order and parent per leg, executed all or nothing (docs/rfq.md, Multi-leg packages).",
        request=PolymorphicProxySerializer(component_name="RfqCreateRequest", resource_type_field_name=None,
                                           serializers=[s.RfqCreateInputSerializer, s.PackageCreateInputSerializer]),
        responses={
            201: s.RfqDetailSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`validation_error`, `rfq.bad_quantity`, `rfq.bad_direction`, "
                                                              "`rfq.threshold_required` or `rfq.bad_window`; a package: `rfq.no_legs`, "
                                                              "`rfq.too_many_legs`, `rfq.bad_legs`, `rfq.leg_unknown_instrument`, "
                                                              "`rfq.leg_bad_side`, `rfq.leg_bad_ratio`, `rfq.leg_expired`, `rfq.leg_duplicate` "
                                                              "(field `legs[i].<field>`)"),
            422: OpenApiResponse(ErrorSerializer, description="A package leg refused by pre-trade risk (its code, field `legs[i].<field>`)"),
            403: _WRITE_403,
            404: OpenApiResponse(ErrorSerializer, description="`parent_order.not_found`: no such parent order"),
            409: OpenApiResponse(ErrorSerializer, description="`rfq.quantity_unavailable` (more than the parent has free) or "
                                                              "`rfq.parent_not_working` (closed, halted or cancelling)"),
        },
    )
    def create(self, request):
        if isinstance(request.data, dict) and "legs" in request.data:
            return self._package_create(request)
        data = validated_body(s.RfqCreateInputSerializer, request, closed=True)
        if ems_selectors.parent_get(user=request.user, parent_id=data["parent"]) is None:
            raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {data['parent']}", field="parent")
        rfq = services.rfq_create(
            parent_id=data["parent"], actor=Actor.for_user(request.user, "api"), quantity=data.get("quantity"),
            direction=data.get("direction"), mode=data["mode"], execute_at=data["execute_at"], threshold_bps=data.get("threshold_bps"),
            threshold_price=data.get("threshold_price"), window_s=data.get("window_s"), providers=data.get("providers"),
            source="api", user=request.user,
        )
        return self._detail(rfq.pk, status_code=status.HTTP_201_CREATED)

    def _package_create(self, request):
        """A multi-leg package (``legs``): one order per leg through the intake, a parent each, one RFQ for the
        package (``rfq.services.packages``)."""
        data = validated_body(s.PackageCreateInputSerializer, request, closed=True)
        rfq = services.package_create(
            portfolio=data["portfolio"], legs=data["legs"], quantity=data["quantity"], actor=Actor.for_user(request.user, "api"),
            user=request.user, direction=data.get("direction"), mode=data["mode"], execute_at=data["execute_at"],
            threshold_bps=data.get("threshold_bps"), threshold_price=data.get("threshold_price"), window_s=data.get("window_s"),
            providers=data.get("providers"), source="api",
        )
        return self._detail(rfq.pk, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Execute against one quote (one click)",
        request=s.QuoteAcceptInputSerializer,
        responses={
            200: s.RfqDetailSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`validation_error`: quote_id missing or not a whole number"),
            403: _WRITE_403,
            404: OpenApiResponse(ErrorSerializer, description="`not_found` (no such RFQ) or `rfq.quote_not_found` (not one of this RFQ's quotes)"),
            409: OpenApiResponse(ErrorSerializer, description=(
                "Nothing was executed: `rfq.already_executed`, `rfq.not_open`, `rfq.window_closed`, `rfq.quote_expired`, "
                "`rfq.quote_through_limit`, `rfq.parent_not_working`; or `rfq.last_look_rejected` (the provider, and every "
                "next best quote within the request's threshold tried while the window was open, rejected on last look; "
                "`rejected` lists those quote ids. A request without a threshold tries no other quote: "
                "`next_best_quote_id` names the best one still live, for the trader to click, or is null)")),
        },
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        rfq = self.get_object()  # 404 unless visible
        data = validated_body(s.QuoteAcceptInputSerializer, request, closed=True)
        result = services.quote_accept(rfq_id=rfq.pk, quote_id=data["quote_id"], actor=Actor.for_user(request.user, "api"))
        if not result.executed:
            # The service committed the last-look rejection(s): an answer, not an exception, keeps them.
            body = {"code": result.code or RfqErrorCode.NOT_EXECUTED, "detail": result.detail, "rejected": list(result.rejected),
                    "next_best_quote_id": result.next_best.pk if result.next_best is not None else None}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return self._detail(rfq.pk)

    @extend_schema(
        summary="Cancel an open RFQ (its live quotes expire, the parent's reserved quantity is released)",
        request=s.RfqCancelInputSerializer,
        responses={200: s.RfqDetailSerializer, 403: _WRITE_403, 404: _RFQ_404,
                   409: OpenApiResponse(ErrorSerializer, description="`rfq.not_open`: already executed, expired, cancelled or rejected")},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        rfq = self.get_object()
        data = validated_body(s.RfqCancelInputSerializer, request, closed=True)
        services.rfq_cancel(rfq_id=rfq.pk, actor=Actor.for_user(request.user, "api"), reason=data["reason"])
        return self._detail(rfq.pk)


def scorecard_dict(stats: scoring.ScorecardStats) -> dict:
    """A provider's scorecard as the API shows it: the figures, their rates and the score they give."""
    score, reason = scoring.provider_score(stats)
    return {
        "requests": stats.requests, "responses": stats.responses, "response_rate": stats.response_rate,
        "quotes_accepted": stats.quotes_accepted, "hit_ratio": stats.hit_ratio, "mean_bps_from_mid": stats.mean_bps_from_mid,
        "markout_bps": stats.markout_bps, "executions": stats.executions, "score": score, "score_reason": reason,
    }


@extend_schema_view(list=extend_schema(
    summary="Liquidity providers with their scorecards (desk roles)",
    responses={200: s.LiquidityProviderSerializer(many=True),
               403: OpenApiResponse(ErrorSerializer, description="`permission.desk_only`: for traders, compliance and admins")},
))
class LiquidityProviderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The simulated market makers: their profiles and scorecards computed from history."""

    serializer_class = s.LiquidityProviderSerializer
    permission_classes = [HasRole, IsDeskRole]

    def get_queryset(self):
        return LiquidityProvider.objects.prefetch_related("instruments").order_by("code")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        cards = selectors.provider_scorecards(page)
        scorecards = {
            lp.pk: scorecard_dict(cards.get(lp.pk) or scoring.ScorecardStats(
                provider_id=lp.pk, code=lp.code, requests=0, responses=0, quotes_accepted=0, mean_bps_from_mid=None,
                markout_bps=None, executions=0))
            for lp in page
        }
        return self.get_paginated_response(s.LiquidityProviderSerializer(page, many=True, context={"scorecards": scorecards}).data)
