from django.urls import path
from rest_framework.routers import DefaultRouter

from oms.api import views

router = DefaultRouter(trailing_slash=True)
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("portfolios", views.PortfolioViewSet, basename="portfolio")
router.register("orders", views.OrderViewSet, basename="order")
router.register("audit", views.AuditEventViewSet, basename="audit")

urlpatterns = [path("auth/token/", views.TokenApi.as_view(), name="api-token"), *router.urls]
