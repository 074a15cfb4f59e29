"""Browser pages of the OMS (see ``oms.views``)."""

from django.urls import path

from oms import views

urlpatterns = [
    path("", views.desk, name="blotter"),
    path("blotter/table/", views.blotter_table, name="blotter-table"),
    path("orders/ticket/", views.order_ticket, name="order-ticket"),
    path("orders/ticket/prices/", views.ticket_prices, name="ticket-prices"),
    path("orders/<int:order_id>/", views.order_detail, name="order-detail"),
    path("orders/<int:order_id>/live/", views.order_detail, {"partial": True}, name="order-detail-live"),
    path("orders/<int:order_id>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("orders/<int:order_id>/replace/", views.order_replace_view, name="order-replace"),
    path("audit/", views.audit_search, name="audit"),
    path("audit/verify/", views.audit_verify_view, name="audit-verify"),
]
