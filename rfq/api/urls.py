"""REST endpoints of the RFQ platform, under /api/ (config/urls.py)."""

from rest_framework.routers import DefaultRouter

from rfq.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False  # the OMS router serves /api/
router.register("rfqs", views.RfqViewSet, basename="rfq")
router.register("liquidity-providers", views.LiquidityProviderViewSet, basename="liquidity-provider")

urlpatterns = router.urls
