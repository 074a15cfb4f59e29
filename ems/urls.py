from django.urls import path, re_path

from ems import views

urlpatterns = [
    path("options/", views.options_index, name="options-index"),
    path("options/<str:symbol>/", views.option_chain, name="option-chain"),
    path("options/<str:symbol>/table/", views.option_chain, {"partial": True}, name="option-chain-table"),
    path("market/", views.market_index, name="market-index"),
    path("market/<str:symbol>/", views.market, name="market"),
    path("desk/execution/", views.execution_desk, name="execution-desk"),
    path("desk/execution/table/", views.execution_desk_table, name="execution-desk-table"),
    path("desk/execution/kill-switch/", views.kill_switch_view, name="kill-switch"),
    path("desk/execution/kill-switch/lift/", views.kill_switch_view, {"service": "kill_switch_lift"}, name="kill-switch-lift"),
    path("desk/parents/<int:parent_id>/", views.parent_detail, name="parent-detail"),
    path("desk/parents/<int:parent_id>/live/", views.parent_detail, {"partial": True}, name="parent-detail-live"),
    path("desk/parents/<int:parent_id>/chart/", views.parent_chart, name="parent-chart"),
    path("desk/parents/<int:parent_id>/strategy/", views.parent_strategy, name="parent-strategy"),
    re_path(r"^desk/parents/(?P<parent_id>[0-9]{1,18})/(?P<verb>pause|resume|cancel)/$", views.parent_control, name="parent-control"),
    path("positions/", views.positions, name="positions"),
    path("positions/table/", views.positions, {"partial": True}, name="positions-table"),
    path("orders/ticket/estimate/", views.ticket_estimate, name="ticket-estimate"),
]
