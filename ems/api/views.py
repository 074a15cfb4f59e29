"""REST endpoints of the EMS (DESIGN.md §7): parent orders and trader controls, the kill switch, fills,
positions. Thin: parse, call one service or selector, serialize.

Roles: traders (and admins) see every parent and act on them; compliance reads everything and changes
nothing; a PM or an API client reads the parents, fills, allocations and positions of their own
portfolios only, and may not act on a parent (403 ``permission.trader_only``).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ems import selectors
from ems.api import serializers as s
from ems.api.filters import FillFilter, ParentOrderFilter, PositionFilter
from ems.api.permissions import IsTraderForWrites
from ems.services import control
from oms.api.constants import ID_REGEX
from oms.api.permissions import HasRole
from oms.api.serializers import ErrorSerializer
from oms.api.validation import validated_body
from oms.roles import Actor

_CONTROL_RESPONSES = {
    200: s.ParentOrderSerializer,
    403: OpenApiResponse(ErrorSerializer, description="`permission.trader_only` / `permission.read_only`: only a trader acts on parents"),
    404: OpenApiResponse(ErrorSerializer, description="`not_found`: no such parent among those you may see"),
    409: OpenApiResponse(ErrorSerializer, description="`parent_order.not_open` or `parent_control.illegal_transition`"),
}


@extend_schema_view(
    list=extend_schema(summary="Parent orders you may see, newest first", responses={200: s.ParentOrderSerializer(many=True)}),
    retrieve=extend_schema(summary="One parent: constituents, children, fills, strategy and reason, progress vs schedule",
                           responses={200: s.ParentOrderDetailSerializer}),
)
class ParentOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Parent orders (meta-orders worked by an algorithm) and the trader's controls over them."""

    permission_classes = [HasRole, IsTraderForWrites]
    filterset_class = ParentOrderFilter
    lookup_value_regex = ID_REGEX
    parser_classes = [JSONParser]

    def get_queryset(self):
        return selectors.parent_list(user=self.request.user)

    def get_serializer_class(self):
        return s.ParentOrderDetailSerializer if self.action == "retrieve" else s.ParentOrderSerializer

    def _control(self, fn, pk, **kwargs):
        parent = self.get_object()  # 404 unless visible
        actor = Actor.for_user(self.request.user, "api")
        fn(parent_id=parent.id, actor=actor, **kwargs)  # an illegal control move: 409 (oms.api.errors)
        parent = selectors.parent_list(user=self.request.user).get(pk=parent.pk)
        return Response(s.ParentOrderSerializer(parent).data)

    @extend_schema(request=None, responses=_CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause the algorithm: its open child orders are cancelled and it sends nothing until resumed."""
        return self._control(control.parent_pause, pk)

    @extend_schema(request=None, responses=_CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume a paused or halted parent (its schedule is re-planned for what is left)."""
        return self._control(control.parent_resume, pk)

    @extend_schema(request=None, responses=_CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel what is not filled: open children are cancelled, the constituents keep their fills."""
        return self._control(control.parent_cancel, pk)

    @extend_schema(request=s.StrategyChangeInputSerializer, responses={
        **_CONTROL_RESPONSES, 400: OpenApiResponse(ErrorSerializer, description="`validation_error`: unknown strategy or urgency"),
    })
    @action(detail=True, methods=["post"])
    def strategy(self, request, pk=None):
        """Change the algorithm or its aggressiveness (urgency); the rest is re-planned from now."""
        data = validated_body(s.StrategyChangeInputSerializer, request)
        return self._control(control.parent_strategy_change, pk, strategy=data["strategy"], urgency=data.get("urgency"))


class KillSwitchApi(APIView):
    """POST: cancel every open child order and halt the algorithms in scope, and deny new orders in scope
    (``risk.kill_switch``) until a trader lifts it; halted parents stay halted until a trader resumes
    them. Traders only. GET: the kill switches engaged now (every role)."""

    permission_classes = [HasRole, IsTraderForWrites]
    parser_classes = [JSONParser]

    @extend_schema(responses={200: s.KillSwitchListSerializer})
    def get(self, request):
        return Response(s.KillSwitchListSerializer({"engaged": selectors.kill_switches_engaged()}).data)

    @extend_schema(request=s.KillSwitchInputSerializer, responses={
        200: s.KillSwitchResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description="`validation_error`, `kill_switch.bad_scope`, or `kill_switch.unknown_target` "
                             "(no such portfolio or instrument; `field` names it; nothing halted)"),
        403: OpenApiResponse(ErrorSerializer, description="`permission.trader_only` / `permission.read_only`"),
    })
    def post(self, request):
        data = validated_body(s.KillSwitchInputSerializer, request)
        result = control.kill_switch(scope=data["scope"], portfolio=data.get("portfolio"), instrument=data.get("instrument"),
                                     actor=Actor.for_user(request.user, "api"))
        return Response(kill_result(result))


class KillSwitchLiftApi(APIView):
    """Lift the kill switch engaged on a scope (same body as engaging it): new orders in scope are accepted
    again. Audited (``kill_switch.lifted``); halted parents stay halted until resumed. Traders only."""

    permission_classes = [HasRole, IsTraderForWrites]
    parser_classes = [JSONParser]

    @extend_schema(request=s.KillSwitchInputSerializer, responses={
        200: s.KillSwitchStateSerializer,
        400: OpenApiResponse(ErrorSerializer, description="`validation_error`, `kill_switch.bad_scope`, or `kill_switch.unknown_target`"),
        403: OpenApiResponse(ErrorSerializer, description="`permission.trader_only` / `permission.read_only`"),
        409: OpenApiResponse(ErrorSerializer, description="`kill_switch.not_engaged`: no kill switch is engaged on that scope"),
    })
    def post(self, request):
        data = validated_body(s.KillSwitchInputSerializer, request)
        switch = control.kill_switch_lift(scope=data["scope"], portfolio=data.get("portfolio"), instrument=data.get("instrument"),
                                          actor=Actor.for_user(request.user, "api"))
        return Response(s.KillSwitchStateSerializer(switch).data)


def kill_result(result: control.KillResult) -> dict:
    """The kill switch's answer: its scope, the parents in scope and what it did to them."""
    return {
        "scope": result.scope,  # the target as stored: a symbol matches in any case (``msft`` halts MSFT)
        "portfolio": result.target if result.scope == "portfolio" else None,
        "instrument": result.target if result.scope == "instrument" else None,
        "parent_ids": sorted(result.parent_ids), "parents_halted": result.parents_halted,
        "children_cancelled": result.children_cancelled,
    }


@extend_schema_view(list=extend_schema(summary="Executions you may see, newest first", responses={200: s.FillWithAllocationsSerializer(many=True)}))
class FillViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Executions (fills) with their allocations to the orders you may see."""

    serializer_class = s.FillWithAllocationsSerializer
    permission_classes = [HasRole]
    filterset_class = FillFilter

    def get_queryset(self):
        return selectors.fill_list(user=self.request.user)


@extend_schema_view(list=extend_schema(summary="Positions per portfolio and instrument", responses={200: s.PositionSerializer(many=True)}))
class PositionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Positions from allocations: signed quantity, average cost, realised P&L (your portfolios only)."""

    serializer_class = s.PositionSerializer
    permission_classes = [HasRole]
    filterset_class = PositionFilter

    def get_queryset(self):
        return selectors.position_list(user=self.request.user)
