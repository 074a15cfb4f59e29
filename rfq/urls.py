"""Browser pages of the RFQ platform (see rfq/views.py). The parent page's form posts to
``/desk/parents/<id>/rfq/``, which lives here (not in ems/urls.py): ``ems`` never imports ``rfq``."""

from django.urls import path

from rfq import views

urlpatterns = [
    path("rfq/", views.rfq_index, name="rfq-list"),
    path("rfq/table/", views.rfq_index, {"partial": True}, name="rfq-list-table"),
    path("rfq/package/new/", views.package_new, name="rfq-package-new"),
    path("rfq/<int:rfq_id>/", views.rfq_detail, name="rfq-detail"),
    path("rfq/<int:rfq_id>/ladder/", views.rfq_detail, {"partial": True}, name="rfq-ladder"),
    path("rfq/<int:rfq_id>/accept/<int:quote_id>/", views.rfq_accept, name="rfq-accept"),
    path("desk/parents/<int:parent_id>/rfq/", views.parent_rfq, name="parent-rfq"),
    path("desk/parents/<int:parent_id>/rfqs/", views.parent_rfqs, name="parent-rfqs"),
]
