from django.urls import path

from ems.consumers import MarketDataConsumer
from oms.consumers import BlotterConsumer

websocket_urlpatterns = [
    path("ws/blotter/", BlotterConsumer.as_asgi()),
    path("ws/market/<str:symbol>/", MarketDataConsumer.as_asgi()),
]
