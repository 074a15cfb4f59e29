"""REST endpoints of transaction cost analysis, under /api/tca/ (config/urls.py; tca.api.views lists them)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from tca.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False  # the OMS router serves /api/
router.register("tca/parent-orders", views.ParentTCAViewSet, basename="tca-parent-order")
router.register("tca/what-ifs", views.WhatIfViewSet, basename="tca-what-if")
router.register("tca/fills", views.FillTCAViewSet, basename="tca-fill")
router.register("tca/executions/imports", views.ImportSetViewSet, basename="tca-import-set")
router.register("tca/reconciliation", views.ReconciliationViewSet, basename="tca-reconciliation")

urlpatterns = [
    path("tca/summary/", views.SummaryApi.as_view(), name="api-tca-summary"),
    path("tca/best-execution/", views.BestExecutionApi.as_view(), name="api-tca-best-execution"),
    path("tca/executions/import/", views.ImportApi.as_view(), name="api-tca-import"),
    *router.urls,
]
