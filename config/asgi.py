"""ASGI entry point: HTTP through Django behind ``config.body_limits`` (every body bounded in size and shape
before Django reads it), websockets through Channels (session-authenticated, and only from the site's own
origins: ``config.ws_origin``). Served by uvicorn (``config.server``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (Django must be set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.body_limits import BodyLimits  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from config.ws_origin import SiteOriginValidator  # noqa: E402
from oms.client_gone import ClientGoneMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimits(ClientGoneMiddleware(django_asgi_app)),  # bounded first; a long view can see its client leave
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
