"""A bare DRF endpoint for ``bench/intake.py``'s baseline, served only by the bench's own server.

``POST /bench/bare/`` takes the order JSON a client sends to ``/api/orders/`` and does what any DRF POST
does and nothing more: the product's token authentication, permission and throttles (the project's DRF
defaults), JSON parsing, a small serializer over the body, 201 with a small JSON. Intake's figure divided
by this one is the share of a plain DRF request that order intake (risk, idempotency, audit, push) keeps.

The bench starts its server with ``DJANGO_SETTINGS_MODULE=bench.bare_settings``: the product's settings
with this module as the URL conf. The product's own URLs never include it. ``GET /bench/groups/`` answers the
group-commit figures (``intake_group.stats``) of the server process that takes the request.
"""

from __future__ import annotations

import os
from dataclasses import asdict

from django.urls import path
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401  (the product's error pages)
from config.urls import urlpatterns as product_urlpatterns
from oms.services.intake_group import intake_group

BARE_URL = "/bench/bare/"
GROUPS_URL = "/bench/groups/"


class BareOrderSerializer(serializers.Serializer):
    client_order_id = serializers.CharField(max_length=64)
    portfolio = serializers.CharField()
    instrument = serializers.CharField()
    side = serializers.ChoiceField(["buy", "sell"])
    quantity = serializers.IntegerField(min_value=1)
    order_type = serializers.ChoiceField(["market", "limit"])
    limit_price = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, allow_null=True)
    time_in_force = serializers.CharField(required=False)
    urgency = serializers.CharField(required=False)
    strategy = serializers.CharField(required=False)


class BareOrderApi(APIView):
    """Validate the body, answer 201: the cost of a DRF token-auth POST without the business behind it."""

    parser_classes = [JSONParser]

    def post(self, request):
        body = BareOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response({"client_order_id": body.validated_data["client_order_id"], "status": "received"}, status=201)


class GroupStatsApi(APIView):
    """This process's group-commit figures, with its pid (each server process keeps its own)."""

    def get(self, request):
        return Response({"pid": os.getpid(), **asdict(intake_group.stats)})


urlpatterns = [
    path(BARE_URL.lstrip("/"), BareOrderApi.as_view()),
    path(GROUPS_URL.lstrip("/"), GroupStatsApi.as_view()),
    *product_urlpatterns,
]

