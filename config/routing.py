from django.urls import path, re_path

from ems.consumers import DeskConsumer, MarketDataConsumer
from oms.consumers import BlotterConsumer
from rfq.consumers import RfqConsumer

websocket_urlpatterns = [
    path("ws/blotter/", BlotterConsumer.as_asgi()),
    path("ws/market/<str:symbol>/", MarketDataConsumer.as_asgi()),
    path("ws/desk/", DeskConsumer.as_asgi()),
    re_path(r"^ws/parent/(?P<parent_id>[0-9]{1,18})/$", DeskConsumer.as_asgi()),
    re_path(r"^ws/rfq/(?P<rfq_id>[0-9]{1,18})/$", RfqConsumer.as_asgi()),
]
