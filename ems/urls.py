from django.urls import path

from ems import views

urlpatterns = [
    path("market/", views.market_index, name="market-index"),
    path("market/<str:symbol>/", views.market, name="market"),
]
