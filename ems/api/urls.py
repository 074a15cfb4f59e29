from django.urls import path
from rest_framework.routers import DefaultRouter

from ems.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False  # the OMS router serves /api/
router.register("parent-orders", views.ParentOrderViewSet, basename="parent-order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")

urlpatterns = [
    path("kill-switch/", views.KillSwitchApi.as_view(), name="api-kill-switch"),
    path("kill-switch/lift/", views.KillSwitchLiftApi.as_view(), name="api-kill-switch-lift"),
    *router.urls,
]
