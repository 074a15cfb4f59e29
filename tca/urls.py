"""Browser pages of TCA (see tca/views.py); the REST API and its exports live under /api/tca/ (tca/api/)."""

from django.urls import path

from tca import views

urlpatterns = [
    path("tca/", views.summary, name="tca-summary"),
    path("tca/parents/<int:parent_id>/", views.parent_report, name="tca-parent"),
    path("tca/parents/<int:parent_id>/what-if/", views.what_if, name="tca-what-if"),
    path("tca/best-execution/", views.best_execution, name="tca-best-execution"),
    path("tca/imports/", views.imports, name="tca-imports"),
    path("tca/imports/<int:set_id>/", views.import_detail, name="tca-import"),
]
